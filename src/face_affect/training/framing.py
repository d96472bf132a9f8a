"""Where the detector puts its box on training images: the crop margins a model stores.

FER-2013 and UTKFace images are already face crops, each framed its own way. Run
the detector over them (padded with replicated edges and upscaled, so the face is
not at the border and large enough for Haar), and the median offset of each image
side from the detector box, as a fraction of the box size, is the margin that makes
a run-time crop look like a training image.

A model file's ``crop_margin`` is the framing it was trained in: :func:`model_faces` shows a data
set's faces to one task of a file (single-task or a head of a multi-head file) in that framing and
at its input size, as the benches and ``evaluate-heads`` measure it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from face_affect.classifiers import OnnxClassifier
from face_affect.corruptions import warp
from face_affect.detectors.haar import HaarFaceDetector
from face_affect.training.datasets import LabelledSplits
from face_affect.types import FaceBox, Margins

UPSCALED_SIZE = 192
FRAMING_SAMPLE = 500
"""Images of a training archive the detector measures its framing on: the median settles long before."""
FRAMING_TOLERANCE = 0.02
"""Margins that differ by less on every side (about a pixel at 64 px) are the same framing."""
LOGGER = logging.getLogger(__name__)


@dataclass
class DetectedFaces:
    """The largest detected box per image in that image's own pixels (None where none was found)."""

    boxes: list[FaceBox | None]

    @property
    def detection_rate(self) -> float:
        return sum(box is not None for box in self.boxes) / max(len(self.boxes), 1)


