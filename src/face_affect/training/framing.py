"""Where the detector puts its box on training images: the crop margins a model stores.

FER-2013 and UTKFace images are already face crops, each framed its own way. Run
the detector over them (padded with replicated edges and upscaled, so the face is
not at the border and large enough for Haar), and the median offset of each image
side from the detector box, as a fraction of the box size, is the margin that makes
a run-time crop look like a training image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from face_affect.detectors.haar import HaarFaceDetector
from face_affect.types import FaceBox, Margins

UPSCALED_SIZE = 192


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
