"""The detector node's work on a frame: camera image in, tracked faces with grey crops out.

The detector owns tracking: it has the frames, which re-detection around predicted boxes
needs (``detection_interval``), and it is the one place that sees every frame, so ids
stay the same whatever subscribes downstream. The crops (not the frame) travel on: they are
what the classifier needs, and a few small grey images cost far less to send than a full
colour frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from face_affect.errors import FrameError
from face_affect.image_messages import ImageError
from face_affect.node_core.diagnostics import DiagnosedWork
from face_affect.node_core.host import NodeHost, Output, WorkerErrorLog, describe_counts
from face_affect.node_core.latest import LatestMessageWorker
from face_affect.node_core.messages import MessageKit, detection_array
from face_affect.node_core.stamps import StampError, StampLimits
from face_affect.node_core.throttle import ThrottledLog
from face_affect.pipeline import FaceAffectPipeline
from face_affect.redetection import TrackingDetector
from face_affect.settings import Settings


class DetectorCore:
    """Detects faces in the newest frame (:attr:`worker`) and publishes them on ``faces``.

    ``published(stamp)`` is called for each output (the adapter's diagnostics).
    """

    def __init__(self, settings: Settings, host: NodeHost, kit: MessageKit, faces: Output, input_topic: str) -> None:
        self.host = host
        self.kit = kit
        self.faces = faces
        self.input_topic = input_topic
        self.pipeline = FaceAffectPipeline.from_settings(settings)
        self.detection = TrackingDetector.from_settings(self.pipeline.detector, settings)
        self.stamp_limits = StampLimits.from_settings(settings)
        self.rejections = ThrottledLog(host.warn)
        self.publishing_faces = True  # until the first frame finds out
        self.published: Callable[[Any], None] = lambda stamp: None
        self.worker = LatestMessageWorker(self.process, WorkerErrorLog(host), name="detector")
        self.diagnosed = DiagnosedWork(
            "face detection", self.worker.counts, input_topic, self.pipeline.model_files, self.diagnostic_values
        )

    def process(self, message: Any) -> bool:
        """Detects, tracks and publishes; False (skipped) while nobody subscribes to ``faces``."""
        if not self.faces_wanted():
            return False
        try:
            timestamp = self.stamp_limits.frame_seconds(self.kit.stamp_seconds(message.header), self.host.now())
            image = self.kit.images.to_bgr(message)
            tracks = self.detection.update(image, timestamp)
        except (StampError, ImageError, FrameError) as error:
            self.worker.counts.rejected += 1
            self.rejections(f"{self.host.name}: {self.input_topic}: {error}")
            return True
        detected = [track for track in tracks if track.detected]
        crops = dict(
            zip((track.track_id for track in detected), self.pipeline.face_crops(image, [t.box for t in detected]))
        )
        self.faces.publish(
            detection_array(
                self.kit,
                message.header,
                image.shape,
                tracks,
                [crops.get(track.track_id) for track in tracks],
                self.pipeline.crop_margin,
                self.pipeline.detector.confidence,
            )
        )
        self.published(message.header.stamp)
        self.worker.counts.faces += len(detected)
        return True

    def faces_wanted(self) -> bool:
        """Faces (and their crops) are made only while ``faces`` has a subscriber; logs each change.

        Normally the classifier is that subscriber; while it is down or paused, the
        detector neither spends CPU nor cuts out anyone's face.
        """
        wanted = self.faces.subscribed()
        if wanted != self.publishing_faces:
            self.publishing_faces = wanted
            if wanted:
                self.host.info(f"{self.host.name}: {self.faces.name} has a subscriber, detecting faces")
            else:
                self.host.info(f"{self.host.name}: {self.faces.name} has no subscriber, frames skipped")
        return wanted

    def diagnostic_values(self) -> dict[str, str]:
        return {"active tracks": str(len(self.detection.tracker.tracks))}

    def stop(self) -> None:
        """Waits for the message in hand (one frame's work): the adapter destroys its publishers next, and a
        publish after that would end in a traceback."""
        self.worker.stop()
        self.host.info(describe_counts(self.host.name, self.worker.counts))
