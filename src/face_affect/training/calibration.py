"""Calibration: a temperature fitted on validation, stored in the model file, and how well it holds.

A probability of 0.8 should be right four times in five: behaviour code that states an
estimate only above a threshold (or a smoothed estimate that weighs frames by confidence)
relies on it. One temperature per model (Guo et al., 2017) keeps the predicted class and the
saliency maps as they were. It is fitted by least negative log-likelihood on the validation
split and written *into the graph*, a division of the logits just before the Softmax
(:func:`set_graph_temperature`), so every consumer of the file gets calibrated probabilities:
the nodes, the CLI, the library and anyone running the file with onnxruntime alone. It
needs no torch, so the library's tests can measure it.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import numpy_helper
from scipy.optimize import minimize_scalar

from face_affect.classifiers import OnnxClassifier
from face_affect.corruptions import corrupted_sets
from face_affect.training.datasets import LabelledSplits

CALIBRATION_BINS = 15
"""Bins of the top probability for the expected calibration error, as the issue measures it."""
TEMPERATURE_RANGE = (0.05, 20.0)
CORRUPTED_FACES = 1200
TEMPERATURE_NODE = "calibration/temperature"
OFFSETS_NODE = "calibration/class_offsets"
PROBABILITY_FLOOR = 1e-12
"""Below this, a probability's logarithm is taken as of this: float32 softmax underflows to 0."""


def temperature_scaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)`` from ``softmax(logits)``: the same, since the logarithm of a
    softmax is the logits less a constant per row. Above 1 it softens over-confident probabilities."""
    return _softmax(_log_probabilities(probabilities) / temperature)


def offsets_added(probabilities: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``softmax(logits + offsets)`` from ``softmax(logits)``, as :func:`set_graph_class_offsets` makes
    the graph compute it: the probabilities times ``exp(offsets)``, renormalised."""
    return _softmax(_log_probabilities(probabilities) + offsets)


def _log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(probabilities, PROBABILITY_FLOOR))


def _softmax(scores: np.ndarray) -> np.ndarray:
    exponentials = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (exponentials / exponentials.sum(axis=-1, keepdims=True)).astype(np.float32)


def set_graph_temperature(path: Path, temperature: float, head: str | None = None) -> None:
    """Makes the file's final Softmax take ``logits / temperature``: inserts the division the first time,
    changes its value after that (1 restores the graph's own probabilities). The ``temperature``
    metadata records the value for people. ``head``: the output of a multi-head file whose Softmax
    it is (node and metadata then end in ``/<head>`` and ``_<head>``)."""
    _set_before_softmax(path, "Div", TEMPERATURE_NODE, np.array(temperature, np.float32), "temperature", head)


def set_graph_class_offsets(path: Path, offsets: np.ndarray, head: str | None = None) -> None:
    """Adds ``offsets`` ``[K]`` to the scores entering the final Softmax: the probabilities times
    ``exp(offsets)``, renormalised, a prior moved towards some classes. Inserted just before the
    Softmax the first time, changed after that (zeros restore the graph's own probabilities); the
    ``class_offsets`` metadata records them for people. ``head``: as :func:`set_graph_temperature`'s."""
    _set_before_softmax(path, "Add", OFFSETS_NODE, np.asarray(offsets, np.float32), "class_offsets", head)


def head_of(classifier: OnnxClassifier) -> str | None:
    """The output to calibrate in ``classifier``'s file: its head's in a multi-head file, None in a single-task one."""
    return classifier.output_name if "tasks" in classifier.metadata else None


