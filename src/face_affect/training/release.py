"""From a trained checkpoint to a committed model: export, measure, record the figures.

Every number in ``models/MODEL_CARD.md`` comes from :func:`evaluate_model`, run on the
exported ONNX file through the runtime classifier, so the card describes the file
that ships, not the torch model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx

from face_affect.classifiers import OnnxClassifier
from face_affect.cropping import crop_face
from face_affect.training.age import (
    ADULT_AGE,
    CHILD_AGE,
    NO_GENDER,
    age_figures,
    child_offsets,
    least_child_offset,
)
from face_affect.training.calibration import head_of, model_probabilities, set_graph_class_offsets
from face_affect.training.datasets import GENDER_CLASSES, LabelledSplits
from face_affect.training.evaluation import accuracy_by_group, evaluate, write_confusion_image
from face_affect.training.export import export_onnx, load_checkpoint
from face_affect.training.framing import detect_in_crops, framing_margins
from face_affect.training.groups import (
    JUDGED_GROUP_FACES,
    accuracy_by_reported_group,
    reported_groups,
    worst_group,
)
from face_affect.training.mini_xception import MiniXception
from face_affect.types import expectation_and_spread

DATASET_NAMES = {
    "emotion": "FER-2013",
    "gender": "UTKFace (gender_utkface.npz, 64x64)",
    "age": "UTKFace, ages 0-116 (age_utkface_children.npz and gender_utkface.npz, 64x64)",
}
UTKFACE_RACES = {0: "White", 1: "Black", 2: "Asian", 3: "Indian", 4: "Others"}
REGRESSION_SUBSET = 1000
AGE_BANDS = ((13, 19), (20, 29), (30, 39), (40, 49), (50, 59), (60, 69), (70, 200))


def export_checkpoint(
    task: str,
    architecture: str,
    checkpoint: Path,
    data: LabelledSplits,
    output: Path,
    command: str,
    flip_average: bool = False,
) -> None:
    """Exports with the crop margins measured on the validation split (never the test split)."""
    network, normalization = load_checkpoint(architecture, len(data.class_names), checkpoint)
    validation = data.images["val"]
    margins = framing_margins(validation, detect_in_crops(validation))
    height, width = validation.shape[1:3]
    export_onnx(
        network,
        output,
        input_size=(width, height),
        metadata={
            "task": task,
            # Age's classes are ages in years, stored as numbers: the estimate is their expectation.
            "labels": [float(name) for name in data.class_names] if task == "age" else list(data.class_names),
            "crop_margin": list(margins),
            "architecture": architecture,
            **({"widths": list(network.widths)} if isinstance(network, MiniXception) else {}),
            "dataset": DATASET_NAMES.get(task, task),
            "training_command": command,
        },
        flip_average=flip_average,
        normalization=normalization,
    )


def set_metadata(path: Path, values: dict[str, object]) -> None:
    model = onnx.load(str(path))
    existing = {entry.key: entry for entry in model.metadata_props}
    for key, value in values.items():
        entry = existing.get(key) or model.metadata_props.add()
        entry.key = key
        entry.value = value if isinstance(value, str) else json.dumps(value)
    onnx.save(model, str(path))


def age_band_codes(ages: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    codes = np.full(len(ages), -1)
    names = {}
    for index, (low, high) in enumerate(AGE_BANDS):
        codes[(ages >= low) & (ages <= high)] = index
        names[index] = f"{low}-{high}" if high < 200 else f"{low}+"
    return codes, names


def evaluate_model(
    model_path: Path, data: LabelledSplits, split: str = "test", limit: int = 0, task: str | None = None
) -> dict:
    """Accuracy of the ONNX file (``task``: the head of a multi-head file) on whole images and on
    detector-produced crops of ``split``."""
    classifier = OnnxClassifier(model_path, task=task)
    images, labels = data.images[split], data.labels[split]
    if limit:
        images, labels = images[:limit], labels[:limit]
    batch = images[:, None].astype(np.float32)
    probabilities = np.concatenate([classifier.predict_batch(batch[i : i + 512]) for i in range(0, len(batch), 512)])
    whole = evaluate(probabilities, labels, classifier.labels)
    report: dict[str, object] = {"model": model_path.name, "split": split, "whole_image": whole.as_dict()}
    # The regression test re-measures this cheaper figure on every run.
    first = evaluate(probabilities[:REGRESSION_SUBSET], labels[:REGRESSION_SUBSET], classifier.labels)
    report[f"first_{REGRESSION_SUBSET}_accuracy"] = round(first.accuracy, 4)

    detected = detect_in_crops(images)
    found = [index for index, box in enumerate(detected.boxes) if box is not None]
    crops = [crop_face(images[index], detected.boxes[index], classifier.crop_margin) for index in found]
    crop_probabilities = classifier.predict(crops)
    on_crops = evaluate(crop_probabilities, labels[found], classifier.labels)
    report["detector_crops"] = {
        "detection_rate": round(detected.detection_rate, 4),
        "crop_margin": list(classifier.crop_margin),
        **on_crops.as_dict(),
    }
    extra = data.extra.get(split, {})
    if "race" in extra:
        races = extra["race"][: len(labels)]
        report["accuracy_by_race"] = accuracy_by_group(probabilities, labels, races, UTKFACE_RACES)
        codes, names = age_band_codes(extra["age"][: len(labels)])
        report["accuracy_by_age"] = accuracy_by_group(probabilities, labels, codes, names)
        worst = min(report["accuracy_by_race"].items(), key=lambda item: item[1]["accuracy"])
        report["worst_race_group"] = worst[0]
        if tuple(classifier.labels) == GENDER_CLASSES:
            groups = reported_groups(labels, extra["age"][: len(labels)], races)
            table = accuracy_by_reported_group(probabilities.argmax(axis=1) == labels, groups)
            report["accuracy_by_group"] = table
            if any(row["count"] >= JUDGED_GROUP_FACES for row in table.values()):
                name, accuracy = worst_group(table, JUDGED_GROUP_FACES)
                report["worst_group"] = {"group": name, **table[name]}
    report["_evaluation"] = whole
    return report


AGE_REPORT_BANDS = ((0, 2), (3, 12), (13, 17), (18, 29), (30, 44), (45, 59), (60, 200))


def evaluate_age_model(model_path: Path, data: LabelledSplits, split: str = "test", task: str | None = None) -> dict:
    """MAE of the ONNX age file's expected age on ``split``: overall, by age band, race and (adults) gender,
    the child/adult confusion, and how often the truth lies within one and two standard deviations.
    ``task``: the age head of a multi-head file."""
    classifier = OnnxClassifier(model_path, task=task)
    ages = np.asarray([float(label) for label in classifier.labels])
    batch = data.images[split][:, None].astype(np.float32)
    probabilities = np.concatenate([classifier.predict_batch(batch[i : i + 512]) for i in range(0, len(batch), 512)])
    estimates, spread = expectation_and_spread(probabilities, ages)
    extra = data.extra[split]
    truth = extra["age"].astype(np.float64)
    error = np.abs(estimates - truth)

    def mae_of(members: np.ndarray) -> dict[str, float]:
        return {"count": int(members.sum()), "mae": round(float(error[members].mean()), 2)} if members.any() else {}

    bands = {
        (f"{low}+" if high >= 200 else f"{low}-{high}"): mae_of((truth >= low) & (truth <= high))
        for low, high in AGE_REPORT_BANDS
    }
    races = {name: mae_of(extra["race"] == code) for code, name in UTKFACE_RACES.items()}
    genders = {
        name: mae_of((extra["gender"] == code) & (truth >= ADULT_AGE)) for code, name in enumerate(GENDER_CLASSES)
    }
    return {
        "model": model_path.name,
        "split": split,
        "count": len(truth),
        **age_figures(estimates, truth),
        "mae_by_age": bands,
        "mae_by_race": races,
        "mae_by_gender_adults": genders,
        "children_count": int((truth < CHILD_AGE).sum()),
        "adults_count": int((truth >= ADULT_AGE).sum()),
        "no_gender_count": int((extra["gender"] == NO_GENDER).sum()),
        "within_one_sd": round(float((error <= spread).mean()), 4),
        "within_two_sd": round(float((error <= 2 * spread).mean()), 4),
    }


def set_child_offset(model_path: Path, data: LabelledSplits, recall: float, task: str | None = None) -> float:
    """Writes into the age file (``task``: the age head of a multi-head file) the least child-class offset
    that gets ``recall`` of the validation children estimated under 13
    (:func:`~face_affect.training.age.least_child_offset`); returns it."""
    head = head_of(OnnxClassifier(model_path, task=task))
    set_graph_class_offsets(model_path, np.zeros(len(OnnxClassifier(model_path, task=task).labels), np.float32), head)
    classifier = OnnxClassifier(model_path, task=task)
    ages = tuple(float(label) for label in classifier.labels)
    probabilities = model_probabilities(classifier, data.images["val"])
    offset = least_child_offset(probabilities, data.extra["val"]["age"], recall, ages)
    set_graph_class_offsets(model_path, child_offsets(offset, ages), head)
    return offset


def write_report(report: dict, docs_directory: Path, stem: str, title: str) -> Path:
    """Writes ``<stem>.json`` and ``<stem>_confusion.png`` under ``docs_directory``."""
    docs_directory.mkdir(parents=True, exist_ok=True)
    evaluation = report.pop("_evaluation")
    write_confusion_image(evaluation, docs_directory / f"{stem}_confusion.png", title)
    path = docs_directory / f"{stem}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
