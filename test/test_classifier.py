import json
from pathlib import Path

import numpy as np
import pytest

from conftest import EMOTION_MODEL, GENDER_MODEL
from face_affect.classifiers import OnnxClassifier
from face_affect.errors import ModelError
from face_affect.types import Attribute
from model_files import rewrite_metadata


def test_committed_models_describe_themselves():
    emotion = OnnxClassifier(EMOTION_MODEL, expected_task="emotion")
    assert emotion.labels == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert (emotion.input_width, emotion.input_height) == (48, 48)
    gender = OnnxClassifier(GENDER_MODEL, expected_task="gender")
    assert gender.labels == ("woman", "man")
    assert (gender.input_width, gender.input_height) == (64, 64)
    for model in (emotion, gender):
        assert len(model.crop_margin) == 4
        assert all(-0.5 < side < 0.5 for side in model.crop_margin)


def test_batches_of_any_size_give_probabilities():
    emotion = OnnxClassifier(EMOTION_MODEL)
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (size, size), dtype=np.uint8) for size in (30, 48, 120)]
    probabilities = emotion.predict(crops)
    assert probabilities.shape == (3, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(emotion.predict(crops[1:2])[0], probabilities[1], atol=1e-5)
    assert emotion.predict([]).shape == (0, 7)


def test_missing_file_is_named():
    with pytest.raises(ModelError, match="nonexistent.onnx: model file not found"):
        OnnxClassifier("/nonexistent.onnx")


def test_corrupt_file_is_named(tmp_path: Path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(EMOTION_MODEL.read_bytes()[:1000])
    with pytest.raises(ModelError, match="corrupt.onnx: not a loadable ONNX model"):
        OnnxClassifier(corrupt)


def test_missing_labels_are_reported(tmp_path: Path):
    path = rewrite_metadata(EMOTION_MODEL, tmp_path / "no_labels.onnx", labels=None)
    with pytest.raises(ModelError, match="no_labels.onnx: metadata lacks labels"):
        OnnxClassifier(path)


def test_labels_that_do_not_match_the_output_are_reported(tmp_path: Path):
    path = rewrite_metadata(EMOTION_MODEL, tmp_path / "three_labels.onnx", labels=json.dumps(["a", "b", "c"]))
    with pytest.raises(ModelError, match="does not match 3 labels"):
        OnnxClassifier(path)


def test_input_size_that_does_not_match_the_graph_is_reported(tmp_path: Path):
    path = rewrite_metadata(EMOTION_MODEL, tmp_path / "wrong_size.onnx", input_size="[64, 64]")
    with pytest.raises(ModelError, match="input shape"):
        OnnxClassifier(path)


def test_a_model_of_the_wrong_task_is_refused():
    with pytest.raises(ModelError, match="task is 'gender', expected 'emotion'"):
        OnnxClassifier(GENDER_MODEL, expected_task="emotion")


def test_numeric_labels_make_an_estimate_of_a_quantity():
    ages = ("0", "10", "20", "40")
    attribute = Attribute.from_probabilities(np.array([0.0, 0.5, 0.5, 0.0]), ages)
    assert attribute.value == pytest.approx(15.0) and attribute.spread == pytest.approx(5.0)
    assert attribute.label == "15" and attribute.confidence == pytest.approx(1.0)  # both within 5 years
    assert attribute.to_json("age") == {
        "age": 15.0,
        "age_std": 5.0,
        "age_confidence": attribute.confidence,
        "age_probabilities": {"0": 0.0, "10": 0.5, "20": 0.5, "40": 0.0},
    }
    named = Attribute.from_probabilities(np.array([0.2, 0.8]), ("woman", "man"))
    assert (named.label, named.value) == ("man", None)
