"""Face detection behind one small interface, so detectors can be swapped.

Every detector returns :class:`FaceBox` objects in source-image pixels with a
top-left origin, whatever resolution it ran at internally.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from face_affect.config import resolve_package_path
from face_affect.preprocessing import to_grey

HAAR_DIRECTORIES = (
    Path("/usr/share/opencv4/haarcascades"),
    Path(cv2.__file__).parent / "data",
)
HAAR_FRONTAL_FACE = "haarcascade_frontalface_default.xml"


@dataclass(frozen=True)
class FaceBox:
    """A detected face: top-left corner and size in source pixels, and a detector score."""

    x: int
    y: int
    width: int
    height: int
    score: float = 1.0

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.width, self.height]


class FaceDetector(Protocol):
    model_path: Path  # the cascade or network file, for diagnostics

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in a grey, BGR or BGRA uint8 frame, inside it; ``FrameError`` for anything else.

        See :func:`face_affect.preprocessing.check_frame`.
        """
        ...


def find_haar_cascade(name: str = HAAR_FRONTAL_FACE) -> Path:
    for directory in HAAR_DIRECTORIES:
        if (directory / name).is_file():
            return directory / name
    searched = ", ".join(str(directory) for directory in HAAR_DIRECTORIES)
    raise FileNotFoundError(f"Haar cascade {name} not found in {searched} (apt-get install opencv-data)")


class HaarFaceDetector:
    """The paper's detector: OpenCV's frontal-face Haar cascade.

    Frames wider than ``detection_width`` are downscaled before detection (Haar's
    cost grows with the pixel count) and the boxes are scaled back to source pixels.
    ``min_face_size`` is in source pixels.
    """

    def __init__(
        self,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_face_size: int = 40,
        detection_width: int = 640,
        cascade_path: str | Path | None = None,
    ) -> None:
        path = Path(cascade_path) if cascade_path else find_haar_cascade()
        self.model_path = path
        try:
            self.cascade = cv2.CascadeClassifier(str(path))
        except (cv2.error, SystemError) as error:  # OpenCV 4.6 raises SystemError for non-XML files
            raise ValueError(f"{path}: not a readable Haar cascade ({error})") from error
        if self.cascade.empty():
            raise ValueError(f"{path}: not a readable Haar cascade")
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


def create_detector(config: dict) -> FaceDetector:
    """The detector named by ``config["detector"]`` with its parameters from ``config``."""
    name = config.get("detector", "blazeface")
    if name == "blazeface":
        from face_affect.blazeface import BlazeFaceDetector  # imported here: it imports FaceBox from this module

        model = config.get("blazeface_model") or None
        return BlazeFaceDetector(
            model_path=resolve_package_path(model) if model else None,
            score_threshold=float(config.get("blazeface_score_threshold", 0.5)),
            nms_iou=float(config.get("blazeface_nms_iou", 0.3)),
            input_scale=float(config.get("blazeface_input_scale", 0.45)),
            threads=int(config.get("onnx_threads", 1)),
            detection_width=int(config.get("detection_width", 640)),
        )
    if name == "haar":
        return HaarFaceDetector(
            scale_factor=float(config.get("haar_scale_factor", 1.1)),
            min_neighbors=int(config.get("haar_min_neighbors", 5)),
            min_face_size=int(config.get("min_face_size", 40)),
            detection_width=int(config.get("detection_width", 640)),
        )
    raise ValueError(f"unknown detector {name!r}; available: blazeface, haar")
