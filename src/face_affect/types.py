"""The values the library passes around: boxes, margins and results. Dataclasses only, no behaviour
beyond conversions, so every module can use them without importing another's code."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

Margins = tuple[float, float, float, float]
"""Growth of a detector box (left, top, right, bottom) as fractions of its width and height."""


def as_margins(margin: float | Sequence[float]) -> Margins:
    """One number for all four sides, or four numbers (left, top, right, bottom)."""
    if isinstance(margin, (int, float)):
        return (float(margin),) * 4
    values = tuple(float(value) for value in margin)
    if len(values) != 4:
        raise ValueError(f"expected one margin or four (left, top, right, bottom), got {margin!r}")
    return values  # type: ignore[return-value]


@dataclass(frozen=True)
class FaceBox:
    """A detected face: top-left corner and size in source pixels, and a detector score."""

    x: int
    y: int
    width: int
    height: int
    score: float = 1.0
    keypoints: tuple[float, ...] = ()
    """BlazeFace's six keypoints as x, y in source pixels (``face_affect.quality.KEYPOINT_NAMES``); empty from Haar."""

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.width, self.height]

    def corners(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``."""
        return (self.x, self.y, self.x + self.width, self.y + self.height)


QUANTITY_TOLERANCE = 5.0
"""For a quantity (age in years), the confidence is the probability of lying within this of the estimate."""


def expectation_and_spread(probabilities: np.ndarray, quantities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over ``quantities [K]`` of (rows of) probabilities ``[..., K]``."""
    weights = np.asarray(probabilities, np.float64)
    weights = weights / np.maximum(weights.sum(axis=-1, keepdims=True), 1e-12)
    mean = weights @ quantities
    return mean, np.sqrt(np.maximum(weights @ quantities**2 - mean**2, 0.0))


@functools.lru_cache(maxsize=64)
def numeric_labels(labels: tuple[str, ...]) -> tuple[float, ...] | None:
    """The labels as numbers when every one is a number (an age model's classes are ages), else ``None``.

    Cached: it is asked for every face, task and frame, and a model's labels never change.
    """
    try:
        return tuple(float(label) for label in labels)
    except ValueError:
        return None


@dataclass
class Attribute:
    """One classifier's answer for one face.

    A model whose class labels are numbers estimates a quantity (age: the labels are ages in
    years): ``value`` is then the expectation of the probabilities over them, ``spread`` their
    standard deviation, ``label`` the value rounded, and ``confidence`` the probability within
    :data:`QUANTITY_TOLERANCE` of the value. Otherwise ``label`` is the most probable class.
    """

    label: str
    """Empty when the estimate is unsure (:meth:`withheld`); its probabilities are still there."""
    confidence: float
    probabilities: dict[str, float]
    value: float | None = None
    spread: float | None = None

    @property
    def is_stated(self) -> bool:
        return bool(self.label)

    def withheld(self) -> Attribute:
        """This estimate with its label left out: not sure enough to state (``*_min_confidence``)."""
        return replace(self, label="")

    @classmethod
    def from_probabilities(cls, probabilities: np.ndarray, labels: tuple[str, ...]) -> Attribute:
        named = {label: float(p) for label, p in zip(labels, probabilities)}
        numbers = numeric_labels(tuple(labels))
        if numbers is not None:
            quantities = np.array(numbers)
            mean, deviation = expectation_and_spread(probabilities, quantities)
            value, spread = float(mean), float(deviation)
            near = float(np.sum(np.asarray(probabilities)[np.abs(quantities - value) <= QUANTITY_TOLERANCE]))
            return cls(label=f"{value:.0f}", confidence=near, probabilities=named, value=value, spread=spread)
        best = int(np.argmax(probabilities))
        return cls(label=labels[best], confidence=float(probabilities[best]), probabilities=named)

    def to_json(self, task: str) -> dict[str, Any]:
        """``{task, task_confidence, task_probabilities}``: the CLI's keys for one attribute; a quantity's
        ``task`` is its value (rounded to 0.1) and ``task_std`` its standard deviation."""
        if self.value is not None:
            return {
                task: round(self.value, 1),
                f"{task}_std": round(self.spread or 0.0, 1),
                f"{task}_confidence": self.confidence,
                f"{task}_probabilities": self.probabilities,
            }
        return {
            task: self.label or None,  # unsure: null
            f"{task}_confidence": self.confidence,
            f"{task}_probabilities": self.probabilities,
        }


@dataclass
class FaceResult:
    """One face of one frame: its box and one :class:`Attribute` per classifier task."""

    box: FaceBox
    attributes: dict[str, Attribute] = field(default_factory=dict)
    track_id: str | None = None
    """The person's track (:mod:`face_affect.tracking`); ``None`` for a single image."""
    frame_attributes: dict[str, Attribute] | None = None
    """For a tracked face, the last per-frame estimates; ``attributes`` are then the smoothed ones."""
    first_seen: float | None = None
    """For a tracked face, when its track began (seconds, the frames' clock)."""
    detected: bool = True
    """False while a tracked face coasts through missed detections (its box is then predicted)."""

    @property
    def gender(self) -> Attribute:
        return self.attributes["gender"]

    @property
    def emotion(self) -> Attribute:
        return self.attributes["emotion"]

    @property
    def age(self) -> Attribute | None:
        """The age estimate, when an age model runs."""
        return self.attributes.get("age")

    def to_json(self) -> dict[str, Any]:
        """The CLI's and demo's JSON schema for one face: box, score and each task's keys; a tracked
        face adds ``track_id``, ``first_seen``, ``detected`` and its per-frame estimates under ``frame``."""
        record: dict[str, Any] = {"box": self.box.as_list(), "score": self.box.score}
        if self.track_id is not None:
            record.update(track_id=self.track_id, first_seen=self.first_seen, detected=self.detected)
        for task, attribute in self.attributes.items():
            record.update(attribute.to_json(task))
        if self.frame_attributes is not None:
            record["frame"] = {}
            for task, attribute in self.frame_attributes.items():
                record["frame"].update(attribute.to_json(task))
        return record
