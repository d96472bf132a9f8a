"""Knowledge distillation: a small network also learns the softened outputs of a teacher ensemble.

Several mini-Xceptions trained with different seeds agree more often with the truth
than any one of them (on UTKFace's validation split: 95.7% and 95.1% alone, 96.1%
together), but the robot can afford one network per face. Training one more network
to match the ensemble's class probabilities as well as the labels (Hinton, Vinyals and
Dean, 2015) moves it towards the ensemble at no cost at run time.

A teacher is a run's ``best.pt`` or an exported ONNX file: earlier generations of a model,
kept only as files, add the diversity an ensemble lives on (emotion, FER-2013 validation: the
two newest runs together 64.3%, with three earlier files 64.6%; the model card has the front).
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
from face_affect.training.calibration import PROBABILITY_FLOOR
from face_affect.training.graph import build_network, normalise


class TeacherEnsemble(nn.Module):
    """The mean log-probabilities of trained networks at their own logits' scale: runs' ``best.pt``
    (beside their ``config.json``, each fed the batch normalised its own way) and ONNX files (fed
    the raw pixels; their graph normalises, and their calibration temperature is undone).

    The mean of log-softmaxes gives the same softmax as the mean of the logits: each differs
    from its logits by one constant per face.
    """

    def __init__(
        self,
        teachers: Sequence[Path],
        num_classes: int,
        class_names: Sequence[str] = (),
        image_size: tuple[int, int] | None = None,
        threads: int = 1,
    ) -> None:
        """``image_size`` ``(width, height)`` of the training images, which ONNX teachers must take."""
        super().__init__()
        networks, normalizations, onnx_teachers = [], [], []
        for teacher in teachers:
            if teacher.suffix.lower() == ".onnx":
                onnx_teachers.append(onnx_teacher(teacher, num_classes, class_names, image_size, threads))
                continue
            config = json.loads((teacher.parent / "config.json").read_text())
            network = build_network(config["architecture"], num_classes, widths=config.get("widths", ()))
            network.load_state_dict(torch.load(teacher, weights_only=False)["network"])
            networks.append(network.eval().to(memory_format=torch.channels_last))
            normalizations.append(config.get("normalization", "scale"))
        self.networks = nn.ModuleList(networks)
        self.normalizations = normalizations
        self.onnx_teachers = onnx_teachers
        self.onnx_temperatures = [float(teacher.metadata.get("temperature", 1.0)) for teacher in onnx_teachers]
        self.requires_grad_(False)

    @torch.no_grad()
    def forward(self, raw: Tensor) -> Tensor:
        """``raw``: the student's batch in 0..255 pixels, ``[N, 1, H, W]``."""
        normalised = {  # once per normalisation, however many teachers share it
            normalization: normalise(raw, normalization).contiguous(memory_format=torch.channels_last)
            for normalization in set(self.normalizations)
        }
        outputs = [
            functional.log_softmax(network(normalised[normalization]), 1)
            for network, normalization in zip(self.networks, self.normalizations)
        ]
        if self.onnx_teachers:
            pixels = np.ascontiguousarray(raw.numpy(), dtype=np.float32)
            for classifier, temperature in zip(self.onnx_teachers, self.onnx_temperatures):
                probabilities = np.maximum(classifier.predict_batch(pixels), PROBABILITY_FLOOR)
                outputs.append(functional.log_softmax(torch.from_numpy(np.log(probabilities) * temperature), 1))
        return torch.stack(outputs).mean(0)

    def train(self, mode: bool = True) -> TeacherEnsemble:
        """Always in evaluation mode: the teachers' batch-norm statistics stay as trained."""
        return super().train(False)


def onnx_teacher(
    path: Path,
    num_classes: int,
    class_names: Sequence[str] = (),
    image_size: tuple[int, int] | None = None,
    threads: int = 1,
) -> OnnxClassifier:
    """An exported model as a teacher; its classes must be the data's, in the data's order (ages as
    numbers), and its input the training images' size."""
    classifier = OnnxClassifier(path, threads)
    if image_size is not None and (classifier.input_width, classifier.input_height) != tuple(image_size):
        raise ValueError(
            f"{path}: input {classifier.input_width}x{classifier.input_height}, "
            f"the training images are {image_size[0]}x{image_size[1]}"
        )

    def same(first: str, second: str) -> bool:
        try:
            return float(first) == float(second)
        except ValueError:
            return first == second

    if len(classifier.labels) != num_classes or (
        class_names and not all(same(*pair) for pair in zip(classifier.labels, class_names))
    ):
        raise ValueError(f"{path}: classes {classifier.labels}, the data set has {num_classes}: {tuple(class_names)}")
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
