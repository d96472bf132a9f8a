"""The paper's detector: OpenCV's frontal-face Haar cascade (``detector: haar``)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from face_affect.detectors.registry import register_detector
from face_affect.errors import ModelError
from face_affect.frames import to_grey
from face_affect.settings import DEFAULTS, Settings
from face_affect.types import FaceBox

HAAR_DIRECTORIES = (
    Path("/usr/share/opencv4/haarcascades"),
    Path(cv2.__file__).parent / "data",
)
HAAR_FRONTAL_FACE = "haarcascade_frontalface_default.xml"


def find_haar_cascade(name: str = HAAR_FRONTAL_FACE) -> Path:
    for directory in HAAR_DIRECTORIES:
        if (directory / name).is_file():
            return directory / name
    searched = ", ".join(str(directory) for directory in HAAR_DIRECTORIES)
    raise ModelError(f"Haar cascade {name} not found in {searched} (apt-get install opencv-data)")


class HaarFaceDetector:
    """The paper's detector: OpenCV's frontal-face Haar cascade.

    Frames wider than ``detection_width`` are downscaled before detection (Haar's
    cost grows with the pixel count) and the boxes are scaled back to source pixels.
    ``min_face_size`` is in source pixels.
    """

    def __init__(
        self,
        scale_factor: float = DEFAULTS.haar_scale_factor,
        min_neighbors: int = DEFAULTS.haar_min_neighbors,
        min_face_size: int = DEFAULTS.min_face_size,
        detection_width: int = DEFAULTS.detection_width,
        cascade_path: str | Path | None = None,
    ) -> None:
        path = Path(cascade_path) if cascade_path else find_haar_cascade()
        self.model_path = path
        try:
            self.cascade = cv2.CascadeClassifier(str(path))
        except (cv2.error, SystemError) as error:  # OpenCV 4.6 raises SystemError for non-XML files
            raise ModelError(f"{path}: not a readable Haar cascade ({error})") from error
        if self.cascade.empty():
            raise ModelError(f"{path}: not a readable Haar cascade")
        if scale_factor <= 1.0:
            raise ValueError(f"scale_factor must be > 1, got {scale_factor}")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face_size = min_face_size
        self.detection_width = detection_width

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in a frame (``check_frame``), left to right; ``FrameError`` (from ``to_grey``) for anything else."""
        grey = to_grey(image)
        height, width = grey.shape
        scale = 1.0
        if self.detection_width > 0 and width > self.detection_width:
            scale = self.detection_width / width
            grey = cv2.resize(grey, (self.detection_width, max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        min_size = max(1, round(self.min_face_size * scale))
        boxes, _, weights = self.cascade.detectMultiScale3(
            grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(min_size, min_size),
            outputRejectLevels=True,
        )
        faces = []
        for (x, y, w, h), weight in zip(np.reshape(boxes, (-1, 4)).tolist(), np.ravel(weights).tolist()):
            # Corners scaled back (not the size), so rounding cannot push a box past the frame's edge.
            x0, y0 = round(x / scale), round(y / scale)
            x1, y1 = min(width, round((x + w) / scale)), min(height, round((y + h) / scale))
            faces.append(FaceBox(x=x0, y=y0, width=x1 - x0, height=y1 - y0, score=float(weight)))
        return sorted(faces, key=lambda face: (face.x, face.y))

    @staticmethod
    def confidence(score: float) -> float:
        """The logistic of the last stage's level weight: 0.5 at 0, 0.95 at 3 (faces in the bundled
        photos weigh 3-11, false detections near 0)."""
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, score))))


def haar_from_settings(settings: Settings) -> HaarFaceDetector:
    return HaarFaceDetector(
        scale_factor=settings.haar_scale_factor,
        min_neighbors=settings.haar_min_neighbors,
        min_face_size=settings.min_face_size,
        detection_width=settings.detection_width,
    )


register_detector("haar", haar_from_settings)