def _set_before_softmax(
    path: Path, op_type: str, node_name: str, value: np.ndarray, metadata_key: str, head: str | None = None
) -> None:
    """Sets the constant of the ``op_type`` node ``node_name`` on the scores entering the file's Softmax
    (the one of output ``head`` if given), inserting the node just before that Softmax the first time,
    and records it as ``metadata_key``. Its constant is the initializer ``<node_name>_value``."""
    model = onnx.load(str(path))
    graph = model.graph
    if head is not None:
        node_name, metadata_key = f"{node_name}/{head}", f"{metadata_key}_{head}"
    tensor_name = f"{node_name}_value"
    tensor = numpy_helper.from_array(value, tensor_name)
    existing = [index for index, initializer in enumerate(graph.initializer) if initializer.name == tensor_name]
    if existing:
        graph.initializer[existing[0]].CopyFrom(tensor)
    else:
        (softmax,) = [
            node for node in graph.node if node.op_type == "Softmax" and (head is None or node.output[0] == head)
        ]
        scores, changed = softmax.input[0], f"{softmax.input[0]}/{node_name}"
        node = onnx.helper.make_node(op_type, [scores, tensor_name], [changed], name=node_name)
        graph.initializer.append(tensor)
        graph.node.insert(list(graph.node).index(softmax), node)
        softmax.input[0] = changed
    entries = {entry.key: entry for entry in model.metadata_props}
    entry = entries.get(metadata_key) or model.metadata_props.add(key=metadata_key)
    entry.value = json.dumps(np.round(value.astype(np.float64), 6).tolist())
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Mean over equal-width bins of the top probability of |accuracy - confidence|, weighted by count."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for index in range(bins):
        members = which == index
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    chosen = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.maximum(chosen, 1e-12)).mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature of least negative log-likelihood of ``labels`` (validation) under ``probabilities``."""
    result = minimize_scalar(
        lambda temperature: negative_log_likelihood(temperature_scaled(probabilities, temperature), labels),
        bounds=TEMPERATURE_RANGE,
        method="bounded",
    )
    return float(result.x)


def reliability_panel(probabilities: np.ndarray, labels: np.ndarray, title: str, size: int = 300) -> np.ndarray:
    """A reliability diagram (accuracy per confidence bin against the diagonal), drawn with OpenCV."""
    confidence, correct = probabilities.max(axis=1), probabilities.argmax(axis=1) == labels
    margin, plot = 40, size - 60
    canvas = np.full((size + 30, size, 3), 255, np.uint8)
    origin = (margin, margin + plot)

    def point(x: float, y: float) -> tuple[int, int]:
        return int(origin[0] + x * plot), int(origin[1] - y * plot)

    cv2.rectangle(canvas, point(0, 1), point(1, 0), (0, 0, 0), 1)
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    for low, high in zip(edges[:-1], edges[1:]):
        members = (confidence > low) & (confidence <= high)
        if members.any():
            accuracy = correct[members].mean()
            cv2.rectangle(canvas, point(low, accuracy), point(high, 0), (200, 120, 40), cv2.FILLED)
            cv2.rectangle(canvas, point(low, accuracy), point(high, 0), (90, 50, 10), 1)
    cv2.line(canvas, point(0, 0), point(1, 1), (0, 0, 200), 1, cv2.LINE_AA)  # perfect calibration
    ece = expected_calibration_error(probabilities, labels)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(canvas, title, (8, 22), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, f"ECE {ece:.3f}", point(0.04, 0.92), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, "confidence", (size // 2 - 40, size + 20), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, "accuracy", (2, margin - 6), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def model_probabilities(classifier: OnnxClassifier, images: np.ndarray) -> np.ndarray:
    """The classifier's probabilities of grey crops at its input size, 512 at a time."""
    batch = images[:, None].astype(np.float32)
    return np.concatenate([classifier.predict_batch(batch[i : i + 512]) for i in range(0, len(batch), 512)])


def calibrate(
    model_path: Path, data: LabelledSplits, docs_directory: Path, seed: int = 0, task: str | None = None
) -> dict:
    """Fits the temperature on validation, writes it into ``model_path``, and reports ECE before and after
    on validation, test and the corrupted test faces, with ``<stem>_reliability.png`` in ``docs_directory``.
    ``task``: the head of a multi-head file (its reports are ``<stem>_<task>_...``)."""
    classifier = OnnxClassifier(model_path, task=task)
    head = head_of(classifier)
    stem = model_path.stem if head is None else f"{model_path.stem}_{head}"
    if classifier.task == "age":
        raise ValueError(
            f"{model_path}: an age file is read as the expectation of its probabilities, not as its top class; "
            "its calibration is the spread's coverage (train age's report)"
        )
    set_graph_temperature(model_path, 1.0, head)  # fitted afresh on the graph's own probabilities
    classifier = OnnxClassifier(model_path, task=task)
    raw = {split: model_probabilities(classifier, data.images[split]) for split in ("val", "test")}
    temperature = fit_temperature(raw["val"], data.labels["val"])
    subset = np.random.default_rng(seed).permutation(len(data.images["test"]))[:CORRUPTED_FACES]
    corrupted = corrupted_sets(data.images["test"][subset], seed)
    corrupted_raw = np.concatenate([model_probabilities(classifier, images) for images in corrupted.values()])
    corrupted_labels = np.tile(data.labels["test"][subset], len(corrupted))
    sets = {
        "validation": (raw["val"], data.labels["val"]),
        "test": (raw["test"], data.labels["test"]),
        "test, corrupted": (corrupted_raw, corrupted_labels),
    }
    report: dict[str, object] = {
        "model": model_path.name if head is None else f"{model_path.name} ({head})",
        "temperature": round(temperature, 4),
        "bins": CALIBRATION_BINS,
    }
    rows = []
    for name, (probabilities, labels) in sets.items():
        calibrated = temperature_scaled(probabilities, temperature)
        report[name] = {
            "count": len(labels),
            "ece_before": round(expected_calibration_error(probabilities, labels), 4),
            "ece_after": round(expected_calibration_error(calibrated, labels), 4),
            "nll_before": round(negative_log_likelihood(probabilities, labels), 4),
            "nll_after": round(negative_log_likelihood(calibrated, labels), 4),
        }
        if name != "validation":
            rows.append(
                np.hstack(
                    [
                        reliability_panel(probabilities, labels, f"{name}: before"),
                        reliability_panel(calibrated, labels, f"{name}: T = {temperature:.2f}"),
                    ]
                )
            )
    set_graph_temperature(model_path, temperature, head)
    docs_directory.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(docs_directory / f"{stem}_reliability.png"), np.vstack(rows))
    (docs_directory / f"{stem}_calibration.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
