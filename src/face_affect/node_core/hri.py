"""ROS4HRI (REP-155) output of the classifier node (``ros4hri: true``): each confirmed track is a face.

The classifier owns it: it has the confirmed tracks, their smoothed estimates, the image size and
each face's crop. Per face, under ``/humans/faces/<track id>/``: ``roi``, ``expression`` and
``softbiometrics`` (latched, so a client that subscribes when the id appears gets the last one at
once; the last two only when the estimate changes, i.e. when the track was classified) and
``cropped`` (only while subscribed, with them: the crop the estimate was made from).
``/humans/faces/tracked`` lists the ids of every processed frame, after the faces' own messages.
A face's publishers are made when its track is confirmed and unregistered when it ends, so the
graph holds those of the live tracks only.
``aligned`` is not published: eye-levelled crops gained less than a point on rolled faces
(``bench/alignment.py``), so the crops are not rotated.

This module holds the schedule and the messages; the adapters (:mod:`face_affect.ros.hri`,
:mod:`face_affect.ros2.hri`) make the publishers, latched in ROS 1, transient-local in ROS 2.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence, Set
from types import ModuleType
from typing import Any, Protocol

from face_affect.cropping import recrop
from face_affect.hri import expression_name, gender_name, normalized_corners, valence_arousal
from face_affect.node_core.host import Output
from face_affect.node_core.messages import MessageKit, TrackedFace
from face_affect.types import FaceResult

FACES_NAMESPACE = "/humans/faces"


class FaceTopics(Protocol):
    """One face's publishers under ``/humans/faces/<id>/``."""

    roi: Output
    expression: Output
    softbiometrics: Output
    cropped: Output

    def close(self) -> None: ...


class FaceSchedule:
    """The REP-155 face topics of the confirmed tracks (see the module's docstring)."""

    def __init__(
        self,
        hri: ModuleType,
        kit: MessageKit,
        open_face: Callable[[str], FaceTopics],
        tracked: Output,
        now: Callable[[], Any],
    ) -> None:
        """``hri``: the ``hri_msgs.msg`` module; ``open_face(id)`` makes a face's topics, ``tracked`` publishes
        ``/humans/faces/tracked``, ``now()`` is the clock as a time field."""
        self.hri = hri
        self.kit = kit
        self.open_face = open_face
        self.faces: dict[str, FaceTopics] = {}
        self.tracked = tracked
        self.now = now
        self.active = True
        self.lock = threading.Lock()
        """Frames are published from the node's worker thread, :meth:`clear` comes from ``~enable``'s."""

    def __len__(self) -> int:
        return len(self.faces)

    def clear(self) -> None:
        """The node pauses: an empty ``tracked``, every face's topics unregistered, frames ignored until
        :meth:`resume` (a frame already being processed cannot bring a face back)."""
        with self.lock:
            self.active = False
            for topics in self.faces.values():
                topics.close()
            self.faces.clear()
            self.tracked.publish(self.hri.IdsList(header=self.kit.header_type(stamp=self.now())))

    def resume(self) -> None:
        with self.lock:
            self.active = True

    def publish(
        self,
        header: Any,
        image_size: tuple[int, int],
        results: Sequence[FaceResult],
        faces: Mapping[str, TrackedFace],
        crop_margin: float,
        classified: Set[str],
    ) -> None:
        """One processed frame: ``results`` are its confirmed tracks, ``faces`` its tracked faces by id,
        ``classified`` the ids whose estimates this frame updated. ``expression``, ``softbiometrics``
        and ``cropped`` are published when a face appears and when its estimate changes (the first two
        latched: a new subscriber gets the last), ``roi`` and ``tracked`` every frame."""
        with self.lock:
            if not self.active:
                return
            ids = [result.track_id for result in results if result.track_id]
            for ended in set(self.faces) - set(ids):
                self.faces.pop(ended).close()
            for result in results:
                if not result.track_id:
                    continue
                topics = self.faces.get(result.track_id)
                changed = topics is None or result.track_id in classified
                if topics is None:
                    topics = self.faces[result.track_id] = self.open_face(result.track_id)
                face = faces[result.track_id]
                topics.roi.publish(region_message(self.hri, header, result, image_size, face.confidence))
                if not changed:
                    continue
                topics.expression.publish(expression_message(self.hri, header, result))
                topics.softbiometrics.publish(softbiometrics_message(self.hri, header, result))
                if face.crop is not None and topics.cropped.subscribed():
                    crop = recrop(face.crop, face.box.width, face.box.height, crop_margin, 0.0)
                    topics.cropped.publish(self.kit.images.to_message(crop, "mono8", header))
            self.tracked.publish(self.hri.IdsList(header=header, ids=ids))


def region_message(
    hri: ModuleType, header: Any, result: FaceResult, image_size: tuple[int, int], confidence: float
) -> Any:
    """The box divided by the image size (``image_size`` is width, height); ``c`` the detector's confidence."""
    xmin, ymin, xmax, ymax = normalized_corners(result.box, *image_size)
    return hri.NormalizedRegionOfInterest2D(header=header, xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax, c=confidence)


def expression_message(hri: ModuleType, header: Any, result: FaceResult) -> Any:
    """The smoothed emotion as an ``Expression`` constant (empty while unsure), valence and arousal from
    its probabilities, and its confidence."""
    emotion = result.attributes.get("emotion")
    if emotion is None:
        return hri.Expression(header=header, expression="")
    name = expression_name(emotion.label)
    valence, arousal = valence_arousal(emotion.probabilities)
    return hri.Expression(
        header=header,
        expression=getattr(hri.Expression, name) if name else "",
        valence=valence,
        arousal=arousal,
        confidence=emotion.confidence,
    )


def softbiometrics_message(hri: ModuleType, header: Any, result: FaceResult) -> Any:
    """FEMALE or MALE with the smoothed gender's confidence, UNDEFINED while unsure; the smoothed age in
    whole years (0 without an age model) with the probability that it lies within 5 years."""
    gender = result.attributes.get("gender")
    age = result.attributes.get("age")
    message = hri.SoftBiometrics(
        header=header, gender=getattr(hri.SoftBiometrics, gender_name(gender.label if gender else ""))
    )
    message.gender_confidence = gender.confidence if gender else 0.0
    if age is not None and age.value is not None:
        message.age = min(255, max(0, round(age.value)))
        message.age_confidence = age.confidence
    return message
