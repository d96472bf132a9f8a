"""The values the library passes around: boxes, margins and results. Dataclasses only, no behaviour
beyond conversions, so every module can use them without importing another's code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.width, self.height]

    def corners(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``."""
        return (self.x, self.y, self.x + self.width, self.y + self.height)


@dataclass
class Attribute:
    """One classifier's answer for one face."""

    label: str
    confidence: float
    probabilities: dict[str, float]

    @classmethod
    def from_probabilities(cls, probabilities: np.ndarray, labels: tuple[str, ...]) -> Attribute:
        best = int(np.argmax(probabilities))
        return cls(
            label=labels[best],
            confidence=float(probabilities[best]),
            probabilities={label: float(p) for label, p in zip(labels, probabilities)},
        )

    def to_json(self, task: str) -> dict[str, Any]:
        """``{task, task_confidence, task_probabilities}``: the CLI's keys for one attribute."""
        return {task: self.label, f"{task}_confidence": self.confidence, f"{task}_probabilities": self.probabilities}


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
