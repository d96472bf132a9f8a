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

A *multi-head* file (one network, several estimates) has one output per task, named after the
task (``emotion``, ``gender``, ``age``), each probabilities ``[N, K]`` as above. Instead of
``task`` and ``labels`` its metadata holds ``tasks`` (a JSON list of the output names) and
``labels_<task>`` per task; ``temperature_<task>`` and ``class_offsets_<task>`` record the
calibration of each head. The other keys (input, crop) are the file's, shared by its heads.
An :class:`OnnxClassifier` is one task's view of a file; the views of one multi-head file share
its session, and :class:`FaceClassifiers` runs that session once per batch of faces for all of them.

:class:`FaceClassifiers` runs a set of such models, one per task, as the settings list them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import onnxruntime

from face_affect.cropping import enclosing_margin, recrop, to_model_input, transmissible_margin
from face_affect.errors import ModelError
from face_affect.sessions import open_session
from face_affect.settings import Settings, as_settings
from face_affect.types import Attribute, FaceBox, FaceResult, as_margins

REQUIRED_METADATA = ("task", "labels", "input_color", "input_size", "crop_margin")
MULTI_HEAD_METADATA = ("tasks", "input_color", "input_size", "crop_margin")


def file_tasks(path: Path, metadata: dict[str, str]) -> tuple[str, ...]:
    """The tasks a model file estimates: its ``tasks`` (multi-head) or its one ``task``."""
    if "tasks" not in metadata:
        return (metadata["task"],) if "task" in metadata else ()
    try:
        tasks = tuple(str(task) for task in json.loads(metadata["tasks"]))
    except (ValueError, TypeError) as error:
        raise ModelError(f"{path}: malformed metadata tasks ({error})") from error
    if not tasks or len(set(tasks)) != len(tasks):
        raise ModelError(f"{path}: metadata tasks {list(tasks)} must name each task once")
    return tasks


