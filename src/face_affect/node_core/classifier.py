"""The classifier node's work: faces in, gender, emotion and age out, plus the annotated frame and heatmaps on demand.

With ``ros4hri: true`` it also publishes the confirmed tracks on REP-155's face topics
(:mod:`face_affect.node_core.hri`).

The full frame is not sent by the detector: while someone watches ``annotated``, the adapter
subscribes to the camera itself and hands its frames to :meth:`ClassifierCore.receive_frame`;
the core keeps the last ``annotated_buffer`` frames and draws on the one whose stamp matches the
results. Nobody watching costs nothing.

Guided back-propagation heatmaps (``heatmaps``, and ``heatmaps/image`` for rviz) are computed
only while one of them has a subscriber, or always with the parameter ``heatmaps: true``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from face_affect.classifiers import FaceClassifiers
from face_affect.drawing import Overlay
from face_affect.errors import ModelError, SettingsError
from face_affect.image_messages import ImageError
from face_affect.node_core.diagnostics import DiagnosedWork
from face_affect.node_core.host import NodeHost, Output, WorkerErrorLog, describe_counts
from face_affect.node_core.hri import FaceSchedule
from face_affect.node_core.latest import LatestMessageWorker, WorkerCounts
from face_affect.node_core.matching import StampMatcher
from face_affect.node_core.messages import (
    FaceMessageError,
    MessageKit,
    TrackedFace,
    affect_array,
    heatmap_array,
    tracked_faces,
)
from face_affect.node_core.stamps import StampError, StampLimits
from face_affect.node_core.throttle import ThrottledLog
from face_affect.saliency import GuidedBackpropagation, explain_faces, face_panel
from face_affect.settings import Settings
from face_affect.smoothing import PersonEstimates
from face_affect.types import FaceResult


class ClassifierOutputs:
    """The classifier's publishers; ``annotated`` is None when ``annotate`` is false."""

    def __init__(self, results: Output, heatmaps: Output, heatmap_image: Output, annotated: Output | None) -> None:
        self.results = results
        self.heatmaps = heatmaps
        self.heatmap_image = heatmap_image
        self.annotated = annotated


