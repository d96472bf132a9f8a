"""Estimates per person: each track's gender, emotion (any task) smoothed over its frames.

One frame's label flickers (FER-2013-trained models change their answer between near
identical frames); a person's does not. :class:`SmoothedAttribute` keeps an exponential
moving average of a task's log-probabilities *in time*, with a time constant in
seconds (slow for gender, fast for emotion), where each frame counts by the time it
covers and by how much its view can tell (:func:`face_affect.quality.view_quality`: size,
detector score, frontalness, sharpness, exposure), so the estimate is the same at 5 Hz and 30 Hz
and a tiny, blurred, dark or profile view moves it less than a clear frontal one. The estimate
is the normalised geometric mean of the weighted frames, tempered towards uniform while the
evidence is short of a second of frames (or of one time constant, if shorter) or the views'
recent mean quality is below :data:`FULL_EVIDENCE_QUALITY`: a young track's confidence says it
has seen little, and one seen only in poor views that it has seen badly. Good views seen a
moment ago outweigh the poor ones since, so the estimate keeps its label while the views turn
poor. A quantity's estimate (age) is not tempered, so that its value is what its frames say from
the first one.
A smoothed gender or emotion less confident than ``gender_min_confidence`` or
``emotion_min_confidence`` is unsure: its label is left empty (:func:`as_stated`), so behaviour code
never acts on a guess; a stated label holds against small changes (hysteresis), so it does not
flicker; the per-frame estimates are always stated.

:class:`PersonEstimates` holds them per track id, with the last per-frame estimate
beside them, and decides which tracks need classifying in a frame
(:meth:`PersonEstimates.needs_classification`): a confirmed, steady track is
re-classified at most every ``classification_interval`` seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from face_affect.geometry import box_iou
from face_affect.quality import view_quality
from face_affect.settings import DEFAULTS, Settings
from face_affect.types import Attribute, FaceBox, FaceResult, numeric_labels

LOG_FLOOR = math.log(1e-6)
"""Log-probabilities are clipped here, so one frame's certain "no" cannot veto a class forever."""
FIRST_FRAME_SECONDS = 1 / 30
"""The time a track's first frame covers (there is no previous frame to measure it from)."""
MAX_FRAME_SECONDS = 0.2
"""A frame after a gap counts for at most this long: the gap is not evidence."""
EVIDENCE_SECONDS = 1.0
"""Clear frames covering this long (or one time constant, if shorter) give an estimate its full confidence."""
FULL_EVIDENCE_QUALITY = 0.25
"""Views of this mean quality or better (``face_affect.quality``) give full evidence: a face blurred
by 2 px or narrower than 15 px is below it, so a track seen only so stays tempered, and unsure."""
SWITCH_MARGIN = 0.05
"""A stated label gives way to another only once that one is more probable by this much."""
STATE_MARGIN = 0.05
"""A stated label turns unsure only once its probability is this far below the threshold."""
STEADY_IOU = 0.7
"""A track whose box overlaps the box it was last classified at by less than this has moved: re-classified."""


class TrackedBox(Protocol):
    """What a track offers: a ``Track`` in the library, a ``TrackedFace`` from a ROS message."""

    track_id: str
    box: FaceBox
    first_seen: float
    confirmed: bool
    detected: bool


