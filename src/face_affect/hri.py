"""What the ROS4HRI (REP-155) face topics say, computed from the library's results without ROS.

The ROS adapter (:mod:`face_affect.ros.hri`) turns these numbers and names into ``hri_msgs``
messages; everything that can be decided without a master is decided and tested here.

Valence and arousal come from the emotion probabilities on Russell's circumplex of affect
(Russell, 1980, *A circumplex model of affect*, J. Pers. Soc. Psychol. 39(6)): each class sits
on the unit circle at the angle Russell's scaling gave its word (pleasure at 0 degrees, arousal at
90), and a face's point is the probability-weighted mean of its classes' points. Neutral sits at
the centre. Russell's 28 words do not include disgust; it is placed with distress (135 degrees),
unpleasant and moderately aroused. Angles are rounded to 5 degrees: the model's classes are
coarser than the scaling's precision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from face_affect.types import FaceBox

EXPRESSIONS = {
    "angry": "ANGRY",
    "disgust": "DISGUSTED",
    "fear": "SCARED",
    "happy": "HAPPY",
    "sad": "SAD",
    "surprise": "SURPRISED",
    "neutral": "NEUTRAL",
}
"""The emotion model's labels to the names of ``hri_msgs/Expression``'s constants (not their values:
ROS 1 keeps the constants' quotes, so only the message class knows what a client compares with)."""

GENDERS = {"woman": "FEMALE", "man": "MALE"}
"""The gender model's labels to the names of ``hri_msgs/SoftBiometrics``'s constants; an unknown
(unsure) gender is ``UNDEFINED``."""
UNDEFINED_GENDER = "UNDEFINED"

CIRCUMPLEX_DEGREES = {"happy": 10.0, "surprise": 70.0, "angry": 100.0, "fear": 115.0, "disgust": 135.0, "sad": 210.0}
"""Each emotion's angle on Russell's circumplex (see the module's docstring); others (neutral) sit at the centre."""
CIRCUMPLEX_POINTS = {
    label: (math.cos(math.radians(degrees)), math.sin(math.radians(degrees)))
    for label, degrees in CIRCUMPLEX_DEGREES.items()
}
"""``(valence, arousal)`` of each emotion with an angle: on the unit circle."""


def valence_arousal(probabilities: Mapping[str, float]) -> tuple[float, float]:
    """``(valence, arousal)`` in -1..1: the probability-weighted mean of the classes' circumplex points."""
    total = sum(probabilities.values())
    if total <= 0:
        return 0.0, 0.0
    valence = arousal = 0.0
    for label, probability in probabilities.items():
        point = CIRCUMPLEX_POINTS.get(label)
        if point is not None:
            valence += probability * point[0]
            arousal += probability * point[1]
    return valence / total, arousal / total


def normalized_corners(box: FaceBox, image_width: int, image_height: int) -> tuple[float, float, float, float]:
    """``(xmin, ymin, xmax, ymax)`` of a box divided by the image size: 0..1 for a box inside the image."""
    if image_width <= 0 or image_height <= 0:
        raise ValueError(f"image size {image_width}x{image_height} is empty")
    x0, y0, x1, y1 = box.corners()
    return x0 / image_width, y0 / image_height, x1 / image_width, y1 / image_height


def expression_name(emotion_label: str) -> str | None:
    """The ``hri_msgs/Expression`` constant's name for an emotion label; ``None`` for an unknown (unsure)
    estimate or a label REP-155 does not list."""
    return EXPRESSIONS.get(emotion_label)


def gender_name(gender_label: str) -> str:
    """The ``hri_msgs/SoftBiometrics`` gender constant's name; ``UNDEFINED`` while the estimate is unsure."""
    return GENDERS.get(gender_label, UNDEFINED_GENDER)
