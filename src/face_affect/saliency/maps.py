"""Guided back-propagation maps of a classifier for face crops.

The paper (Arriaga et al., 2017, Sec. 5 and Fig. 8) uses guided back-propagation
to see which pixels drive a class score, which is how biases such as "glasses
read as angry" show up. The maps come from the classifier's own ONNX file
(:mod:`face_affect.saliency.graph`), so they explain exactly the model
that produced the labels, and cost one onnxruntime run per batch of faces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnx

from face_affect.classifiers import OnnxClassifier, model_crops
from face_affect.cropping import to_model_input
from face_affect.errors import ModelError
from face_affect.saliency.graph import (
    CLASSES_INPUT,
    EXPLAINED_OUTPUT,
    GRADIENT_OUTPUT,
    PROBABILITIES_OUTPUT,
    UnsupportedGraphError,
    guided_backpropagation_model,
    single_head_model,
)
from face_affect.sessions import open_session
from face_affect.types import FaceBox

PREDICTED = -1
"""Class index meaning "the class the model predicts for this face"."""


@dataclass
class SaliencyMaps:
    """Guided gradients ``float32 [N, H, W]`` of one class score per face, w.r.t. raw pixels."""

    gradients: np.ndarray
    classes: np.ndarray
    probabilities: np.ndarray
    labels: tuple[str, ...]

    @property
    def class_names(self) -> list[str]:
        return [self.labels[index] for index in self.classes]


class GuidedBackpropagation:
    """Guided back-propagation for the faces a classifier sees, on its own onnxruntime session."""

    def __init__(self, classifier: OnnxClassifier, threads: int = 1) -> None:
        self.classifier = classifier
        try:
            model = onnx.load(str(classifier.path))
            if len(model.graph.output) > 1:  # one head of a multi-head file: its part of the graph
                model = single_head_model(model, classifier.output_name)
            model = guided_backpropagation_model(model)
        except UnsupportedGraphError as error:
            raise ModelError(f"{classifier.path}: no guided back-propagation ({error})") from error
        self.session = open_session(model.SerializeToString(), threads, label=classifier.path)

    @property
    def task(self) -> str:
        return self.classifier.task

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def explain(self, grey_crops: list[np.ndarray], classes: Sequence[int | str] | None = None) -> SaliencyMaps:
        """Maps for grey crops of any size (made at the classifier's ``crop_margin``).

        ``classes``: one class per face, as index or label; ``None`` explains the
        predicted class of every face.
        """
        batch = to_model_input(grey_crops, self.classifier.input_width, self.classifier.input_height)
        return self.explain_batch(batch, classes)

    def explain_batch(self, batch: np.ndarray, classes: Sequence[int | str] | None = None) -> SaliencyMaps:
        """Maps for an already-sized ``float32 [N, 1, H, W]`` batch of raw pixels."""
        indices = self.class_indices(classes, len(batch))
        if not len(batch):
            height, width = self.classifier.input_height, self.classifier.input_width
            return SaliencyMaps(
                np.zeros((0, height, width), np.float32), indices, np.zeros((0, len(self.labels))), self.labels
            )
        gradients, probabilities, explained = self.session.run(
            [GRADIENT_OUTPUT, PROBABILITIES_OUTPUT, EXPLAINED_OUTPUT],
            {self.classifier.input_name: batch, CLASSES_INPUT: indices},
        )
        return SaliencyMaps(gradients[:, 0], explained, probabilities, self.labels)

    def class_indices(self, classes: Sequence[int | str] | None, count: int) -> np.ndarray:
        if classes is None:
            return np.full(count, PREDICTED, dtype=np.int64)
        if len(classes) != count:
            raise ValueError(f"{len(classes)} classes for {count} faces")
        indices = [self.labels.index(name) if isinstance(name, str) else int(name) for name in classes]
        if any(index >= len(self.labels) for index in indices):
            raise ValueError(f"class index out of range for {len(self.labels)} labels: {indices}")
        return np.array(indices, dtype=np.int64)


def explain_faces(
    explainer: GuidedBackpropagation, crops: list[np.ndarray], boxes: Sequence[FaceBox], crop_margin: float
) -> tuple[list[np.ndarray], SaliencyMaps]:
    """The explainer's own crops, cut out of crops made at ``crop_margin`` around ``boxes``, and their maps:
    the steps the CLI and the classifier node share."""
    own_crops = model_crops(explainer.classifier, crops, boxes, crop_margin)
    return own_crops, explainer.explain(own_crops)
