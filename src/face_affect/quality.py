"""How much one view of a face can tell: the weight of a frame in a person's smoothed estimate.

A profile, a blurred, a dark or a tiny view is where the models guess; a few good frontal frames
should outweigh many such ones. :func:`view_quality` multiplies, each in 0..1:

- **size**: faces narrower than ``full_weight_face_width`` count in proportion;
- **detector score**: a BlazeFace score below 1 (Haar's level weights are not probabilities: 1);
- **frontalness** (:func:`frontalness`), from BlazeFace's six keypoints: the nose's offset from the
  middle of the eyes along the eye line, in half eye distances, is 0 facing the camera and 1 or
  more in profile; up to 0.3 counts fully, then less, down to the minimum at 1; a tilted head
  (roll beyond 15 degrees) counts less too, down to 0.3 at 45 degrees. Haar gives no keypoints:
  weight 1;
- **sharpness** (:func:`sharpness`): the variance of the Laplacian of the crop at 48 px, with its
  contrast normalised. UTKFace validation faces: median 0.32, 10th percentile 0.17; blurred by
  1 px (at 48 px) 0.05, by 2 px 0.01;
- **exposure**: the crop's grey-level standard deviation. The same faces: median 49, 10th
  percentile 33; dimmed to a fifth with sensor noise, 10.

The reference points were read off those distributions (``bench/smoothing.py`` measures what the
weighting buys on clips whose views turn poor); ``view_weighting: false`` keeps size and score only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from face_affect.settings import DEFAULTS
from face_affect.types import FaceBox

KEYPOINT_NAMES = ("right eye", "left eye", "nose tip", "mouth", "right ear", "left ear")
"""BlazeFace's keypoints in order (the person's right and left): ``FaceBox.keypoints`` holds x, y of each."""
MINIMUM_WEIGHT = 0.02
"""No view counts for nothing: a person seen only badly still gets a (weak, tempered) estimate."""
SHARP_REFERENCE = 0.15
"""Sharpness from which a view counts fully (about the 10th percentile of clean faces)."""
SHARPNESS_SIZE = 48
CONTRAST_LOW, CONTRAST_FULL = 4.0, 24.0
"""Grey-level standard deviations: a crop this flat counts least, from this one fully."""
YAW_FULL_RATIO = 0.3
"""Nose offsets up to this count fully: BlazeFace puts the nose of frontal faces in the bundled photos at
0.08-0.30 half eye distances off the middle."""
ROLL_FULL_DEGREES, ROLL_LEAST_DEGREES, ROLL_LEAST_WEIGHT = 15.0, 45.0, 0.3


def pose(keypoints: Sequence[float]) -> tuple[float, float] | None:
    """``(yaw_ratio, roll_degrees)`` from BlazeFace's keypoints, ``None`` without them (or with the eyes on
    one point). ``yaw_ratio`` is the nose's offset from the eyes' midpoint along the eye line, in half
    eye distances: 0 facing the camera, 1 or more in profile."""
    if len(keypoints) < 6:
        return None
    right_eye, left_eye, nose = (np.array(keypoints[index : index + 2], np.float64) for index in (0, 2, 4))
    eye_line = left_eye - right_eye
    half_distance = float(np.hypot(*eye_line)) / 2
    if half_distance < 1e-6:
        return None
    direction = eye_line / (2 * half_distance)
    offset = float(np.dot(nose - (right_eye + left_eye) / 2, direction))
    roll = math.degrees(math.atan2(direction[1], direction[0]))
    return abs(offset) / half_distance, roll


def frontalness(keypoints: Sequence[float]) -> float:
    """0..1: 1 facing the camera upright, down to :data:`MINIMUM_WEIGHT` in profile; 1 without keypoints."""
    estimated = pose(keypoints)
    if estimated is None:
        return 1.0
    yaw_ratio, roll = estimated
    yaw_weight = min(1.0, max(MINIMUM_WEIGHT, 1.0 - (yaw_ratio - YAW_FULL_RATIO) / (1.0 - YAW_FULL_RATIO)))
    excess = (abs(roll) - ROLL_FULL_DEGREES) / (ROLL_LEAST_DEGREES - ROLL_FULL_DEGREES)
    roll_weight = 1.0 - (1.0 - ROLL_LEAST_WEIGHT) * min(1.0, max(0.0, excess))
    return yaw_weight * roll_weight


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop resized to 48 px, its contrast normalised (blur lowers it)."""
    small = cv2.resize(crop, (SHARPNESS_SIZE, SHARPNESS_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
    normalised = (small - small.mean()) / (small.std() + 1e-3)
    return float(cv2.Laplacian(normalised, cv2.CV_32F).var())


def crop_weight(crop: np.ndarray) -> float:
    """Sharpness times exposure, each 0..1."""
    sharp = min(1.0, sharpness(crop) / SHARP_REFERENCE)
    contrast = float(crop.std())
    exposed = min(1.0, max(0.0, (contrast - CONTRAST_LOW) / (CONTRAST_FULL - CONTRAST_LOW)))
    return sharp * exposed


def size_and_score_weight(box: FaceBox, full_weight_width: int = DEFAULTS.full_weight_face_width) -> float:
    """0.05..1: smaller faces and weaker detections count less. Scores above 1 (Haar's level weights)
    are not probabilities and are ignored."""
    size = min(1.0, max(0.05, box.width / max(full_weight_width, 1)))
    score = min(1.0, max(0.2, box.score)) if 0.0 < box.score <= 1.0 else 1.0
    return size * score


def view_quality(
    box: FaceBox,
    crop: np.ndarray | None = None,
    full_weight_width: int = DEFAULTS.full_weight_face_width,
    weigh_view: bool = DEFAULTS.view_weighting,
) -> float:
    """How much a frame's estimate of this face counts (see the module's docstring); ``crop`` is the grey
    face crop, if there is one."""
    quality = size_and_score_weight(box, full_weight_width)
    if weigh_view:
        quality *= frontalness(box.keypoints)
        if crop is not None and crop.size:
            quality *= crop_weight(crop)
    return max(MINIMUM_WEIGHT, quality)
