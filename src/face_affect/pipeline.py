"""Frame in, faces with their attributes out: detection, cropping and every classifier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from face_affect.classifiers import FaceClassifiers, OnnxClassifier
from face_affect.cropping import crop_face
from face_affect.detectors import FaceDetector, create_detector
from face_affect.errors import FrameError
from face_affect.frames import check_frame, to_grey
from face_affect.settings import Settings, as_settings
from face_affect.types import FaceBox, FaceResult

__all__ = ["FaceAffectPipeline", "FaceClassifiers", "FaceResult", "FrameError"]


class FaceAffectPipeline(FaceClassifiers):
    """Detection, cropping and every classifier."""

    def __init__(self, detector: FaceDetector, classifiers: Sequence[OnnxClassifier]) -> None:
        super().__init__(classifiers)
        self.detector = detector

    @classmethod
    def from_settings(cls, settings: Settings | dict[str, Any] | None = None) -> FaceAffectPipeline:
        """As :meth:`FaceClassifiers.from_settings`, plus the detector the settings choose."""
        settings = as_settings(settings)
        classifiers = FaceClassifiers.from_settings(settings)
        return cls(create_detector(settings), list(classifiers.classifiers.values()))

    @property
    def model_files(self) -> list[str]:
        return [str(self.detector.model_path), *super().model_files]

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """The faces in a frame, left to right, boxes inside it (see :meth:`process` for what a frame is)."""
        return self.detector.detect(check_frame(image))

    def face_crops(self, image: np.ndarray, boxes: Sequence[FaceBox]) -> list[np.ndarray]:
        """Grey crops of the faces at ``boxes`` at :attr:`crop_margin`: what :meth:`classify_crops` takes
        and what the detector node sends."""
        grey = to_grey(image)
        return [crop_face(grey, box, self.crop_margin) for box in boxes]

    def classify(self, image: np.ndarray, boxes: Sequence[FaceBox]) -> list[FaceResult]:
        """Classifies the faces at ``boxes`` in a frame (see :meth:`process`)."""
        return self.classify_crops(self.face_crops(image, boxes), boxes, self.crop_margin)

    def process(self, image: np.ndarray) -> list[FaceResult]:
        """Every face in a frame with its attributes (gender, emotion, ...), left to right.

        A frame is a ``uint8`` numpy array of at least 1x1 pixels: ``H x W`` grey, or
        ``H x W x C`` with 1 (grey), 3 (BGR, as ``cv2.imread`` gives) or 4 (BGRA)
        channels, in any memory layout (slices, negative strides). A frame too small
        to hold a face gives ``[]``. Anything else (``None``, another dtype, another
        number of dimensions or channels, zero height or width) raises
        :class:`FrameError`, a ``ValueError`` whose message names the problem
        (``test/test_fuzzing.py`` holds both detectors to this).
        """
        return self.classify(image, self.detect(image))