class SmoothedAttribute:
    """One task's estimate for one person over time (see the module's docstring)."""

    def __init__(self, labels: tuple[str, ...], time_constant: float) -> None:
        self.labels = labels
        self.time_constant = time_constant
        # A quantity (age) is not tempered: towards uniform, a young track's age would read as the
        # middle of the classes' range (35 +- 27 years) instead of what its frames say.
        self.tempered = numeric_labels(tuple(labels)) is None
        self.weighted_log_probabilities = np.zeros(len(labels))
        self.weight = 0.0
        self.seconds = 0.0
        """The frames' time, decayed alike but not weighted: ``weight / seconds`` is the views' recent mean quality."""
        self.last_time: float | None = None

    def add(self, probabilities: np.ndarray, timestamp: float, quality: float = 1.0) -> None:
        """One frame's probabilities at ``timestamp`` (seconds); time going back starts afresh."""
        if self.last_time is not None and timestamp < self.last_time:
            self.weight, self.seconds, self.last_time = 0.0, 0.0, None
            self.weighted_log_probabilities[:] = 0.0
        seconds = FIRST_FRAME_SECONDS if self.last_time is None else timestamp - self.last_time
        decay = math.exp(-seconds / self.time_constant) if self.time_constant > 0 else 0.0
        covered = min(max(seconds, 1e-3), MAX_FRAME_SECONDS)
        weight = quality * covered
        log_probabilities = np.maximum(np.log(np.maximum(probabilities, 1e-12)), LOG_FLOOR)
        self.weighted_log_probabilities = decay * self.weighted_log_probabilities + weight * log_probabilities
        self.weight = decay * self.weight + weight
        self.seconds = decay * self.seconds + covered
        self.last_time = timestamp

    @property
    def evidence(self) -> float:
        """0..1: the share of :data:`EVIDENCE_SECONDS` (or a time constant) of frames behind the estimate,
        times the views' recent mean quality as a share of :data:`FULL_EVIDENCE_QUALITY`."""
        if self.weight <= 0:
            return 0.0
        view_share = min(1.0, self.weight / self.seconds / FULL_EVIDENCE_QUALITY)
        if self.time_constant <= 0:
            return view_share
        return min(1.0, self.seconds / min(self.time_constant, EVIDENCE_SECONDS)) * view_share

    def probabilities(self) -> np.ndarray:
        if self.weight <= 0:
            return np.full(len(self.labels), 1.0 / len(self.labels))
        evidence = self.evidence if self.tempered else 1.0
        logits = evidence * self.weighted_log_probabilities / self.weight
        exponentials = np.exp(logits - logits.max())
        return exponentials / exponentials.sum()

    def attribute(self) -> Attribute:
        return Attribute.from_probabilities(self.probabilities(), self.labels)


@dataclass
class PersonEstimate:
    """What is known of one track: its smoothed estimates, the last per-frame one, when it was classified."""

    first_seen: float
    smoothed: dict[str, SmoothedAttribute] = field(default_factory=dict)
    last_frame: dict[str, Attribute] = field(default_factory=dict)
    classified_at: float | None = None
    classified_box: FaceBox | None = None
    stated_labels: dict[str, str] = field(default_factory=dict)
    """The label each task's smoothed estimate stated last ("" for unsure): :func:`as_stated`'s hysteresis."""
    estimates: dict[str, Attribute] | None = None
    """The smoothed estimates as last stated, until the next frame is added."""


