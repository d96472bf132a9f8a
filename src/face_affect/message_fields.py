"""A tracked result as the fields of our ``FaceAffect`` message, without ROS.

The nodes fill rospy's generated class from these, the bag writer (:mod:`face_affect.recordings`)
the class that ``rosbags`` builds from ``msg/``: one layout for both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from face_affect.types import Attribute, FaceResult


def probabilities_in_order(attribute: Attribute, labels: Sequence[str]) -> list[float]:
    return [float(attribute.probabilities[label]) for label in labels]


def attribute_fields(prefix: str, attribute: Attribute | None, labels: Sequence[str]) -> dict[str, object]:
    """``{prefix}``, ``{prefix}_confidence`` and ``{prefix}_probabilities`` of a FaceAffect; empty ones if unknown."""
    if attribute is None:
        return {prefix: "", f"{prefix}_confidence": 0.0, f"{prefix}_probabilities": []}
    return {
        prefix: attribute.label,
        f"{prefix}_confidence": attribute.confidence,
        f"{prefix}_probabilities": probabilities_in_order(attribute, labels),
    }


def quantity_fields(prefix: str, attribute: Attribute | None) -> dict[str, float]:
    """``{prefix}`` (years) and ``{prefix}_std`` of an age estimate; NaN and 0 where there is none."""
    if attribute is None or attribute.value is None:
        return {prefix: math.nan, f"{prefix}_std": 0.0}
    return {prefix: attribute.value, f"{prefix}_std": attribute.spread or 0.0}


def affect_fields(result: FaceResult, gender_labels: Sequence[str], emotion_labels: Sequence[str]) -> dict[str, object]:
    """A FaceAffect's fields but ``roi`` and ``first_seen`` (whose classes differ): ``attributes`` smoothed,
    ``frame_attributes`` per frame."""
    fields: dict[str, object] = {"track_id": result.track_id or "", "detected": result.detected}
    for task, labels in (("gender", gender_labels), ("emotion", emotion_labels)):
        fields.update(attribute_fields(task, result.attributes.get(task), labels))
        fields.update(attribute_fields(f"frame_{task}", (result.frame_attributes or {}).get(task), labels))
    age = result.attributes.get("age")
    fields.update(quantity_fields("age", age), age_confidence=age.confidence if age else 0.0)
    fields.update(quantity_fields("frame_age", (result.frame_attributes or {}).get("age")))
    return fields
