"""ROS4HRI output: the mappings of face_affect.hri, without ROS (the messages: test_ros_adapters.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from face_affect.classifiers import OnnxClassifier
from face_affect.hri import (
    CIRCUMPLEX_DEGREES,
    EXPRESSIONS,
    expression_name,
    gender_name,
    normalized_corners,
    valence_arousal,
)
from face_affect.settings import DEFAULTS, resolve_model_path
from face_affect.types import FaceBox

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_every_emotion_of_the_shipped_model_has_an_expression_and_neutral_alone_sits_at_the_centre():
    labels = OnnxClassifier(resolve_model_path(DEFAULTS.emotion_model)).labels
    assert set(labels) == set(EXPRESSIONS) == set(EMOTIONS)
    assert set(EMOTIONS) - set(CIRCUMPLEX_DEGREES) == {"neutral"}


def test_valence_and_arousal_follow_the_circumplex_and_stay_in_range():
    happy = valence_arousal({"happy": 1.0, "sad": 0.0})
    sad = valence_arousal({"happy": 0.0, "sad": 1.0})
    assert happy[0] > 0.9 and sad[0] < -0.8 and sad[1] < 0 < happy[1]
    angry, fear = valence_arousal({"angry": 1.0}), valence_arousal({"fear": 1.0})
    assert angry[0] < 0 < angry[1] and fear[1] > 0.85
    assert valence_arousal({"neutral": 1.0}) == (0.0, 0.0)
    assert valence_arousal({}) == (0.0, 0.0)
    for probabilities in np.random.default_rng(0).dirichlet(np.ones(7), size=200):
        valence, arousal = valence_arousal(dict(zip(EMOTIONS, probabilities)))
        assert -1.0 <= valence <= 1.0 and -1.0 <= arousal <= 1.0 and math.hypot(valence, arousal) <= 1.0 + 1e-9


def test_boxes_are_divided_by_the_image_size():
    assert normalized_corners(FaceBox(64, 48, 64, 96), 640, 480) == (0.1, 0.1, 0.2, 0.3)
    assert normalized_corners(FaceBox(0, 0, 640, 480), 640, 480) == (0.0, 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="empty"):
        normalized_corners(FaceBox(0, 0, 1, 1), 0, 480)


def test_unknown_labels_are_unsure():
    assert expression_name("happy") == "HAPPY" and expression_name("") is None and expression_name("bored") is None
    assert gender_name("woman") == "FEMALE" and gender_name("man") == "MALE" and gender_name("") == "UNDEFINED"
