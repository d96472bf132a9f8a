"""Training augmentation on the CPU: the paper's random affine warps, and camera effects.

The paper's recipe: rotation within +-10 degrees, shifts of up to 10 %, zoom of up to
10 % and horizontal flips, applied to a whole batch at once with one ``grid_sample``
call (per-image OpenCV warps would cost more than the network on 2 cores). The camera
effects (:class:`CameraEffects`) are cheap per-crop OpenCV operations on 48-64 px crops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as functional

from face_affect import corruptions


@dataclass(frozen=True)
class AugmentationRanges:
    rotation_degrees: float = 10.0
    shift_fraction: float = 0.1
    zoom_fraction: float = 0.1
    horizontal_flip: bool = True


def random_affine(images: torch.Tensor, ranges: AugmentationRanges, generator: torch.Generator) -> torch.Tensor:
    """Warps float images ``[N, C, H, W]``; borders are filled by replicating edge pixels."""
    count = images.shape[0]

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(count, generator=generator) * 2 - 1) * limit

    angle = uniform(math.radians(ranges.rotation_degrees))
    scale = 1 + uniform(ranges.zoom_fraction)
    flip = torch.ones(count)
    if ranges.horizontal_flip:
        flip = torch.where(torch.rand(count, generator=generator) < 0.5, -1.0, 1.0)
    # affine_grid maps output coordinates in [-1, 1] to input coordinates.
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0] = cos * flip
    theta[:, 0, 1] = -sin
    theta[:, 1, 0] = sin * flip
    theta[:, 1, 1] = cos
    theta[:, 0, 2] = uniform(2 * ranges.shift_fraction)
    theta[:, 1, 2] = uniform(2 * ranges.shift_fraction)
    grid = functional.affine_grid(theta, list(images.shape), align_corners=False)
    return functional.grid_sample(images, grid, padding_mode="border", align_corners=False)


@dataclass(frozen=True)
class CameraEffects:
    """Random strengths of the camera effects in :mod:`face_affect.corruptions`, for training.

    Each effect is applied to a crop with probability ``probability``, at a strength drawn
    uniformly from its range; the ranges straddle the severities the robustness table
    reports, so the model sees milder and harsher versions than it is measured on.
    """

    probability: float = 0.0
    gain: tuple[float, float] = (0.15, 1.4)
    contrast: tuple[float, float] = (0.2, 1.0)
    gamma: tuple[float, float] = (0.6, 1.7)
    noise: tuple[float, float] = (0.0, 10.0)
    blur_sigma: tuple[float, float] = (0.5, 2.5)
    motion_length: tuple[int, int] = (3, 11)
    small_width: tuple[int, int] = (12, 36)
    jpeg_quality: tuple[int, int] = (8, 60)
    erase_area: tuple[float, float] = (0.08, 0.35)


def random_camera_effects(images: np.ndarray, effects: CameraEffects, rng: np.random.Generator) -> np.ndarray:
    """Grey uint8 crops ``[N, H, W]`` with random photometric effects, blur, resolution loss, JPEG and erasing."""
    if effects.probability <= 0:
        return images
    output = images.copy()
    count, height, width = images.shape

    def chosen() -> np.ndarray:
        return np.flatnonzero(rng.random(count) < effects.probability)

    picked = chosen()
    if picked.size:  # exposure and gamma: a dark or bright camera
        values = output[picked].astype(np.float32) / 255.0
        gamma = rng.uniform(*effects.gamma, (picked.size, 1, 1))
        gain = rng.uniform(*effects.gain, (picked.size, 1, 1))
        output[picked] = np.clip(np.rint(255.0 * gain * values**gamma), 0, 255).astype(np.uint8)
    picked = chosen()
    if picked.size:
        output[picked] = corruptions.low_contrast(output[picked], rng, float(rng.uniform(*effects.contrast)))
    for index in chosen():
        kind = rng.integers(3)
        crop = output[index : index + 1]
        if kind == 0:
            crop = corruptions.gaussian_blur(crop, rng, float(rng.uniform(*effects.blur_sigma)) * width / 48)
        elif kind == 1:
            crop = corruptions.motion_blur(crop, rng, int(rng.integers(*effects.motion_length)) | 1)
        else:
            crop = corruptions.small_face(crop, rng, int(rng.integers(*effects.small_width)))
        output[index] = crop[0]
    picked = chosen()
    if picked.size:  # sensor noise after the optics
        noise = rng.normal(0.0, 1.0, (picked.size, height, width)) * rng.uniform(*effects.noise, (picked.size, 1, 1))
        output[picked] = np.clip(output[picked] + noise, 0, 255).astype(np.uint8)
    for index in chosen():
        quality = int(rng.integers(*effects.jpeg_quality))
        output[index] = corruptions.jpeg(output[index : index + 1], rng, quality)[0]
    for index in chosen():  # random erasing: a hand, a microphone, a scarf
        area = rng.uniform(*effects.erase_area) * height * width
        aspect = np.exp(rng.uniform(np.log(0.4), np.log(2.5)))
        patch_height = int(min(height, max(2, round(np.sqrt(area / aspect)))))
        patch_width = int(min(width, max(2, round(np.sqrt(area * aspect)))))
        top = int(rng.integers(0, height - patch_height + 1))
        left = int(rng.integers(0, width - patch_width + 1))
        output[index, top : top + patch_height, left : left + patch_width] = rng.integers(0, 256)
    return output
