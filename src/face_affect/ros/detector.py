"""``detector_node`` (ROS 1): the camera topic into the core's detector (:mod:`face_affect.node_core.detector`)."""

from __future__ import annotations

import rospy

from face_affect.msg import FaceDetectionArray
from face_affect.node_core.detector import DetectorCore
from face_affect.node_core.host import EnableSwitch
from face_affect.ros.images import image_topic, subscribe_image
from face_affect.ros.messages import ROS1_KIT
from face_affect.ros.node import (
    enable_service,
    private_settings,
    publish_ready,
    release_memory_periodically,
    rospy_host,
    start_diagnostics,
    topic_output,
)


class DetectorNode:
    """Topics, services and timers of the detector; the work is :class:`DetectorCore`'s."""

    def __init__(self) -> None:
        settings = private_settings()
        self.compressed = settings.compressed
        faces = topic_output(rospy.Publisher("faces", FaceDetectionArray, queue_size=5))
        self.core = DetectorCore(settings, rospy_host(), ROS1_KIT, faces, image_topic(self.compressed))
        self.subscriber: rospy.Subscriber | None = subscribe_image(self.compressed, self.core.worker.put)
        self.enable = EnableSwitch(self.core.host, pause=self.pause, resume=self.resume)
        self.enable_service = enable_service(self.enable)
        self.diagnostics = start_diagnostics(self.core.diagnosed, settings, self.enable)
        self.core.published = self.diagnostics.published
        self.memory_release = release_memory_periodically(settings.diagnostics_period)
        self.ready = publish_ready()
        rospy.on_shutdown(self.shutdown)
        rospy.loginfo(f"{rospy.get_name()}: detecting faces on {self.core.input_topic}")

    def pause(self) -> None:
        if self.subscriber is not None:
            self.subscriber.unregister()
            self.subscriber = None

    def resume(self) -> None:
        if self.subscriber is None:
            self.subscriber = subscribe_image(self.compressed, self.core.worker.put)

    def shutdown(self) -> None:
        self.diagnostics.stop()
        self.core.stop()
