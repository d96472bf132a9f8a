"""Images of guided back-propagation maps: a heatmap, the signed rendering of the paper, an overlay, a panel."""

from __future__ import annotations

import cv2
import numpy as np

HEATMAP_PERCENTILE = 99.0
"""Gradient magnitudes above this percentile of a map saturate its heatmap, so one
extreme pixel does not leave the rest of the map black."""


def heatmap_image(gradient: np.ndarray) -> np.ndarray:
    """``uint8`` map of gradient magnitude, 255 at the map's :data:`HEATMAP_PERCENTILE`."""
    magnitude = np.abs(gradient)
    scale = float(np.percentile(magnitude, HEATMAP_PERCENTILE))
    if scale <= 0.0:
        scale = float(magnitude.max())
    if scale <= 0.0:
        return np.zeros(gradient.shape, dtype=np.uint8)
    return np.clip(magnitude * (255.0 / scale), 0, 255).astype(np.uint8)


def guided_image(gradient: np.ndarray) -> np.ndarray:
    """The signed rendering of Springenberg et al. and the paper's Fig. 8: mid-grey is zero,
    0.1 standard deviations per quarter of the range."""
    centred = (gradient - gradient.mean()) / (gradient.std() + 1e-5)
    return np.clip((centred * 0.1 + 0.5) * 255.0, 0, 255).astype(np.uint8)


def overlay(face: np.ndarray, heatmap: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """The heatmap in colour (jet) over a grey or BGR face crop, at the crop's size."""
    face_bgr = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR) if face.ndim == 2 else face
    resized = cv2.resize(heatmap, (face_bgr.shape[1], face_bgr.shape[0]), interpolation=cv2.INTER_LINEAR)
    coloured = cv2.applyColorMap(resized, cv2.COLORMAP_JET)
    return cv2.addWeighted(face_bgr, 1.0 - opacity, coloured, opacity, 0.0)


def face_panel(face: np.ndarray, gradient: np.ndarray, height: int = 144) -> np.ndarray:
    """One face as BGR ``[face | guided map | overlay]``, each ``height`` pixels square."""
    size = (height, height)
    face_resized = cv2.resize(face, size, interpolation=cv2.INTER_AREA if face.shape[0] > height else cv2.INTER_LINEAR)
    panels = [
        cv2.cvtColor(face_resized, cv2.COLOR_GRAY2BGR),
        cv2.cvtColor(cv2.resize(guided_image(gradient), size, interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR),
        overlay(face_resized, heatmap_image(gradient)),
    ]
    return np.hstack(panels)
