"""``detector_node``: camera image in, tracked faces with grey crops out.

The detector owns tracking: it has the frames, which re-detection around predicted boxes
needs (``detection_interval``), and it is the one place that sees every frame, so ids
stay the same whatever subscribes downstream.
"""

from __future__ import annotations

import rospy
from sensor_msgs.msg import CompressedImage, Image

from face_affect.errors import FrameError
from face_affect.image_messages import ImageError
from face_affect.msg import FaceDetectionArray
from face_affect.pipeline import FaceAffectPipeline
from face_affect.redetection import TrackingDetector
from face_affect.ros.images import ImageConverter, image_topic, subscribe_image
from face_affect.ros.latest import LatestMessageWorker
from face_affect.ros.messages import detection_array
from face_affect.ros.node import (
    EnableService,
    WorkerErrorLog,
    describe_counts,
    frame_seconds,
    private_settings,
    publish_ready,
    release_memory_periodically,
    start_diagnostics,
)
from face_affect.ros.stamps import StampError, StampLimits
from face_affect.ros.throttle import ThrottledLog


class DetectorNode:
    """Detects faces in the newest frame and publishes them with crops for the classifier.

    The crops (not the frame) travel on: they are what the classifier needs, and
    a few small grey images cost far less to send than a full colour frame.
    """

    def __init__(self) -> None:
        settings = private_settings()
        self.pipeline = FaceAffectPipeline.from_settings(settings)
        self.detection = TrackingDetector.from_settings(self.pipeline.detector, settings)
        self.converter = ImageConverter()
        self.compressed = settings.compressed
        self.stamp_limits = StampLimits.from_settings(settings)
        self.rejections = ThrottledLog(rospy.logwarn)
        self.input_topic = image_topic(self.compressed)
        self.publisher = rospy.Publisher("faces", FaceDetectionArray, queue_size=5)
        self.publishing_faces = True  # until the first frame finds out
        self.worker = LatestMessageWorker(self.process, WorkerErrorLog(), name="detector")
        self.subscriber: rospy.Subscriber | None = subscribe_image(self.compressed, self.worker.put)
        self.enable = EnableService(pause=self.pause, resume=self.resume)
        self.diagnostics = start_diagnostics(
            "face detection",
            settings,
            self.worker.counts,
            self.input_topic,
            self.pipeline.model_files,
            self.enable,
            lambda: {"active tracks": str(len(self.detection.tracker.tracks))},
        )
        self.memory_release = release_memory_periodically(settings.diagnostics_period)
        self.ready = publish_ready()
        rospy.on_shutdown(self.shutdown)
        rospy.loginfo(f"{rospy.get_name()}: detecting faces on {self.input_topic}")

    def process(self, message: Image | CompressedImage) -> bool:
        """Detects, tracks and publishes; False (skipped) while nobody subscribes to ``faces``."""
        if not self.faces_wanted():
            return False
        try:
            timestamp = frame_seconds(message.header, self.stamp_limits)
            image = self.converter.to_bgr(message)
            tracks = self.detection.update(image, timestamp)
        except (StampError, ImageError, FrameError) as error:
            self.worker.counts.rejected += 1
            self.rejections(f"{rospy.get_name()}: {self.input_topic}: {error}")
            return True
        detected = [track for track in tracks if track.detected]
        crops = dict(
            zip((track.track_id for track in detected), self.pipeline.face_crops(image, [t.box for t in detected]))
        )
        self.publisher.publish(
            detection_array(
                message.header,
                image.shape,
                tracks,
                [crops.get(track.track_id) for track in tracks],
                self.pipeline.crop_margin,
                self.converter,
                self.pipeline.detector.confidence,
            )
        )
        self.diagnostics.published(message.header.stamp)
        self.worker.counts.faces += len(detected)
        return True

    def faces_wanted(self) -> bool:
        """Faces (and their crops) are made only while ``faces`` has a subscriber; logs each change.

        Normally the classifier is that subscriber; while it is down or paused, the
        detector neither spends CPU nor cuts out anyone's face.
        """
        wanted = self.publisher.get_num_connections() > 0
        if wanted != self.publishing_faces:
            self.publishing_faces = wanted
            if wanted:
                rospy.loginfo(f"{rospy.get_name()}: {self.publisher.resolved_name} has a subscriber, detecting faces")
            else:
                rospy.loginfo(f"{rospy.get_name()}: {self.publisher.resolved_name} has no subscriber, frames skipped")
        return wanted

    def pause(self) -> None:
        if self.subscriber is not None:
            self.subscriber.unregister()
            self.subscriber = None

    def resume(self) -> None:
        if self.subscriber is None:
            self.subscriber = subscribe_image(self.compressed, self.worker.put)

    def shutdown(self) -> None:
        self.diagnostics.stop()
        self.worker.stop(timeout=1.0)
        rospy.loginfo(describe_counts(rospy.get_name(), self.worker.counts))
