"""People in video: tracking, classification on a schedule and smoothed estimates, for the CLI and benchmarks.

The ROS graph splits the same steps over its two nodes: the detector runs the
:class:`~face_affect.redetection.TrackingDetector`, the classifier the
:class:`~face_affect.smoothing.PersonEstimates`.
"""

from __future__ import annotations

import numpy as np

from face_affect.pipeline import FaceAffectPipeline
from face_affect.redetection import TrackingDetector
from face_affect.settings import Settings, as_settings
from face_affect.smoothing import PersonEstimates
from face_affect.types import FaceResult


class VideoPipeline:
    """Frames with timestamps in, one :class:`FaceResult` per confirmed track out.

    Each result's ``attributes`` are the person's smoothed estimates and
    ``frame_attributes`` the last per-frame ones (from this frame, unless the track
    was steady and not re-classified, or coasting through a missed detection).
    """

    def __init__(self, pipeline: FaceAffectPipeline, settings: Settings) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.detection = TrackingDetector.from_settings(pipeline.detector, settings)
        labels = {task: classifier.labels for task, classifier in pipeline.classifiers.items()}
        self.estimates = PersonEstimates(labels, settings)
        self.classified_faces = 0

    @classmethod
    def from_settings(cls, settings: Settings | dict | None = None) -> VideoPipeline:
        settings = as_settings(settings)
        return cls(FaceAffectPipeline.from_settings(settings), settings)

    def process(self, frame: np.ndarray, timestamp: float) -> list[FaceResult]:
        """The confirmed tracks after ``frame`` at ``timestamp`` (seconds, any clock that does not go back;
        going back starts the tracks afresh)."""
        tracks = self.detection.update(frame, timestamp)
        self.estimates.keep_only(track.track_id for track in tracks)
        due = self.estimates.due(tracks, timestamp)
        if due:
            boxes = [track.box for track in due]
            crops = self.pipeline.face_crops(frame, boxes)
            probabilities = self.pipeline.probabilities(crops, boxes, self.pipeline.crop_margin)
            self.estimates.add_batch(due, probabilities, timestamp, crops)
            self.classified_faces += len(due)
        return [self.estimates.result(track) for track in tracks if track.confirmed]
