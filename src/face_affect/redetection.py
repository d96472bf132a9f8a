"""Detection that spends less because tracks carry information.

A full-frame pass of the detector costs about 9 ms per VGA frame. Where faces are
already tracked, :class:`TrackingDetector` runs it at most every ``detection_interval``
seconds and, in the frames between, looks again only around each track's predicted box
(the region grown by ``redetection_margin`` on each side, resized to
:data:`REGION_WIDTH`), which costs a fraction of a full pass per face. New faces are
found at the next full pass, so ``detection_interval`` is also the longest a newcomer
waits to be seen.
"""

from __future__ import annotations

import numpy as np

from face_affect.detectors import FaceDetector
from face_affect.frames import check_frame, resize_frame
from face_affect.geometry import box_iou
from face_affect.settings import Settings
from face_affect.tracking import FaceTracker, Track, TrackerParameters
from face_affect.types import FaceBox

REGION_WIDTH = 160
"""Width in pixels that a re-detection region is resized to: a face fills about half of it (80 px, 36 px in
BlazeFace's input at scale 0.45, well above the 16 it needs). 192 cost 0.02 cores more at 30 Hz."""
DUPLICATE_IOU = 0.5
"""Re-detected boxes overlapping more than this are one face found from two regions."""


class TrackingDetector:
    """A detector and a :class:`FaceTracker`: frames in, tracks out."""

    def __init__(
        self, detector: FaceDetector, tracker: FaceTracker, detection_interval: float, redetection_margin: float
    ) -> None:
        self.detector = detector
        self.tracker = tracker
        self.detection_interval = detection_interval
        self.redetection_margin = redetection_margin
        self.last_full_detection: float | None = None
        self.full_detections = 0
        self.redetections = 0

    @classmethod
    def from_settings(cls, detector: FaceDetector, settings: Settings) -> TrackingDetector:
        tracker = FaceTracker(TrackerParameters.from_settings(settings))
        return cls(detector, tracker, settings.detection_interval, settings.redetection_margin)

    def full_pass_due(self, timestamp: float) -> bool:
        """Also on the schedule while nobody is tracked: an empty room then costs a fraction of a pass
        per frame, and a newcomer waits at most ``detection_interval`` to be seen."""
        last = self.last_full_detection
        return last is None or timestamp < last or timestamp - last >= self.detection_interval

    def update(self, frame: np.ndarray, timestamp: float) -> list[Track]:
        """The tracks after this frame (``check_frame`` rules; ``FrameError`` otherwise)."""
        check_frame(frame)
        if self.full_pass_due(timestamp):
            boxes = self.detector.detect(frame)
            self.last_full_detection = timestamp
            self.full_detections += 1
        else:
            boxes = self.redetect(frame, [box for _, box in self.tracker.predicted_boxes(timestamp)])
            self.redetections += 1
        return self.tracker.update(boxes, timestamp, (frame.shape[1], frame.shape[0]))

    def redetect(self, frame: np.ndarray, predicted: list[FaceBox]) -> list[FaceBox]:
        """Faces found in the regions around ``predicted`` boxes, in frame pixels, one per region at most."""
        found: list[FaceBox] = []
        height, width = frame.shape[:2]
        for box in predicted:
            grow_x, grow_y = self.redetection_margin * box.width, self.redetection_margin * box.height
            x0, y0 = max(0, round(box.x - grow_x)), max(0, round(box.y - grow_y))
            x1, y1 = min(width, round(box.x + box.width + grow_x)), min(height, round(box.y + box.height + grow_y))
            if x1 - x0 < 8 or y1 - y0 < 8:
                continue
            scale = REGION_WIDTH / (x1 - x0)
            size = (REGION_WIDTH, max(8, round((y1 - y0) * scale)))
            region = resize_frame(np.ascontiguousarray(frame[y0:y1, x0:x1]), *size)
            candidates = [
                FaceBox(
                    x0 + round(face.x / scale),
                    y0 + round(face.y / scale),
                    max(1, round(face.width / scale)),
                    max(1, round(face.height / scale)),
                    face.score,
                    tuple(round((x0, y0)[index % 2] + value / scale, 1) for index, value in enumerate(face.keypoints)),
                )
                for face in self.detector.detect(region)
            ]
            if candidates:
                found.append(max(candidates, key=lambda face: (box_iou(face, box), face.score)))
        unique: list[FaceBox] = []
        for face in sorted(found, key=lambda face: -face.score):
            if all(box_iou(face, kept) <= DUPLICATE_IOU for kept in unique):
                unique.append(face)
        return unique