def detect_in_crops(images: np.ndarray, detector: HaarFaceDetector | None = None) -> DetectedFaces:
    """Runs the detector on each grey training image ``[N, H, W]``."""
    detector = detector or HaarFaceDetector(min_face_size=UPSCALED_SIZE // 4, detection_width=0)
    boxes: list[FaceBox | None] = []
    for image in images:
        size = image.shape[0]
        padding = size // 2
        scale = UPSCALED_SIZE / size
        padded = cv2.copyMakeBorder(image, padding, padding, padding, padding, cv2.BORDER_REPLICATE)
        upscaled = cv2.resize(padded, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        faces = detector.detect(upscaled)
        if not faces:
            boxes.append(None)
            continue
        face = max(faces, key=lambda found: found.width * found.height)
        boxes.append(
            FaceBox(
                x=round(face.x / scale - padding),
                y=round(face.y / scale - padding),
                width=max(1, round(face.width / scale)),
                height=max(1, round(face.height / scale)),
                score=face.score,
            )
        )
    return DetectedFaces(boxes)


def framing_margins(images: np.ndarray, detected: DetectedFaces) -> Margins:
    """Median (left, top, right, bottom) margins that turn a detector box into the image frame."""
    sides = []
    for image, box in zip(images, detected.boxes):
        if box is None:
            continue
        height, width = image.shape[:2]
        sides.append(
            (
                box.x / box.width,
                box.y / box.height,
                (width - box.x - box.width) / box.width,
                (height - box.y - box.height) / box.height,
            )
        )
    if not sides:
        raise ValueError("the detector found no face in any image; cannot measure the framing")
    left, top, right, bottom = (round(float(value), 3) for value in np.median(np.array(sides), axis=0))
    return (left, top, right, bottom)


def reframed(images: np.ndarray, source: Margins, target: Margins) -> np.ndarray:
    """Grey images ``[N, H, W]`` framed by ``source`` margins, moved into the ``target`` framing.

    Both are margins around the detector box (:func:`framing_margins`). Each image is scaled and
    shifted so that its box lands where a ``target`` image has it; where the target frame reaches
    past the source image, its edges are replicated, as :func:`face_affect.cropping.crop_face`
    does at the edge of a camera frame.
    """
    height, width = images.shape[1:3]
    source_left, source_top, source_right, source_bottom = source
    target_left, target_top, target_right, target_bottom = target
    scale_x = (1 + source_left + source_right) / (1 + target_left + target_right)
    scale_y = (1 + source_top + source_bottom) / (1 + target_top + target_bottom)
    # Pixel x of the box's left edge is left * box_width in either frame; same for y.
    shift_x = target_left * width / (1 + target_left + target_right) - scale_x * source_left * width / (
        1 + source_left + source_right
    )
    shift_y = target_top * height / (1 + target_top + target_bottom) - scale_y * source_top * height / (
        1 + source_top + source_bottom
    )
    matrix = np.array([[scale_x, 0.0, shift_x], [0.0, scale_y, shift_y]])
    return np.stack([warp(image, matrix) for image in images])


def placed_in_framing(images: np.ndarray, target: Margins, seed: int = 0) -> np.ndarray:
    """``images`` in the ``target`` framing: measured on a sample by the detector, and moved by
    :func:`reframed` where that framing differs (LFW's tight crops); returned as they are where not
    (UTKFace's extra chips, which are framed like its splits)."""
    sample = np.random.default_rng(seed).permutation(len(images))[:FRAMING_SAMPLE]
    source = framing_margins(images[sample], detect_in_crops(images[sample]))
    moved = not same_framing(source, target)
    LOGGER.info("framing %s, target %s: %s", source, target, "reframed" if moved else "kept")
    return reframed(images, source, target) if moved else images


def same_framing(first: Margins, second: Margins) -> bool:
    """Whether two framings differ by less than :data:`FRAMING_TOLERANCE` on every side."""
    return max(abs(one - other) for one, other in zip(first, second)) <= FRAMING_TOLERANCE


def resized(images: np.ndarray, width: int, height: int) -> np.ndarray:
    """Grey ``[N, H, W]`` images at ``width`` x ``height`` (area interpolation when shrinking)."""
    if images.shape[1:] == (height, width):
        return images
    interpolation = cv2.INTER_AREA if images.shape[2] > width else cv2.INTER_LINEAR
    return np.stack([cv2.resize(image, (width, height), interpolation=interpolation) for image in images])


def in_framing(
    data: LabelledSplits,
    target: Margins,
    width: int,
    height: int,
    splits: Sequence[str] = ("val", "test"),
    source: Margins | None = None,
) -> LabelledSplits:
    """``data``'s ``splits`` in the ``target`` framing at ``width`` x ``height``, with their labels, votes and
    extra columns (the other splits left out).

    ``source`` is the data set's framing; None: measured by the detector on its whole validation split,
    one measurement for every split. Images are moved (:func:`reframed`) only where the two framings
    differ (:func:`same_framing`), so a data set shown to a model trained in its own framing is
    shown as it is.
    """
    if source is None:
        source = framing_margins(data.images["val"], detect_in_crops(data.images["val"]))
    moved = not same_framing(source, target)
    LOGGER.info("framing %s, target %s: %s", source, target, "reframed" if moved else "kept")
    images = {
        split: resized(reframed(data.images[split], source, target) if moved else data.images[split], width, height)
        for split in splits
    }
    return LabelledSplits(
        data.class_names,
        images,
        {split: data.labels[split] for split in splits},
        {split: data.extra[split] for split in splits if split in data.extra},
        {split: data.votes[split] for split in splits if split in data.votes},
    )


def model_faces(
    model: str | Path,
    task: str,
    data: LabelledSplits,
    splits: Sequence[str] = ("val", "test"),
    source: Margins | None = None,
) -> tuple[OnnxClassifier, LabelledSplits]:
    """The ``task`` classifier of ``model`` (a single-task file, or that head of a multi-head file), and
    ``data``'s ``splits`` in its framing and at its input size (:func:`in_framing`): a multi-head file
    is trained with every source in one framing (``face_affect.training.heads``), so FER-2013's faces
    must be moved into it before it sees them."""
    classifier = OnnxClassifier(model, task=task)
    faces = in_framing(data, classifier.crop_margin, classifier.input_width, classifier.input_height, splits, source)
    return classifier, faces