class ClassifierCore:
    """Classifies the faces of the newest ``faces`` message (:attr:`worker`); draws the frames it is given.

    ``published(stamp)`` is called for each results message (the adapter's diagnostics);
    ``reading_frames()`` says whether the adapter reads camera frames for the overlay.
    """

    def __init__(
        self,
        settings: Settings,
        host: NodeHost,
        kit: MessageKit,
        faces_topic: str,
        open_face_schedule: Callable[[], FaceSchedule],
    ) -> None:
        self.host = host
        self.kit = kit
        self.faces_topic = faces_topic
        # No detector: the faces arrive as crops, and a detector model the node never runs must not stop it.
        self.classifiers = FaceClassifiers.from_settings(settings)
        missing = [task for task in ("gender", "emotion") if task not in self.classifiers.classifiers]
        if missing:
            raise ModelError(f"FaceAffect messages need a model for {', '.join(missing)}")
        self.estimates = PersonEstimates(
            {task: classifier.labels for task, classifier in self.classifiers.classifiers.items()}, settings
        )
        self.stamp_limits = StampLimits.from_settings(settings)
        self.rejections = ThrottledLog(host.warn)
        self.matcher = StampMatcher(settings.annotated_buffer)
        self.overlay = Overlay()
        self.annotation_counts = WorkerCounts()
        self.heatmaps_always = settings.heatmaps
        self.explainers = heatmap_explainers(self.classifiers, settings.heatmap_tasks, host)
        self.heatmap_counts = WorkerCounts()
        self.computing_heatmaps = False
        self.hri_faces = open_face_schedule() if settings.ros4hri else None
        self.outputs: ClassifierOutputs | None = None  # the adapter's, before the first message
        self.published: Callable[[Any], None] = lambda stamp: None
        self.reading_frames: Callable[[], bool] = lambda: False
        self.worker = LatestMessageWorker(self.process, WorkerErrorLog(host), name="classifier")
        self.diagnosed = DiagnosedWork(
            "face classification",
            self.worker.counts,
            faces_topic,
            self.classifiers.model_files,
            self.diagnostic_values,
        )

    def diagnostic_values(self) -> dict[str, str]:
        hri = {"ROS4HRI faces": str(len(self.hri_faces))} if self.hri_faces is not None else {}
        return {"active tracks": str(len(self.estimates)), **hri}

    def process(self, message: Any) -> None:
        """Classifies the tracks that are due, updates each person's estimate, publishes the confirmed ones."""
        try:
            timestamp = self.stamp_limits.frame_seconds(self.kit.stamp_seconds(message.header), self.host.now())
            faces = tracked_faces(self.kit, message)
        except (StampError, ImageError, FaceMessageError) as error:
            self.worker.counts.rejected += 1
            self.rejections(f"{self.host.name}: {self.faces_topic}: {error}")
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
        self.outputs.results.publish(
            affect_array(
                self.kit,
                message.header,
                results,
                self.classifiers.labels("gender"),
                self.classifiers.labels("emotion"),
            )
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
        self.published(message.header.stamp)
        if self.heatmaps_wanted():
            shown = [face for face in faces if face.confirmed and face.crop is not None]
            self.publish_heatmaps(message.header, shown, message.crop_margin)
        if self.reading_frames():
            pair = self.matcher.add_results(self.kit.stamp_seconds(message.header), results)
            if pair is not None:
                self.annotate(*pair)

    def heatmaps_wanted(self) -> bool:
        """True while a heatmap topic has a subscriber (or always); logs each change."""
        subscribed = self.outputs.heatmaps.subscribed() or self.outputs.heatmap_image.subscribed()
        wanted = self.heatmaps_always or subscribed
        if wanted != self.computing_heatmaps:
            self.computing_heatmaps = wanted
            tasks = ", ".join(explainer.task for explainer in self.explainers)
            if wanted:
                self.host.info(f"{self.host.name}: computing heatmaps ({tasks})")
            else:
                self.host.info(f"{self.host.name}: heatmaps have no subscriber, no longer computed")
        return wanted

    def publish_heatmaps(self, header: Any, faces: list[TrackedFace], crop_margin: float) -> None:
        """The maps of every detected, confirmed face in one array, named by track id; the rviz image
        (one row per face, its track id written on it) only while it has a subscriber."""
        boxes, crops = [face.box for face in faces], [face.crop for face in faces]
        start = time.perf_counter()
        drawn = self.outputs.heatmap_image.subscribed()
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
        self.outputs.heatmaps.publish(heatmap_array(self.kit, header, track_ids, maps_per_task))
        if panels:
            self.outputs.heatmap_image.publish(self.kit.images.to_message(np.vstack(panels), "bgr8", header))
        self.heatmap_counts.processed += 1
        self.heatmap_counts.processing_seconds += time.perf_counter() - start

    def receive_frame(self, message: Any) -> None:
        """A camera frame for the overlay: drawn once the results of its stamp are there."""
        pair = self.matcher.add_frame(self.kit.stamp_seconds(message.header), message)
        if pair is not None:
            self.annotate(*pair)

    def annotate(self, frame: Any, results: list[FaceResult]) -> None:
        start = time.perf_counter()
        try:
            image = self.kit.images.to_bgr(frame)
        except ImageError as error:
            self.rejections(f"{self.host.name}: annotated frame: {error}")
            return
        annotated = self.overlay.draw(image, results, self.kit.stamp_seconds(frame.header))
        self.outputs.annotated.publish(self.kit.images.to_message(annotated, "bgr8", frame.header))
        self.annotation_counts.processed += 1
        self.annotation_counts.processing_seconds += time.perf_counter() - start

    def pause_faces(self) -> None:
        """``~enable`` false: the ROS4HRI faces end (the adapter stops reading)."""
        if self.hri_faces is not None:
            self.hri_faces.clear()

    def resume_faces(self) -> None:
        if self.hri_faces is not None:
            self.hri_faces.resume()

    def stop(self) -> None:
        """Waits for the message in hand (one frame's work): the adapter destroys its publishers next, and a
        publish after that would end in a traceback."""
        self.worker.stop()
        name = self.host.name
        self.host.info(describe_counts(f"{name} faces (drawing included)", self.worker.counts))
        self.host.info(
            f"{name} annotation: {self.annotation_counts.processed} frames drawn "
            f"in {self.annotation_counts.mean_milliseconds:.1f} ms on average"
        )
        self.host.info(
            f"{name} heatmaps: {self.heatmap_counts.processed} frames "
            f"in {self.heatmap_counts.mean_milliseconds:.1f} ms on average"
        )


def heatmap_explainers(classifiers: FaceClassifiers, tasks: list[str], host: NodeHost) -> list[GuidedBackpropagation]:
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
            host.warn(f"{host.name}: no {task} heatmaps: {error}")
    return explainers


def labelled_panel(panel: np.ndarray, text: str) -> np.ndarray:
    """A heatmap panel with a caption strip above it, so rviz shows whose map it is."""
    strip = np.zeros((18, panel.shape[1], 3), np.uint8)
    cv2.putText(strip, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return np.vstack([strip, panel])
