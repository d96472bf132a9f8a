"""Guided back-propagation maps of a classifier for face crops, and their images.

The paper (Arriaga et al., 2017, Sec. 5 and Fig. 8) uses guided back-propagation
to see which pixels drive a class score, which is how biases such as "glasses
read as angry" show up. The maps come from the classifier's own ONNX file
(:mod:`face_affect.guided_backprop_graph`), so they explain exactly the model
that produced the labels, and cost one onnxruntime run per batch of faces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import onnx
import onnxruntime

from face_affect.classifier import ModelError, OnnxClassifier
from face_affect.guided_backprop_graph import (
    CLASSES_INPUT,
    EXPLAINED_OUTPUT,
    GRADIENT_OUTPUT,
    PROBABILITIES_OUTPUT,
    UnsupportedGraphError,
    guided_backpropagation_model,
)
from face_affect.preprocessing import to_model_input

PREDICTED = -1
"""Class index meaning "the class the model predicts for this face"."""
HEATMAP_PERCENTILE = 99.0
"""Gradient magnitudes above this percentile of a map saturate its heatmap, so one
extreme pixel does not leave the rest of the map black."""


@dataclass
class SaliencyMaps:
    """Guided gradients ``float32 [N, H, W]`` of one class score per face, w.r.t. raw pixels."""

    gradients: np.ndarray
    classes: np.ndarray
    probabilities: np.ndarray
    labels: tuple[str, ...]

    @property
    def class_names(self) -> list[str]:
        return [self.labels[index] for index in self.classes]


class GuidedBackpropagation:
    """Guided back-propagation for the faces a classifier sees, on its own onnxruntime session."""

    def __init__(self, classifier: OnnxClassifier, threads: int = 1) -> None:
        self.classifier = classifier
        try:
            model = guided_backpropagation_model(onnx.load(str(classifier.path)))
        except UnsupportedGraphError as error:
            raise ModelError(f"{classifier.path}: no guided back-propagation ({error})") from error
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )

    @property
    def task(self) -> str:
        return self.classifier.task

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def explain(self, grey_crops: list[np.ndarray], classes: Sequence[int | str] | None = None) -> SaliencyMaps:
        """Maps for grey crops of any size (made at the classifier's ``crop_margin``).

        ``classes``: one class per face, as index or label; ``None`` explains the
        predicted class of every face.
        """
        batch = to_model_input(grey_crops, self.classifier.input_width, self.classifier.input_height)
        return self.explain_batch(batch, classes)

    def explain_batch(self, batch: np.ndarray, classes: Sequence[int | str] | None = None) -> SaliencyMaps:
        """Maps for an already-sized ``float32 [N, 1, H, W]`` batch of raw pixels."""
        indices = self.class_indices(classes, len(batch))
        if not len(batch):
            height, width = self.classifier.input_height, self.classifier.input_width
            return SaliencyMaps(
                np.zeros((0, height, width), np.float32), indices, np.zeros((0, len(self.labels))), self.labels
            )
        gradients, probabilities, explained = self.session.run(
            [GRADIENT_OUTPUT, PROBABILITIES_OUTPUT, EXPLAINED_OUTPUT],
            {self.classifier.input_name: batch, CLASSES_INPUT: indices},
        )
        return SaliencyMaps(gradients[:, 0], explained, probabilities, self.labels)

    def class_indices(self, classes: Sequence[int | str] | None, count: int) -> np.ndarray:
        if classes is None:
            return np.full(count, PREDICTED, dtype=np.int64)
        if len(classes) != count:
            raise ValueError(f"{len(classes)} classes for {count} faces")
        indices = [self.labels.index(name) if isinstance(name, str) else int(name) for name in classes]
        if any(index >= len(self.labels) for index in indices):
            raise ValueError(f"class index out of range for {len(self.labels)} labels: {indices}")
        return np.array(indices, dtype=np.int64)


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