class PersonEstimates:
    """:class:`PersonEstimate` per track id; bounded by ``track_max_tracks``, pruned to the live tracks."""

    def __init__(self, labels: dict[str, tuple[str, ...]], settings: Settings = DEFAULTS) -> None:
        self.labels = labels
        self.settings = settings
        self.people: dict[str, PersonEstimate] = {}

    def __len__(self) -> int:
        return len(self.people)

    def keep_only(self, track_ids: Iterable[str]) -> None:
        """Forgets tracks that ended (their ids are never reused)."""
        alive = set(track_ids)
        for track_id in [track_id for track_id in self.people if track_id not in alive]:
            del self.people[track_id]

    def person(self, track_id: str, first_seen: float) -> PersonEstimate:
        person = self.people.get(track_id)
        if person is None:
            while len(self.people) >= self.settings.track_max_tracks:
                del self.people[next(iter(self.people))]  # the oldest: dicts keep insertion order
            person = self.people[track_id] = PersonEstimate(
                first_seen=first_seen,
                smoothed={
                    task: SmoothedAttribute(labels, self.settings.time_constant(task))
                    for task, labels in self.labels.items()
                },
            )
        return person

    def needs_classification(self, track_id: str, box: FaceBox, confirmed: bool, timestamp: float) -> bool:
        """Whether to run the classifiers on this track's face now (see the module's docstring)."""
        person = self.people.get(track_id)
        interval = self.settings.classification_interval
        if person is None or person.classified_at is None or not confirmed or interval <= 0:
            return True
        if timestamp < person.classified_at or timestamp - person.classified_at >= interval:
            return True
        return person.classified_box is None or box_iou(person.classified_box, box) < STEADY_IOU

    def due(self, faces: Iterable[TrackedBox], timestamp: float) -> list[TrackedBox]:
        """The faces found in this frame whose track needs classifying now."""
        return [
            face
            for face in faces
            if face.detected and self.needs_classification(face.track_id, face.box, face.confirmed, timestamp)
        ]

    def add(
        self,
        track_id: str,
        first_seen: float,
        box: FaceBox,
        probabilities: dict[str, np.ndarray],
        timestamp: float,
        crop: np.ndarray | None = None,
    ) -> PersonEstimate:
        """One frame's per-task probabilities of a track's face; ``crop``, its grey crop, weighs the view."""
        person = self.person(track_id, first_seen)
        smoothed = person.smoothed.values()
        if any(attribute.last_time is not None and timestamp < attribute.last_time for attribute in smoothed):
            person.stated_labels.clear()  # time went back: the estimates start afresh, and so does what they stated
        quality = view_quality(box, crop, self.settings.full_weight_face_width, self.settings.view_weighting)
        person.estimates = None
        for task, values in probabilities.items():
            person.smoothed[task].add(values, timestamp, quality)
            person.last_frame[task] = Attribute.from_probabilities(values, self.labels[task])
        person.classified_at, person.classified_box = timestamp, box
        return person

    def add_batch(
        self,
        faces: Sequence[TrackedBox],
        probabilities: dict[str, np.ndarray],
        timestamp: float,
        crops: Sequence[np.ndarray | None] | None = None,
    ) -> None:
        """:meth:`add` for each face of a batch the classifiers ran on (``probabilities[task][index]``),
        with its grey crop from ``crops`` where given."""
        for index, face in enumerate(faces):
            per_task = {task: values[index] for task, values in probabilities.items()}
            crop = crops[index] if crops is not None else None
            self.add(face.track_id, face.first_seen, face.box, per_task, timestamp, crop)

    def result(self, face: TrackedBox) -> FaceResult:
        """The face as a result: its smoothed estimates, and the last per-frame ones beside them."""
        person = self.people.get(face.track_id)
        return FaceResult(
            box=face.box,
            attributes=self.smoothed(face.track_id),
            track_id=face.track_id,
            frame_attributes=dict(person.last_frame) if person else {},
            first_seen=face.first_seen,
            detected=face.detected,
        )

    def smoothed(self, track_id: str) -> dict[str, Attribute]:
        """The track's smoothed estimates as stated now (see :func:`as_stated`); remembers what it stated.

        Kept until the next :meth:`add`: between classifications (``classification_interval``) the
        estimate does not change, and a result is asked for in every frame."""
        person = self.people.get(track_id)
        if person is None:
            return {}
        if person.estimates is not None:
            return dict(person.estimates)
        estimates = {}
        for task, attribute in person.smoothed.items():
            if attribute.weight > 0:
                threshold, previous = self.settings.min_confidence(task), person.stated_labels.get(task, "")
                estimates[task] = as_stated(attribute.attribute(), threshold, previous)
                person.stated_labels[task] = estimates[task].label
        person.estimates = estimates
        return dict(estimates)


def as_stated(attribute: Attribute, min_confidence: float, previous: str = "") -> Attribute:
    """The estimate, or its :meth:`~Attribute.withheld` copy (unsure) below ``min_confidence``.

    With hysteresis against flicker: the label stated in the last frame, ``previous``, stays while
    its probability is within :data:`SWITCH_MARGIN` of the best and at least ``min_confidence``
    less :data:`STATE_MARGIN`. A quantity (age) is always stated as it is.
    """
    if attribute.value is not None:
        return attribute
    held = attribute.probabilities.get(previous) if previous else None
    if held is not None and held >= attribute.confidence - SWITCH_MARGIN and held >= min_confidence - STATE_MARGIN:
        return replace(attribute, label=previous, confidence=held)
    return attribute if attribute.confidence >= min_confidence else attribute.withheld()
