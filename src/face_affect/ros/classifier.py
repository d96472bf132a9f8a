"""``classifier_node``: faces in, gender and emotion out, plus the annotated frame on demand."""

from __future__ import annotations

import threading
import time

import rospy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_affect.drawing import draw_results
from face_affect.msg import FaceAffectArray, FaceDetectionArray
from face_affect.pipeline import FaceAffectPipeline, FaceResult
from face_affect.ros.images import ImageConverter, ImageError, subscribe_image
from face_affect.ros.latest import LatestMessageWorker, WorkerCounts
from face_affect.ros.matching import StampMatcher
from face_affect.ros.messages import affect_array, boxes_and_crops
from face_affect.ros.node import (
    describe_counts,
    log_worker_error,
    private_config,
    publish_ready,
)


class ClassifierNode(rospy.SubscribeListener):
    """Classifies the faces of the newest frame; draws them only while ``annotated`` has subscribers.

    The full frame is not sent by the detector: while someone watches
    ``annotated``, this node subscribes to the camera itself, keeps the last
    ``annotated_buffer`` frames and draws on the one whose stamp matches the
    results. Nobody watching costs nothing.
    """

    def __init__(self) -> None:
        super().__init__()
        config = private_config()
        self.pipeline = FaceAffectPipeline.from_config(config)
        self.converter = ImageConverter()
        self.compressed = bool(config.get("compressed", False))
        self.matcher = StampMatcher(int(config.get("annotated_buffer", 30)))
        self.annotation_counts = WorkerCounts()
        self.image_subscriber: rospy.Subscriber | None = None
        self.subscription_lock = threading.Lock()
        self.results_publisher = rospy.Publisher("results", FaceAffectArray, queue_size=5)
        self.annotated_publisher = None
        if config.get("annotate", True):
            self.annotated_publisher = rospy.Publisher(
                "annotated", Image, queue_size=1, subscriber_listener=self
            )
        self.worker = LatestMessageWorker(self.process, log_worker_error, name="classifier")
        self.faces_subscriber = rospy.Subscriber(
            "faces", FaceDetectionArray, self.worker.put, queue_size=1, buff_size=2**24
        )
        self.ready = publish_ready()
        rospy.on_shutdown(self.shutdown)

    def process(self, message: FaceDetectionArray) -> None:
        boxes, crops = boxes_and_crops(message, self.converter)
        results: list[FaceResult] = []
        if boxes:
            results = self.pipeline.classify_crops(crops, boxes, message.faces[0].crop_margin)
        self.results_publisher.publish(
            affect_array(
                message.header, results, self.pipeline.gender_labels, self.pipeline.emotion_labels
            )
        )
        if self.image_subscriber is not None:
            pair = self.matcher.add_results(stamp_key(message.header), results)
            if pair is not None:
                self.annotate(*pair)

    def receive_frame(self, message: Image | CompressedImage) -> None:
        pair = self.matcher.add_frame(stamp_key(message.header), message)
        if pair is not None:
            self.annotate(*pair)

    def annotate(self, frame: Image | CompressedImage, results: list[FaceResult]) -> None:
        start = time.perf_counter()
        try:
            image = self.converter.to_bgr(frame)
        except ImageError as error:
            rospy.logwarn_throttle_identical(10.0, f"{rospy.get_name()}: annotated frame: {error}")
            return
        annotated = draw_results(image, results)
        self.annotated_publisher.publish(self.converter.to_message(annotated, "bgr8", frame.header))
        self.annotation_counts.processed += 1
        self.annotation_counts.processing_seconds += time.perf_counter() - start

    def peer_subscribe(self, topic_name: str, topic_publish, peer_publish) -> None:
        with self.subscription_lock:
            if self.image_subscriber is None:
                self.image_subscriber = subscribe_image(self.compressed, self.receive_frame)
                rospy.loginfo(
                    f"{rospy.get_name()}: {topic_name} has a subscriber, "
                    f"reading frames from {self.image_subscriber.resolved_name}"
                )

    def peer_unsubscribe(self, topic_name: str, num_peers: int) -> None:
        with self.subscription_lock:
            if num_peers == 0 and self.image_subscriber is not None:
                self.image_subscriber.unregister()
                self.image_subscriber = None
                self.matcher.clear()
                rospy.loginfo(f"{rospy.get_name()}: {topic_name} has no subscriber, frames no longer read")

    def shutdown(self) -> None:
        self.worker.stop(timeout=1.0)
        rospy.loginfo(describe_counts(f"{rospy.get_name()} faces (drawing included)", self.worker.counts))
        rospy.loginfo(
            f"{rospy.get_name()} annotation: {self.annotation_counts.processed} frames drawn "
            f"in {self.annotation_counts.mean_milliseconds:.1f} ms on average"
        )


def stamp_key(header: Header) -> tuple[int, int]:
    return (header.stamp.secs, header.stamp.nsecs)
