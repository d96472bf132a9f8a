"""``classifier_node``: faces in, gender and emotion out, plus the annotated frame and heatmaps on demand."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import rospy
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_affect.classifiers import FaceClassifiers
from face_affect.drawing import Overlay
from face_affect.errors import ModelError, SettingsError
from face_affect.image_messages import ImageError
from face_affect.msg import FaceAffectArray, FaceDetectionArray, FaceHeatmapArray
from face_affect.ros.hri import FacePublishers
from face_affect.ros.images import BUFF_SIZE, ImageConverter, subscribe_image
from face_affect.ros.latest import LatestMessageWorker, WorkerCounts
from face_affect.ros.matching import StampMatcher
from face_affect.ros.messages import FaceMessageError, TrackedFace, affect_array, heatmap_array, tracked_faces
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
from face_affect.saliency import GuidedBackpropagation, explain_faces, face_panel
from face_affect.smoothing import PersonEstimates
from face_affect.types import FaceResult


class ClassifierNode(rospy.SubscribeListener):
    """Classifies the faces of the newest frame; draws them only while ``annotated`` has subscribers.

    With ``ros4hri: true`` it also publishes the confirmed tracks on REP-155's face topics
    (:mod:`face_affect.ros.hri`).

    The full frame is not sent by the detector: while someone watches
    ``annotated``, this node subscribes to the camera itself, keeps the last
    ``annotated_buffer`` frames and draws on the one whose stamp matches the
    results. Nobody watching costs nothing.

    Guided back-propagation heatmaps (``heatmaps``, and ``heatmaps/image`` for rviz)
    are computed only while one of them has a subscriber, or always with the
    parameter ``heatmaps: true``.
    """

    def __init__(self) -> None:
        super().__init__()
        settings = private_settings()
        # No detector: the faces arrive as crops, and a detector model the node never runs must not stop it.
        self.classifiers = FaceClassifiers.from_settings(settings)
        missing = [task for task in ("gender", "emotion") if task not in self.classifiers.classifiers]
        if missing:
            raise ModelError(f"FaceAffect messages need a model for {', '.join(missing)}")
        self.estimates = PersonEstimates(
            {task: classifier.labels for task, classifier in self.classifiers.classifiers.items()}, settings
        )
        self.converter = ImageConverter()
        self.compressed = settings.compressed
        self.stamp_limits = StampLimits.from_settings(settings)
        self.rejections = ThrottledLog(rospy.logwarn)
        self.matcher = StampMatcher(settings.annotated_buffer)
        self.overlay = Overlay()
        self.annotation_counts = WorkerCounts()
        self.image_subscriber: rospy.Subscriber | None = None
        self.subscription_lock = threading.Lock()
        self.results_publisher = rospy.Publisher("results", FaceAffectArray, queue_size=5)
        self.annotated_publisher: rospy.Publisher | None = None
        self.heatmaps_always = settings.heatmaps
        self.explainers = heatmap_explainers(self.classifiers, settings.heatmap_tasks)
        self.heatmap_counts = WorkerCounts()
        self.computing_heatmaps = False
        self.heatmaps_publisher = rospy.Publisher("heatmaps", FaceHeatmapArray, queue_size=2)
        self.heatmap_image_publisher = rospy.Publisher("heatmaps/image", Image, queue_size=1)
        self.hri_faces = FacePublishers(self.converter) if settings.ros4hri else None
        self.worker = LatestMessageWorker(self.process, WorkerErrorLog(), name="classifier")
        self.faces_subscriber: rospy.Subscriber | None = self.subscribe_faces()
        self.enable = EnableService(pause=self.pause, resume=self.resume)
        self.diagnostics = start_diagnostics(
            "face classification",
            settings,
            self.worker.counts,
            rospy.resolve_name("faces"),
            self.classifiers.model_files,
            self.enable,
            lambda: {"active tracks": str(len(self.estimates)), **self.hri_values()},
        )
        if settings.annotate:
            # Made last: its listener runs as soon as a watcher connects, which a watcher already
            # waiting does at once, and it subscribes the camera only once faces are being read.
            self.annotated_publisher = rospy.Publisher("annotated", Image, queue_size=1, subscriber_listener=self)
        self.memory_release = release_memory_periodically(settings.diagnostics_period)
        self.ready = publish_ready()
        rospy.on_shutdown(self.shutdown)

    def hri_values(self) -> dict[str, str]:
        return {"ROS4HRI faces": str(len(self.hri_faces))} if self.hri_faces is not None else {}

    def subscribe_faces(self) -> rospy.Subscriber:
        return rospy.Subscriber("faces", FaceDetectionArray, self.worker.put, queue_size=1, buff_size=BUFF_SIZE)

    def process(self, message: FaceDetectionArray) -> None:
        """Classifies the tracks that are due, updates each person's estimate, publishes the confirmed ones."""
        try:
            timestamp = frame_seconds(message.header, self.stamp_limits)
            faces = tracked_faces(message, self.converter)
        except (StampError, ImageError, FaceMessageError) as error:
            self.worker.counts.rejected += 1
            self.rejections(f"{rospy.get_name()}: {rospy.resolve_name('faces')}: {error}")
            return
        self.estimates.keep_only(face.track_id for face in faces)
        due = self.estimates.due(faces, timestamp)
        if due:
            boxes = [face.box for face in due]
            crops = [face.crop for face in due]
            probabilities = self.classifiers.probabilities(crops, boxes, message.crop_margin)
            self.estimates.add_batch(due, probabilities, timestamp, crops)
        self.worker.counts.faces += sum(face.detected for face in faces)  # as the detector counts them
        results = [self.estimates.result(face) for face in faces if face.confirmed]
        self.results_publisher.publish(
            affect_array(message.header, results, self.classifiers.labels("gender"), self.classifiers.labels("emotion"))
        )
        if self.hri_faces is not None:
            self.hri_faces.publish(
                message.header,
                (message.image_width, message.image_height),
                results,
                {face.track_id: face for face in faces},
                message.crop_margin,
                {face.track_id for face in due},
            )
        self.diagnostics.published(message.header.stamp)
        if self.heatmaps_wanted():
            shown = [face for face in faces if face.confirmed and face.crop is not None]
            self.publish_heatmaps(message.header, shown, message.crop_margin)
        if self.image_subscriber is not None:
            pair = self.matcher.add_results(stamp_key(message.header), results)
            if pair is not None:
                self.annotate(*pair)

    def heatmaps_wanted(self) -> bool:
        """True while a heatmap topic has a subscriber (or always); logs each change."""
        subscribed = (
            self.heatmaps_publisher.get_num_connections() > 0 or self.heatmap_image_publisher.get_num_connections() > 0
        )
        wanted = self.heatmaps_always or subscribed
        if wanted != self.computing_heatmaps:
            self.computing_heatmaps = wanted
            tasks = ", ".join(explainer.task for explainer in self.explainers)
            if wanted:
                rospy.loginfo(f"{rospy.get_name()}: computing heatmaps ({tasks})")
            else:
                rospy.loginfo(f"{rospy.get_name()}: heatmaps have no subscriber, no longer computed")
        return wanted

    def publish_heatmaps(self, header: Header, faces: list[TrackedFace], crop_margin: float) -> None:
        """The maps of every detected, confirmed face in one array, named by track id; the rviz image
        (one row per face, its track id written on it) only while it has a subscriber."""
        boxes, crops = [face.box for face in faces], [face.crop for face in faces]
        start = time.perf_counter()
        drawn = self.heatmap_image_publisher.get_num_connections() > 0
        maps_per_task = []
        panels = []
        for explainer in self.explainers:
            own_crops, maps = explain_faces(explainer, crops, boxes, crop_margin)
            maps_per_task.append((explainer.task, maps))
            if drawn:
                panels.extend(
                    labelled_panel(face_panel(crop, gradient, 96), f"{face.track_id} {explainer.task}: {name}")
                    for face, crop, gradient, name in zip(faces, own_crops, maps.gradients, maps.class_names)
                )
        track_ids = [face.track_id for face in faces]
        self.heatmaps_publisher.publish(heatmap_array(header, track_ids, maps_per_task, self.converter))
        if panels:
            self.heatmap_image_publisher.publish(self.converter.to_message(np.vstack(panels), "bgr8", header))
        self.heatmap_counts.processed += 1
        self.heatmap_counts.processing_seconds += time.perf_counter() - start

    def receive_frame(self, message: Image | CompressedImage) -> None:
        pair = self.matcher.add_frame(stamp_key(message.header), message)
        if pair is not None:
            self.annotate(*pair)

    def annotate(self, frame: Image | CompressedImage, results: list[FaceResult]) -> None:
        start = time.perf_counter()
        try:
            image = self.converter.to_bgr(frame)
        except ImageError as error:
            self.rejections(f"{rospy.get_name()}: annotated frame: {error}")
            return
        annotated = self.overlay.draw(image, results, frame.header.stamp.to_sec())
        self.annotated_publisher.publish(self.converter.to_message(annotated, "bgr8", frame.header))
        self.annotation_counts.processed += 1
        self.annotation_counts.processing_seconds += time.perf_counter() - start

    def pause(self) -> None:
        """Stops reading faces and frames; the lazy overlay resumes with :meth:`resume`."""
        if self.faces_subscriber is not None:
            self.faces_subscriber.unregister()
            self.faces_subscriber = None
        with self.subscription_lock:
            self.drop_image_subscription()
        if self.hri_faces is not None:
            self.hri_faces.clear()

    def resume(self) -> None:
        if self.hri_faces is not None:
            self.hri_faces.resume()
        if self.faces_subscriber is None:
            self.faces_subscriber = self.subscribe_faces()
        if self.annotated_publisher is not None and self.annotated_publisher.get_num_connections() > 0:
            self.read_camera_frames(self.annotated_publisher.resolved_name)

    def drop_image_subscription(self) -> None:
        if self.image_subscriber is not None:
            self.image_subscriber.unregister()
            self.image_subscriber = None
            self.matcher.clear()

    def peer_subscribe(self, topic_name: str, topic_publish, peer_publish) -> None:
        self.read_camera_frames(topic_name)

    def read_camera_frames(self, watched_topic: str) -> None:
        """Subscribes the camera for the overlay (unless paused or already reading it)."""
        with self.subscription_lock:
            if self.image_subscriber is None and self.faces_subscriber is not None:
                self.image_subscriber = subscribe_image(self.compressed, self.receive_frame)
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
        self.worker.stop(timeout=1.0)
        rospy.loginfo(describe_counts(f"{rospy.get_name()} faces (drawing included)", self.worker.counts))
        rospy.loginfo(
            f"{rospy.get_name()} annotation: {self.annotation_counts.processed} frames drawn "
            f"in {self.annotation_counts.mean_milliseconds:.1f} ms on average"
        )
        rospy.loginfo(
            f"{rospy.get_name()} heatmaps: {self.heatmap_counts.processed} frames "
            f"in {self.heatmap_counts.mean_milliseconds:.1f} ms on average"
        )


def heatmap_explainers(classifiers: FaceClassifiers, tasks: list[str]) -> list[GuidedBackpropagation]:
    """Guided back-propagation for the models named in ``heatmap_tasks`` (built once, at start).

    A model whose graph cannot be differentiated loses its heatmaps, not the node.
    """
    models = classifiers.classifiers
    unknown = [task for task in tasks if task not in models]
    if unknown:
        raise SettingsError(f"heatmap_tasks: unknown {unknown}; choose from {sorted(models)}")
    explainers = []
    for task in dict.fromkeys(tasks):
        try:
            explainers.append(GuidedBackpropagation(models[task]))
        except ModelError as error:
            rospy.logwarn(f"{rospy.get_name()}: no {task} heatmaps: {error}")
    return explainers


def stamp_key(header: Header) -> tuple[int, int]:
    return (header.stamp.secs, header.stamp.nsecs)


def labelled_panel(panel: np.ndarray, text: str) -> np.ndarray:
    """A heatmap panel with a caption strip above it, so rviz shows whose map it is."""
    strip = np.zeros((18, panel.shape[1], 3), np.uint8)
    cv2.putText(strip, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return np.vstack([strip, panel])
