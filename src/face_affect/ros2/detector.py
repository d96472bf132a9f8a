"""``detector_node`` (ROS 2): the camera topic into the core's detector (:mod:`face_affect.node_core.detector`)."""

from __future__ import annotations

from rclpy.node import Node

from face_affect.msg import FaceDetectionArray
from face_affect.node_core.detector import DetectorCore
from face_affect.node_core.host import EnableSwitch
from face_affect.ros2.node import (
    RESULTS_QOS,
    ROS2_KIT,
    DiagnosticsPublisher,
    create_output_publisher,
    declare_settings,
    enable_service,
    image_topic,
    publish_ready,
    rclpy_host,
    release_memory_periodically,
    subscribe_image,
    topic_output,
)


class DetectorNode:
    """Topics, services and timers of the detector; the work is :class:`DetectorCore`'s."""

    def __init__(self, node: Node) -> None:
        self.node = node
        settings = declare_settings(node)
        self.compressed = settings.compressed
        faces = topic_output(create_output_publisher(node, FaceDetectionArray, "faces", RESULTS_QOS))
        self.core = DetectorCore(settings, rclpy_host(node), ROS2_KIT, faces, image_topic(node, self.compressed))
        self.subscription = subscribe_image(node, self.compressed, self.core.worker.put)
        self.enable = EnableSwitch(self.core.host, pause=self.pause, resume=self.resume)
        self.enable_service = enable_service(node, self.enable)
        self.diagnostics = DiagnosticsPublisher(node, self.core.diagnosed, settings, self.enable)
        self.memory_release = release_memory_periodically(node, settings.diagnostics_period)
        self.core.published = self.diagnostics.published
        self.ready = publish_ready(node)
        node.get_logger().info(f"{node.get_fully_qualified_name()}: detecting faces on {self.core.input_topic}")

    def pause(self) -> None:
        if self.subscription is not None:
            self.node.destroy_subscription(self.subscription)
            self.subscription = None

    def resume(self) -> None:
        if self.subscription is None:
            self.subscription = subscribe_image(self.node, self.compressed, self.core.worker.put)

    def shutdown(self) -> None:
        self.core.stop()
