"""``detector_node``: camera image in, faces with grey crops out."""

from __future__ import annotations

import rospy
from sensor_msgs.msg import CompressedImage, Image

from face_affect.msg import FaceDetectionArray
from face_affect.pipeline import FaceAffectPipeline
from face_affect.preprocessing import crop_face, to_grey
from face_affect.ros.images import ImageConverter, ImageError, subscribe_image
from face_affect.ros.latest import LatestMessageWorker
from face_affect.ros.messages import detection_array
from face_affect.ros.node import (
    describe_counts,
    log_worker_error,
    private_config,
    publish_ready,
)


class DetectorNode:
    """Detects faces in the newest frame and publishes them with crops for the classifier.

    The crops (not the frame) travel on: they are what the classifier needs, and
    a few small grey images cost far less to send than a full colour frame.
    """

    def __init__(self) -> None:
        config = private_config()
        self.pipeline = FaceAffectPipeline.from_config(config)
        self.converter = ImageConverter()
        self.publisher = rospy.Publisher("faces", FaceDetectionArray, queue_size=5)
        self.worker = LatestMessageWorker(self.process, log_worker_error, name="detector")
        self.subscriber = subscribe_image(bool(config.get("compressed", False)), self.worker.put)
        self.ready = publish_ready()
        rospy.on_shutdown(self.shutdown)
        rospy.loginfo(f"{rospy.get_name()}: detecting faces on {self.subscriber.resolved_name}")

    def process(self, message: Image | CompressedImage) -> None:
        try:
            image = self.converter.to_bgr(message)
        except ImageError as error:
            rospy.logwarn_throttle_identical(10.0, f"{rospy.get_name()}: {self.subscriber.resolved_name}: {error}")
            return
        boxes = self.pipeline.detect(image)
        grey = to_grey(image)
        margin = self.pipeline.crop_margin
        crops = [crop_face(grey, box, margin) for box in boxes]
        self.publisher.publish(
            detection_array(message.header, image.shape, boxes, crops, margin, self.converter)
        )

    def shutdown(self) -> None:
        self.worker.stop(timeout=1.0)
        rospy.loginfo(describe_counts(rospy.get_name(), self.worker.counts))
