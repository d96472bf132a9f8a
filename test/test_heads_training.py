"""The three-headed network: masked losses, resumable training and its multi-head ONNX file (imports torch)."""

import json
from dataclasses import replace

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch", reason="the training extra (torch) is not installed")
pytestmark = pytest.mark.training

from face_affect.classifiers import FaceClassifiers, OnnxClassifier  # noqa: E402
from face_affect.saliency import GuidedBackpropagation  # noqa: E402
from face_affect.training.age import AGE_BINS  # noqa: E402
from face_affect.training.datasets import FER2013_CLASSES, GENDER_CLASSES, LabelledSplits  # noqa: E402
from face_affect.training.export import torch_probabilities  # noqa: E402
from face_affect.training.heads import (  # noqa: E402
    NO_LABEL,
    TASK_CLASSES,
    HeadsConfig,
    HeadsData,
    HeadSplits,
    export_heads,
    head_losses,
    load_heads_checkpoint,
    train_heads,
)

SIZE = 24
FRAMING = (-0.016, -0.103, 0.0, 0.076)


def small_splits(seed: int = 0) -> HeadSplits:
    """Random faces: a third with emotion labels and votes, a third gender and age, a third age only."""
    rng = np.random.default_rng(seed)
    count = 48
    emotion = np.where(np.arange(count) < 16, rng.integers(0, 7, count), NO_LABEL)
    gender = np.where((np.arange(count) >= 16) & (np.arange(count) < 32), rng.integers(0, 2, count), NO_LABEL)
    age = np.where(np.arange(count) >= 16, rng.uniform(1, 80, count), NO_LABEL).astype(np.float32)
    votes = np.zeros((count, 7), np.float32)
    votes[:8] = rng.integers(0, 5, (8, 7))
    weights = {
        "emotion": (emotion != NO_LABEL).astype(np.float32),
        "gender": (gender != NO_LABEL).astype(np.float32),
        "age": (age != NO_LABEL).astype(np.float32),
    }
    train = HeadsData(
        rng.integers(0, 256, (count, SIZE, SIZE), dtype=np.uint8), emotion, votes, gender, age, weights, FRAMING
    )

    def splits(classes: tuple[str, ...], extra: bool) -> LabelledSplits:
        images = {split: rng.integers(0, 256, (12, SIZE, SIZE), dtype=np.uint8) for split in ("val", "test")}
        labels = {split: rng.integers(0, len(classes), 12) for split in images}
        side = {split: {"age": rng.integers(1, 80, 12), "race": rng.integers(0, 5, 12)} for split in images}
        votes = {split: rng.integers(0, 5, (12, len(classes))).astype(np.float32) for split in images}
        return LabelledSplits(classes, images, labels, side if extra else {}, votes)

    tasks = {
        "emotion": splits(FER2013_CLASSES, False),
        "gender": splits(GENDER_CLASSES, True),
        "age": splits(tuple(str(age) for age in AGE_BINS), True),
    }
    return HeadSplits(train, tasks, FRAMING)


def test_each_face_teaches_only_the_heads_it_has_labels_for():
    data = small_splits().train
    config = HeadsConfig(widths=(8, 16))
    targets = {
        "emotion": torch.from_numpy(data.emotion),
        "votes": torch.from_numpy(data.votes),
        "gender": torch.from_numpy(data.gender),
        "age": torch.from_numpy(data.age),
        "age_targets": torch.zeros(len(data.age), len(AGE_BINS)),
        "age_values": torch.tensor([float(age) for age in AGE_BINS]),
        "weights": {task: torch.from_numpy(values) for task, values in data.weights.items()},
    }
    outputs = {task: torch.randn(4, len(classes), requires_grad=True) for task, classes in TASK_CLASSES.items()}
    losses = head_losses(outputs, torch.tensor([0, 1, 2, 3]), targets, config)  # emotion faces only
    assert set(losses) == {"emotion"}
    sum(losses.values()).backward()
    assert outputs["gender"].grad is None and outputs["emotion"].grad.abs().sum() > 0
    losses = head_losses(outputs, torch.tensor([40, 41, 42, 43]), targets, config)  # children: age only
    assert set(losses) == {"age"}


def test_a_resumed_run_ends_as_an_uninterrupted_one_and_exports_one_file(tmp_path):
    splits = small_splits()
    config = HeadsConfig(widths=(8, 16), input_size=SIZE, epochs=2, batch_size=16)
    whole = train_heads(splits, config, tmp_path / "whole")
    train_heads(splits, config, tmp_path / "parts", epochs_now=1)
    assert len((tmp_path / "parts" / "log.jsonl").read_text().splitlines()) == 1
    parts = train_heads(splits, config, tmp_path / "parts", epochs_now=1)
    for name, value in torch.load(whole, weights_only=False)["network"].items():
        torch.testing.assert_close(torch.load(parts, weights_only=False)["network"][name], value)
    second = replace(config, epochs=1, learning_rate=0.0, initial_weights=str(whole))  # a second stage
    started = torch.load(train_heads(splits, second, tmp_path / "second"), weights_only=False)["network"]
    network, _ = load_heads_checkpoint(whole)
    for name, value in network.named_parameters():  # batch-norm statistics move, weights do not
        torch.testing.assert_close(started[name], value)
    record = json.loads((tmp_path / "whole" / "log.jsonl").read_text().splitlines()[-1])
    assert set(record["val"]["relative_errors"]) == set(TASK_CLASSES)

    path = tmp_path / "heads.onnx"
    export_heads(whole, path, "python -m face_affect.training train-heads ...", flip_average=True)
    model = onnx.load(str(path))
    assert [output.name for output in model.graph.output] == list(TASK_CLASSES)
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    assert json.loads(metadata["tasks"]) == list(TASK_CLASSES)
    assert json.loads(metadata["labels_gender"]) == list(GENDER_CLASSES)
    assert json.loads(metadata["crop_margin"]) == list(FRAMING)
    network, state = load_heads_checkpoint(whole)
    batch = np.random.default_rng(1).uniform(0, 255, (5, 1, SIZE, SIZE)).astype(np.float32)
    reference = torch_probabilities(network, batch, True, state["normalization"])
    for task, expected in zip(TASK_CLASSES, reference):
        head = OnnxClassifier(path, task=task)
        np.testing.assert_allclose(head.predict_batch(batch), expected, atol=1e-5)
    settings = {"gender_model": str(path), "emotion_model": str(path), "age_model": str(path)}
    classifiers = FaceClassifiers.from_settings(settings)
    assert len(classifiers.sessions) == 1 and classifiers.model_files == [str(path)]
    maps = GuidedBackpropagation(classifiers.classifiers["emotion"]).explain_batch(batch)
    np.testing.assert_allclose(maps.probabilities, reference[0], atol=1e-5)
