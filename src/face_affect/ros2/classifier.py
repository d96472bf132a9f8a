"""``classifier_node`` (ROS 2): faces in, gender, emotion and age out, over the core's classifier
(:mod:`face_affect.node_core.classifier`); the camera is read only while ``annotated`` has subscribers."""

from __future__ import annotations

import threading

from rclpy.node import Node
from sensor_msgs.msg import Image

from face_affect.msg import FaceAffectArray, FaceDetectionArray, FaceHeatmapArray
from face_affect.node_core.classifier import ClassifierCore, ClassifierOutputs
from face_affect.node_core.host import EnableSwitch
from face_affect.ros2.hri import face_schedule
from face_affect.ros2.node import (
    RESULTS_QOS,
    ROS2_KIT,
    DiagnosticsPublisher,
    create_output_publisher,
    declare_settings,
    enable_service,
    publish_ready,
    rclpy_host,
    release_memory_periodically,
    subscribe_image,
    topic_output,
)

WATCH_PERIOD = 0.5
"""Seconds between looks at ``annotated``'s subscribers (rclpy tells no subscriber listener)."""


class ClassifierNode:
    """Topics, services and timers of the classifier; the work is :class:`ClassifierCore`'s."""

    def __init__(self, node: Node) -> None:
        self.node = node
        settings = declare_settings(node)
        self.compressed = settings.compressed
        self.core = ClassifierCore(
            settings, rclpy_host(node), ROS2_KIT, node.resolve_topic_name("faces"), lambda: face_schedule(node)
        )
        self.image_subscription = None
        self.subscription_lock = threading.Lock()
        self.core.reading_frames = lambda: self.image_subscription is not None
        annotated = topic_output(create_output_publisher(node, Image, "annotated", 1)) if settings.annotate else None
        self.core.outputs = ClassifierOutputs(
            results=topic_output(create_output_publisher(node, FaceAffectArray, "results", RESULTS_QOS)),
            heatmaps=topic_output(create_output_publisher(node, FaceHeatmapArray, "heatmaps", 2)),
            heatmap_image=topic_output(create_output_publisher(node, Image, "heatmaps/image", 1)),
            annotated=annotated,
        )
        self.faces_subscription = self.subscribe_faces()
        self.enable = EnableSwitch(self.core.host, pause=self.pause, resume=self.resume)
        self.enable_service = enable_service(node, self.enable)
        self.diagnostics = DiagnosticsPublisher(node, self.core.diagnosed, settings, self.enable)
        self.memory_release = release_memory_periodically(node, settings.diagnostics_period)
        self.core.published = self.diagnostics.published
        self.watch = node.create_timer(WATCH_PERIOD, self.watch_annotated) if annotated is not None else None
        self.ready = publish_ready(node)

    def subscribe_faces(self):
        return self.node.create_subscription(FaceDetectionArray, "faces", self.core.worker.put, RESULTS_QOS)

    def watch_annotated(self) -> None:
        """Reads the camera while ``annotated`` has a subscriber (and faces are read), not otherwise."""
        annotated = self.core.outputs.annotated
        with self.subscription_lock:
            wanted = annotated.subscribed() and self.faces_subscription is not None
            if wanted and self.image_subscription is None:
                self.image_subscription = subscribe_image(self.node, self.compressed, self.core.receive_frame)
                self.node.get_logger().info(
                    f"{self.core.host.name}: {annotated.name} has a subscriber, "
                    f"reading frames from {self.image_subscription.topic_name}"
                )
            elif not wanted and self.image_subscription is not None:
                self.drop_image_subscription()
                self.node.get_logger().info(
                    f"{self.core.host.name}: {annotated.name} is not watched, frames no longer read"
                )

    def drop_image_subscription(self) -> None:
        if self.image_subscription is not None:
            self.node.destroy_subscription(self.image_subscription)
            self.image_subscription = None
            self.core.matcher.clear()

    def pause(self) -> None:
        """Stops reading faces and frames; :meth:`resume` reads them again."""
        with self.subscription_lock:
            if self.faces_subscription is not None:
                self.node.destroy_subscription(self.faces_subscription)
                self.faces_subscription = None
            self.drop_image_subscription()
        self.core.pause_faces()

    def resume(self) -> None:
        self.core.resume_faces()
        with self.subscription_lock:
            if self.faces_subscription is None:
                self.faces_subscription = self.subscribe_faces()

    def shutdown(self) -> None:
        self.core.stop()
