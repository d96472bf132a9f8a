"""``classifier_node`` (ROS 1): faces in, gender, emotion and age out, over the core's classifier
(:mod:`face_affect.node_core.classifier`); the camera is read only while ``annotated`` has subscribers."""

from __future__ import annotations

import threading

import rospy
from sensor_msgs.msg import Image

from face_affect.msg import FaceAffectArray, FaceDetectionArray, FaceHeatmapArray
from face_affect.node_core.classifier import ClassifierCore, ClassifierOutputs
from face_affect.node_core.host import EnableSwitch
from face_affect.ros.hri import face_schedule
from face_affect.ros.images import BUFF_SIZE, subscribe_image
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


class ClassifierNode(rospy.SubscribeListener):
    """Topics, services and timers of the classifier; the work is :class:`ClassifierCore`'s.

    The camera is subscribed when ``annotated`` gets its first subscriber (this class is its
    ``SubscribeListener``) and unsubscribed when it loses its last.
    """

    def __init__(self) -> None:
        super().__init__()
        settings = private_settings()
        self.compressed = settings.compressed
        self.core = ClassifierCore(settings, rospy_host(), ROS1_KIT, rospy.resolve_name("faces"), face_schedule)
        self.image_subscriber: rospy.Subscriber | None = None
        self.subscription_lock = threading.Lock()
        self.core.reading_frames = lambda: self.image_subscriber is not None
        self.core.outputs = ClassifierOutputs(
            results=topic_output(rospy.Publisher("results", FaceAffectArray, queue_size=5)),
            heatmaps=topic_output(rospy.Publisher("heatmaps", FaceHeatmapArray, queue_size=2)),
            heatmap_image=topic_output(rospy.Publisher("heatmaps/image", Image, queue_size=1)),
            annotated=None,
        )
        self.faces_subscriber: rospy.Subscriber | None = self.subscribe_faces()
        self.enable = EnableSwitch(self.core.host, pause=self.pause, resume=self.resume)
        self.enable_service = enable_service(self.enable)
        self.diagnostics = start_diagnostics(self.core.diagnosed, settings, self.enable)
        self.core.published = self.diagnostics.published
        self.annotated_publisher: rospy.Publisher | None = None
        if settings.annotate:
            # Made last: its listener runs as soon as a watcher connects, which a watcher already
            # waiting does at once, and it subscribes the camera only once faces are being read.
            self.annotated_publisher = rospy.Publisher("annotated", Image, queue_size=1, subscriber_listener=self)
            self.core.outputs.annotated = topic_output(self.annotated_publisher)
        self.memory_release = release_memory_periodically(settings.diagnostics_period)
        self.ready = publish_ready()
        rospy.on_shutdown(self.shutdown)

    def subscribe_faces(self) -> rospy.Subscriber:
        return rospy.Subscriber("faces", FaceDetectionArray, self.core.worker.put, queue_size=1, buff_size=BUFF_SIZE)

    def pause(self) -> None:
        """Stops reading faces and frames; the lazy overlay resumes with :meth:`resume`."""
        if self.faces_subscriber is not None:
            self.faces_subscriber.unregister()
            self.faces_subscriber = None
        with self.subscription_lock:
            self.drop_image_subscription()
        self.core.pause_faces()

    def resume(self) -> None:
        self.core.resume_faces()
        if self.faces_subscriber is None:
            self.faces_subscriber = self.subscribe_faces()
        if self.annotated_publisher is not None and self.annotated_publisher.get_num_connections() > 0:
            self.read_camera_frames(self.annotated_publisher.resolved_name)

    def drop_image_subscription(self) -> None:
        if self.image_subscriber is not None:
            self.image_subscriber.unregister()
            self.image_subscriber = None
            self.core.matcher.clear()

    def peer_subscribe(self, topic_name: str, topic_publish, peer_publish) -> None:
        self.read_camera_frames(topic_name)

    def read_camera_frames(self, watched_topic: str) -> None:
        """Subscribes the camera for the overlay (unless paused or already reading it)."""
        with self.subscription_lock:
            if self.image_subscriber is None and self.faces_subscriber is not None:
                self.image_subscriber = subscribe_image(self.compressed, self.core.receive_frame)
                rospy.loginfo(
                    f"{rospy.get_name()}: {watched_topic} has a subscriber, "
                    f"reading frames from {self.image_subscriber.resolved_name}"
                )

    def peer_unsubscribe(self, topic_name: str, num_peers: int) -> None:
        with self.subscription_lock:
            if num_peers == 0 and self.image_subscriber is not None:
                self.drop_image_subscription()
                rospy.loginfo(f"{rospy.get_name()}: {topic_name} has no subscriber, frames no longer read")

    def shutdown(self) -> None:
        self.diagnostics.stop()
        self.core.stop()