class OnnxClassifier:
    """One task's classifier: a single-task file, or one head of a multi-head file (``task``).

    ``session`` shares an already open session of the same file (the other heads' views).
    """

    def __init__(
        self,
        path: str | Path,
        threads: int = 1,
        expected_task: str | None = None,
        task: str | None = None,
        session: onnxruntime.InferenceSession | None = None,
    ) -> None:
        self.path = Path(path)
        self.session = session or open_session(self.path, threads)
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.metadata = dict(metadata)
        self.tasks = file_tasks(self.path, self.metadata)
        multi_head = "tasks" in metadata
        required = MULTI_HEAD_METADATA if multi_head else REQUIRED_METADATA
        missing = [key for key in required if key not in metadata]
        if missing:
            raise ModelError(f"{self.path}: metadata lacks {', '.join(missing)}")
        chosen = task or expected_task
        if multi_head:
            if chosen is None:
                raise ModelError(f"{self.path}: a multi-head file of tasks {list(self.tasks)}; name the task")
            if chosen not in self.tasks:
                raise ModelError(f"{self.path}: no {chosen!r} head, its tasks are {list(self.tasks)}")
            self.task = chosen
        else:
            self.task = metadata["task"]
            if chosen is not None and self.task != chosen:
                raise ModelError(f"{self.path}: task is {self.task!r}, expected {chosen!r}")
        labels_key = f"labels_{self.task}" if multi_head else "labels"
        if labels_key not in metadata:
            raise ModelError(f"{self.path}: metadata lacks {labels_key}")
        try:
            self.labels = tuple(str(label) for label in json.loads(metadata[labels_key]))
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
        outputs = {output.name: output.shape for output in self.session.get_outputs()}
        self.output_name = self.task if multi_head else self.session.get_outputs()[0].name
        if self.output_name not in outputs:
            raise ModelError(f"{self.path}: no output named {self.output_name!r} (outputs {list(outputs)})")
        shape = outputs[self.output_name]
        if len(shape) != 2 or shape[1] != len(self.labels):
            raise ModelError(f"{self.path}: output shape {shape} does not match {len(self.labels)} labels")

    @classmethod
    def heads(cls, path: str | Path, threads: int = 1, tasks: Sequence[str] = ()) -> list[OnnxClassifier]:
        """A view per task of one file (``tasks``; empty: all the file's), sharing one session."""
        session = open_session(Path(path), threads)
        names = tuple(tasks) or file_tasks(Path(path), dict(session.get_modelmeta().custom_metadata_map))
        if not names:
            return [cls(path, threads, session=session)]  # raises: the file names no task
        return [cls(path, threads, task=name, session=session) for name in names]

    def predict(self, grey_crops: list[np.ndarray]) -> np.ndarray:
        """Probabilities ``[N, K]`` for grey face crops of any size (resized here), in one run."""
        if not grey_crops:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        batch = to_model_input(grey_crops, self.input_width, self.input_height)
        return self.predict_batch(batch)

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities for an already-sized ``float32 [N, 1, H, W]`` batch of raw pixels."""
        return self.session.run([self.output_name], {self.input_name: batch})[0]


def run_heads(classifiers: Sequence[OnnxClassifier], batch: np.ndarray) -> list[np.ndarray]:
    """The probabilities of views of one session for one ``float32 [N, 1, H, W]`` batch, in one run."""
    first = classifiers[0]
    if any(classifier.session is not first.session for classifier in classifiers):
        raise ValueError("run_heads takes views of one session")
    return first.session.run([classifier.output_name for classifier in classifiers], {first.input_name: batch})


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
        by_session: dict[int, list[OnnxClassifier]] = {}
        for classifier in self.classifiers.values():
            by_session.setdefault(id(classifier.session), []).append(classifier)
        self.sessions = list(by_session.values())
        """The classifiers grouped by session: the heads of one multi-head file run together."""

    @classmethod
    def from_settings(cls, settings: Settings | dict | None = None) -> FaceClassifiers:
        """The models that ``settings`` list: ``gender_model``, ``emotion_model`` and ``age_model`` (each
        checked to be of that task, or to have a head of it; age only if set), then ``extra_models``
        (every task of each file). A file named for several tasks (a multi-head file) is loaded once.

        Also sets OpenCV's thread count for the process (``opencv_threads``): left at its
        default, Haar detection and resizing spread over every core, which a robot needs
        for other work.
        """
        settings = as_settings(settings)
        cv2.setNumThreads(settings.opencv_threads)
        expected = [task for task, _ in settings.named_models] + [None] * len(settings.extra_models)
        wanted: dict[Path, list[str | None]] = {}
        for path, task in zip(settings.model_paths, expected):
            wanted.setdefault(path, []).append(task)
        classifiers: list[OnnxClassifier] = []
        for path, tasks in wanted.items():
            session = open_session(path, settings.onnx_threads)
            named = [task for task in tasks if task is not None]
            for _ in range(tasks.count(None)):  # an extra model: every task of the file (twice: refused below)
                named += file_tasks(path, dict(session.get_modelmeta().custom_metadata_map))
            if not named:
                OnnxClassifier(path, settings.onnx_threads, session=session)  # raises: the file names no task
            classifiers += [
                OnnxClassifier(path, settings.onnx_threads, expected_task=task, session=session) for task in named
            ]
        order = [task for task in expected if task is not None]  # the settings' order, then the extras'
        return cls(
            sorted(classifiers, key=lambda model: order.index(model.task) if model.task in order else len(order))
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
        return list(dict.fromkeys(str(model.path) for model in self.classifiers.values()))

    def probabilities(
        self, crops: list[np.ndarray], boxes: Sequence[FaceBox], crop_margin: float
    ) -> dict[str, np.ndarray]:
        """Per task, the probabilities ``[N, K]`` of grey crops made at ``crop_margin`` around ``boxes``;
        each file runs once, for all the tasks it estimates."""
        if len(crops) != len(boxes):
            raise ValueError(f"{len(crops)} crops for {len(boxes)} boxes")
        results: dict[str, np.ndarray] = {}
        for heads in self.sessions:
            first = heads[0]
            if not crops:
                results.update({head.task: np.zeros((0, len(head.labels)), np.float32) for head in heads})
                continue
            batch = to_model_input(model_crops(first, crops, boxes, crop_margin), first.input_width, first.input_height)
            results.update({head.task: values for head, values in zip(heads, run_heads(heads, batch))})
        return {task: results[task] for task in self.classifiers}

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
