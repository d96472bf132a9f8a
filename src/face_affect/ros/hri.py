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

``hri_msgs`` is optional: without it the package runs as before, and ``ros4hri: true`` stops the
node at start with :class:`~face_affect.errors.MissingPackageError`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence, Set

import rospy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from face_affect.cropping import recrop
from face_affect.errors import MissingPackageError
from face_affect.hri import expression_name, gender_name, normalized_corners, valence_arousal
from face_affect.ros.images import ImageConverter
from face_affect.ros.messages import TrackedFace
from face_affect.types import FaceResult

try:
    from hri_msgs.msg import Expression, IdsList, NormalizedRegionOfInterest2D, SoftBiometrics
except ImportError:  # optional; FacePublishers says what to install
    Expression = IdsList = NormalizedRegionOfInterest2D = SoftBiometrics = None

FACES_NAMESPACE = "/humans/faces"
MISSING_HRI_MSGS = (
    "ros4hri: true needs the ROS package hri_msgs (apt-get install ros-noetic-hri-msgs, "
    "or build ros4hri/hri_msgs in this workspace)"
)


class FaceTopics:
    """One face's publishers."""

    def __init__(self, face_id: str) -> None:
        namespace = f"{FACES_NAMESPACE}/{face_id}"
        self.roi = rospy.Publisher(f"{namespace}/roi", NormalizedRegionOfInterest2D, queue_size=1, latch=True)
        self.expression = rospy.Publisher(f"{namespace}/expression", Expression, queue_size=1, latch=True)
        self.softbiometrics = rospy.Publisher(f"{namespace}/softbiometrics", SoftBiometrics, queue_size=1, latch=True)
        self.cropped = rospy.Publisher(f"{namespace}/cropped", Image, queue_size=1)

    def unregister(self) -> None:
        for publisher in (self.roi, self.expression, self.softbiometrics, self.cropped):
            publisher.unregister()


class FacePublishers:
    """The REP-155 face topics of the confirmed tracks (see the module's docstring)."""

    def __init__(self, converter: ImageConverter) -> None:
        if IdsList is None:
            raise MissingPackageError(MISSING_HRI_MSGS)
        self.converter = converter
        self.faces: dict[str, FaceTopics] = {}
        self.tracked = rospy.Publisher(f"{FACES_NAMESPACE}/tracked", IdsList, queue_size=1)
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
                topics.unregister()
            self.faces.clear()
            self.tracked.publish(IdsList(header=Header(stamp=rospy.Time.now())))

    def resume(self) -> None:
        with self.lock:
            self.active = True

    def publish(
        self,
        header: Header,
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
                self.faces.pop(ended).unregister()
            for result in results:
                if not result.track_id:
                    continue
                topics = self.faces.get(result.track_id)
                changed = topics is None or result.track_id in classified
                if topics is None:
                    topics = self.faces[result.track_id] = FaceTopics(result.track_id)
                face = faces[result.track_id]
                topics.roi.publish(region_message(header, result, image_size, face.confidence))
                if not changed:
                    continue
                topics.expression.publish(expression_message(header, result))
                topics.softbiometrics.publish(softbiometrics_message(header, result))
                if face.crop is not None and topics.cropped.get_num_connections() > 0:
                    crop = recrop(face.crop, face.box.width, face.box.height, crop_margin, 0.0)
                    topics.cropped.publish(self.converter.to_message(crop, "mono8", header))
            self.tracked.publish(IdsList(header=header, ids=ids))


def region_message(
    header: Header, result: FaceResult, image_size: tuple[int, int], confidence: float
) -> NormalizedRegionOfInterest2D:
    """The box divided by the image size (``image_size`` is width, height); ``c`` the detector's confidence."""
    xmin, ymin, xmax, ymax = normalized_corners(result.box, *image_size)
    return NormalizedRegionOfInterest2D(header=header, xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax, c=confidence)


def expression_message(header: Header, result: FaceResult) -> Expression:
    """The smoothed emotion as an ``Expression`` constant (empty while unsure), valence and arousal from
    its probabilities, and its confidence."""
    emotion = result.attributes.get("emotion")
    if emotion is None:
        return Expression(header=header, expression="")
    name = expression_name(emotion.label)
    valence, arousal = valence_arousal(emotion.probabilities)
    return Expression(
        header=header,
        expression=getattr(Expression, name) if name else "",
        valence=valence,
        arousal=arousal,
        confidence=emotion.confidence,
    )


def softbiometrics_message(header: Header, result: FaceResult) -> SoftBiometrics:
    """FEMALE or MALE with the smoothed gender's confidence, UNDEFINED while unsure; the smoothed age in
    whole years (0 without an age model) with the probability that it lies within 5 years."""
    gender = result.attributes.get("gender")
    age = result.attributes.get("age")
    message = SoftBiometrics(header=header, gender=getattr(SoftBiometrics, gender_name(gender.label if gender else "")))
    message.gender_confidence = gender.confidence if gender else 0.0
    if age is not None and age.value is not None:
        message.age = min(255, max(0, round(age.value)))
        message.age_confidence = age.confidence
    return message
