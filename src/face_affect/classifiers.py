"""A self-describing ONNX classifier: labels, input size, colour and crop come from its metadata.

The contract every model under ``models/`` follows: input ``float32 [N, C, H, W]``
of raw 0..255 pixels (normalisation is inside the graph), output class
probabilities ``[N, K]`` (softmax inside the graph), and ``metadata_props``:

=================  ===========================================================
``task``           what the model estimates (``emotion``, ``gender``, ...): results are keyed by it
``labels``         JSON list of class names in output order
``input_color``    ``grey`` (C = 1)
``input_size``     JSON ``[width, height]``
``crop_margin``    JSON ``[left, top, right, bottom]``: growth of the detector box that
                   reproduces the training framing (see ``preprocessing``)
``normalization``  what the graph does to the raw pixels (for people; the graph does it)
``temperature``    optional, for people: the calibration temperature fitted on validation,
                   which the graph applies to the logits before its Softmax
                   (``face_affect.training.calibration``); absent in older files
``class_offsets``  optional, for people: what the graph adds to each class's score before
                   its Softmax (the age file's child classes); absent in older files
=================  ===========================================================

:class:`FaceClassifiers` runs a set of such models, one per task, as the settings list them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from face_affect.cropping import enclosing_margin, recrop, to_model_input, transmissible_margin
from face_affect.errors import ModelError
from face_affect.sessions import open_session
from face_affect.settings import Settings, as_settings
from face_affect.types import Attribute, FaceBox, FaceResult, as_margins

REQUIRED_METADATA = ("task", "labels", "input_color", "input_size", "crop_margin")


class OnnxClassifier:
    def __init__(self, path: str | Path, threads: int = 1, expected_task: str | None = None) -> None:
        self.path = Path(path)
        self.session = open_session(self.path, threads)
        metadata = self.session.get_modelmeta().custom_metadata_map
        missing = [key for key in REQUIRED_METADATA if key not in metadata]
        if missing:
            raise ModelError(f"{self.path}: metadata lacks {', '.join(missing)}")
        self.metadata = dict(metadata)
        self.task = metadata["task"]
        if expected_task is not None and self.task != expected_task:
            raise ModelError(f"{self.path}: task is {self.task!r}, expected {expected_task!r}")
        try:
            self.labels = tuple(str(label) for label in json.loads(metadata["labels"]))
            self.input_width, self.input_height = (int(size) for size in json.loads(metadata["input_size"]))
            self.crop_margin = as_margins(json.loads(metadata["crop_margin"]))
        except (ValueError, TypeError) as error:
            raise ModelError(f"{self.path}: malformed metadata ({error})") from error
        if metadata["input_color"] != "grey":
            raise ModelError(f"{self.path}: input_color {metadata['input_color']!r} is not supported (grey)")
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        shape = model_input.shape
        if len(shape) != 4 or shape[1] != 1 or shape[2:] != [self.input_height, self.input_width]:
            raise ModelError(
                f"{self.path}: input shape {shape} does not match metadata "
                f"[N, 1, {self.input_height}, {self.input_width}]"
            )
        outputs = self.session.get_outputs()[0].shape
        if len(outputs) != 2 or outputs[1] != len(self.labels):
            raise ModelError(f"{self.path}: output shape {outputs} does not match {len(self.labels)} labels")

    def predict(self, grey_crops: list[np.ndarray]) -> np.ndarray:
        """Probabilities ``[N, K]`` for grey face crops of any size (resized here), in one run."""
        if not grey_crops:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        batch = to_model_input(grey_crops, self.input_width, self.input_height)
        return self.predict_batch(batch)

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities for an already-sized ``float32 [N, 1, H, W]`` batch of raw pixels."""
        return self.session.run(None, {self.input_name: batch})[0]


def model_crops(
    classifier: OnnxClassifier, crops: list[np.ndarray], boxes: Sequence[FaceBox], crop_margin: float
) -> list[np.ndarray]:
    """Each classifier's own framing, cut out of crops made at ``crop_margin`` around ``boxes``."""
    return [recrop(crop, box.width, box.height, crop_margin, classifier.crop_margin) for crop, box in zip(crops, boxes)]


class FaceClassifiers:
    """A set of classifiers, one per task, without a detector: what a node that receives crops needs.

    The tasks come from the models' metadata, so a new task is a new model file in the
    settings (``extra_models``), not new code.
    """

    def __init__(self, classifiers: Sequence[OnnxClassifier]) -> None:
        self.classifiers: dict[str, OnnxClassifier] = {}
        for classifier in classifiers:
            if classifier.task in self.classifiers:
                raise ModelError(f"{classifier.path}: a second model for task {classifier.task!r}")
            self.classifiers[classifier.task] = classifier

    @classmethod
    def from_settings(cls, settings: Settings | dict | None = None) -> FaceClassifiers:
        """The models that ``settings`` list: ``gender_model``, ``emotion_model`` and ``age_model`` (each
        checked to be of that task; age only if set), then ``extra_models``.

        Also sets OpenCV's thread count for the process (``opencv_threads``): left at its
        default, Haar detection and resizing spread over every core, which a robot needs
        for other work.
        """
        settings = as_settings(settings)
        cv2.setNumThreads(settings.opencv_threads)
        expected = [task for task, _ in settings.named_models] + [None] * len(settings.extra_models)
        return cls(
            [
                OnnxClassifier(path, settings.onnx_threads, expected_task=task)
                for path, task in zip(settings.model_paths, expected)
            ]
        )

    @property
    def tasks(self) -> list[str]:
        return list(self.classifiers)

    def labels(self, task: str) -> tuple[str, ...]:
        return self.classifiers[task].labels

    @property
    def crop_margin(self) -> float:
        """A uniform margin enclosing every classifier's framing: the crops the detector sends.

        A float32 (:func:`~face_affect.cropping.transmissible_margin`), so that the library, the
        CLI and both nodes crop with the number that ``FaceDetectionArray.crop_margin`` carries.
        """
        return transmissible_margin(enclosing_margin([model.crop_margin for model in self.classifiers.values()]))

    @property
    def model_files(self) -> list[str]:
        """The model files this object runs, for diagnostics: which models a robot really uses."""
        return [str(model.path) for model in self.classifiers.values()]

    def probabilities(
        self, crops: list[np.ndarray], boxes: Sequence[FaceBox], crop_margin: float
    ) -> dict[str, np.ndarray]:
        """Per task, the probabilities ``[N, K]`` of grey crops made at ``crop_margin`` around ``boxes``."""
        if len(crops) != len(boxes):
            raise ValueError(f"{len(crops)} crops for {len(boxes)} boxes")
        return {
            task: classifier.predict(model_crops(classifier, crops, boxes, crop_margin))
            for task, classifier in self.classifiers.items()
        }

    def results(self, boxes: Sequence[FaceBox], probabilities: dict[str, np.ndarray]) -> list[FaceResult]:
        """One :class:`FaceResult` per box from :meth:`probabilities`' output."""
        return [
            FaceResult(
                box=box,
                attributes={
                    task: Attribute.from_probabilities(values[index], self.classifiers[task].labels)
                    for task, values in probabilities.items()
                },
            )
            for index, box in enumerate(boxes)
        ]

    def classify_crops(self, crops: list[np.ndarray], boxes: Sequence[FaceBox], crop_margin: float) -> list[FaceResult]:
        """Classifies grey crops made at ``crop_margin`` around ``boxes``, each model at its own margin."""
        return self.results(boxes, self.probabilities(crops, boxes, crop_margin))
