"""Training augmentation on the CPU: the paper's random affine warps, and camera effects.

The paper's recipe: rotation within +-10 degrees, shifts of up to 10 %, zoom of up to
10 % and horizontal flips, applied to a whole batch at once with one ``grid_sample``
call (per-image OpenCV warps would cost more than the network on 2 cores). The camera
effects (:class:`CameraEffects`) are cheap per-crop OpenCV operations on 48-64 px crops:
what real cameras show and the data sets lack, the scene first (a face looking down, up or
turned; a hat, a scarf or a hand over it), then the optics and the sensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
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
    pose_probability: float = 0.0
    """Share of crops warped as a face looking down or up, or turned left or right (:func:`pose_warped`)."""
    pose_shrink: tuple[float, float] = (0.1, 0.35)
    """How much shorter the far edge of the face's plane appears than the near one, as a share of the near one."""
    occluder_probability: float = 0.0
    """Share of crops with a hat, a scarf or a hand over the face (:func:`occluded`)."""
    hat_depth: tuple[float, float] = (0.12, 0.32)
    """Share of the crop's height that a hat's dark band covers from the top."""
    scarf_depth: tuple[float, float] = (0.2, 0.42)
    """Share of the crop's height that a scarf covers from the bottom."""
    hand_size: tuple[float, float] = (0.25, 0.5)
    """A hand's ellipse: its half-axes as shares of the crop's size."""


POSES = ("down", "up", "left", "right")
"""Where the face looks in :func:`pose_warped`; the edge of the crop on that side recedes, the opposite one
comes nearer (looking down, the forehead comes nearer and the chin recedes; turned left, towards the
image's left, the face's image-left side recedes and its image-right side comes nearer)."""
OCCLUDERS = ("hat", "scarf", "hand")


def pose_warped(image: np.ndarray, pose: str, shrink: float) -> np.ndarray:
    """A grey crop of a face looking down, up, left or right: a homography of the face's plane under
    which its far edge appears ``1 - shrink`` times as long as its near one, so the near half of the
    face is stretched and the far half compressed, as under a camera's perspective.

    The far edge keeps its place and the near one grows past the crop (its ends are cut off), so
    the crop stays covered by the face's own pixels: shortening the far edge instead would leave
    corners that only replicated edges could fill, streaks that no camera shows mid-frame.
    """
    height, width = image.shape
    right, bottom = width - 1.0, height - 1.0
    corners = np.float32([[0, 0], [right, 0], [right, bottom], [0, bottom]])  # clockwise from the top left
    near_edge = {"down": (0, 1), "up": (3, 2), "left": (1, 2), "right": (0, 3)}[pose]  # (start, end) of the edge
    axis = 0 if pose in ("down", "up") else 1  # the near edge runs along x (pitch) or y (yaw)
    growth = (right if axis == 0 else bottom) * (1 / (1 - shrink) - 1) / 2
    moved = corners.copy()
    moved[near_edge[0], axis] -= growth
    moved[near_edge[1], axis] += growth
    matrix = cv2.getPerspectiveTransform(corners, moved)
    return cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def occluded(image: np.ndarray, occluder: str, effects: CameraEffects, rng: np.random.Generator) -> np.ndarray:
    """A grey crop with a hat (a dark band over the top, its brim tilted), a scarf (a band of any
    tone over the lower face, its edge tilted) or a hand (an ellipse in the face's own grey tone)."""
    output = image.copy()
    height, width = image.shape
    if occluder in ("hat", "scarf"):
        depth = rng.uniform(*(effects.hat_depth if occluder == "hat" else effects.scarf_depth)) * height
        tilt = rng.uniform(-0.08, 0.08) * height
        edge = [depth - tilt, depth + tilt] if occluder == "hat" else [height - depth - tilt, height - depth + tilt]
        side = 0 if occluder == "hat" else height
        polygon = np.array([[0, side], [width, side], [width, edge[1]], [0, edge[0]]])
        tone = rng.uniform(10, 70) if occluder == "hat" else rng.uniform(20, 220)
        cv2.fillPoly(output, [np.rint(polygon).astype(np.int32)], int(tone), lineType=cv2.LINE_AA)
        return output
    centre = (int(rng.uniform(0.2, 0.8) * width), int(rng.uniform(0.35, 0.95) * height))
    axes = tuple(int(round(rng.uniform(*effects.hand_size) * size / 2)) for size in (width, height))
    face = image[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4]
    tone = float(np.median(face)) * rng.uniform(0.85, 1.15)
    cv2.ellipse(output, centre, axes, float(rng.uniform(0, 180)), 0, 360, int(np.clip(tone, 0, 255)), -1, cv2.LINE_AA)
    return output


def random_camera_effects(images: np.ndarray, effects: CameraEffects, rng: np.random.Generator) -> np.ndarray:
    """Grey uint8 crops ``[N, H, W]`` with random poses and occluders, then photometric effects, blur,
    resolution loss, JPEG and erasing. Only the effects with a probability above zero draw from ``rng``."""
    if max(effects.probability, effects.pose_probability, effects.occluder_probability) <= 0:
        return images
    output = images.copy()
    count = len(images)
    if effects.pose_probability > 0:
        for index in np.flatnonzero(rng.random(count) < effects.pose_probability):
            pose = POSES[rng.integers(len(POSES))]
            output[index] = pose_warped(output[index], pose, float(rng.uniform(*effects.pose_shrink)))
    if effects.occluder_probability > 0:
        for index in np.flatnonzero(rng.random(count) < effects.occluder_probability):
            output[index] = occluded(output[index], OCCLUDERS[rng.integers(len(OCCLUDERS))], effects, rng)
    if effects.probability > 0:
        camera_effects(output, effects, rng)
    return output


def camera_effects(output: np.ndarray, effects: CameraEffects, rng: np.random.Generator) -> None:
    """The optics and the sensor of :func:`random_camera_effects`, in place."""
    count, height, width = output.shape

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
