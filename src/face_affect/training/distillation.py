"""Knowledge distillation: a small network also learns the softened outputs of a teacher ensemble.

Several mini-Xceptions trained with different seeds agree more often with the truth
than any one of them (on UTKFace's validation split: 95.7% and 95.1% alone, 96.1%
together), but the robot can afford one network per face. Training one more network
to match the ensemble's class probabilities as well as the labels (Hinton, Vinyals and
Dean, 2015) moves it towards the ensemble at no cost at run time.

A teacher is a run's ``best.pt`` or an exported ONNX file: earlier generations of a model,
kept only as files, add the diversity an ensemble lives on (emotion, FER-2013 test: the two
newest runs together 65.2%, with the shipped file and two earlier ones 65.8%).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as functional
from torch import Tensor, nn

from face_affect.classifiers import OnnxClassifier
from face_affect.training.graph import build_network

SMALLEST_PROBABILITY = 1e-7
"""ONNX teachers give probabilities; their logarithm is floored here (a calibrated softmax rarely goes lower)."""


class TeacherEnsemble(nn.Module):
    """The mean log-probabilities of trained networks: runs' ``best.pt`` (beside their ``config.json``,
    fed the student's normalised batch) and ONNX files (fed the raw pixels; their graph normalises).

    The mean of log-probabilities and the mean of logits give the same softmax: they differ by
    one constant per face.
    """

    def __init__(self, teachers: Sequence[Path], num_classes: int, class_names: Sequence[str] = ()) -> None:
        super().__init__()
        networks, files = [], []
        for teacher in teachers:
            if teacher.suffix == ".onnx":
                files.append(onnx_teacher(teacher, num_classes, class_names))
                continue
            config = json.loads((teacher.parent / "config.json").read_text())
            network = build_network(config["architecture"], num_classes)
            network.load_state_dict(torch.load(teacher, weights_only=False)["network"])
            networks.append(network.eval().to(memory_format=torch.channels_last))
        self.networks = nn.ModuleList(networks)
        self.files = files
        self.requires_grad_(False)

    @torch.no_grad()
    def forward(self, normalised: Tensor, raw: Tensor | None = None) -> Tensor:
        """``normalised`` as the student sees it; ``raw``, the same batch in 0..255 pixels, for ONNX teachers."""
        outputs = [functional.log_softmax(network(normalised), dim=1) for network in self.networks]
        if self.files:
            if raw is None:
                raise ValueError("ONNX teachers need the raw batch")
            pixels = np.ascontiguousarray(raw.numpy(), dtype=np.float32)
            for classifier in self.files:
                probabilities = classifier.predict_batch(pixels)
                outputs.append(torch.from_numpy(np.log(np.maximum(probabilities, SMALLEST_PROBABILITY))))
        return torch.stack(outputs).mean(0)

    def train(self, mode: bool = True) -> TeacherEnsemble:
        """Always in evaluation mode: the teachers' batch-norm statistics stay as trained."""
        return super().train(False)


def onnx_teacher(path: Path, num_classes: int, class_names: Sequence[str]) -> OnnxClassifier:
    """An exported model as a teacher; its classes must be the data's, in the data's order."""
    classifier = OnnxClassifier(path)
    if len(classifier.labels) != num_classes or (class_names and tuple(classifier.labels) != tuple(class_names)):
        raise ValueError(f"{path}: classes {classifier.labels}, the data set has {tuple(class_names)}")
    return classifier


def distillation_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """KL divergence of the student's from the teacher's softened distribution, scaled by the
    squared temperature so its gradients keep their size as the temperature changes."""
    return (
        functional.kl_div(
            functional.log_softmax(student_logits / temperature, dim=1),
            functional.log_softmax(teacher_logits / temperature, dim=1),
            reduction="batchmean",
            log_target=True,
        )
        * temperature**2
    )
