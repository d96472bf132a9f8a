"""Would an ensemble of trained files gain? Every combination of the files given, on a validation split.

An ensemble's estimate is the class of the largest mean log-probability of its members (the
normalised geometric mean of their calibrated probabilities), each member seeing the faces in its
own framing and at its input size (:func:`face_affect.training.framing.model_faces`), as the runtime
shows them. Emotion is scored on FER-2013, FER+ majority and the mean under the corruptions of
:mod:`face_affect.corruptions` (the emotion file's selection rule), gender on UTKFace with each
gender's recall. Members may be single-task or multi-head files (the task's head is used).

``python bench/ensembles.py emotion FILE FILE [...] [--split val]``, results in
``bench/results/ensembles_<task>_<split>.json``. It tells whether more networks per face would pay
before any training is spent on one file that holds them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "src"))

from face_affect.corruptions import corrupted_sets  # noqa: E402
from face_affect.training.calibration import model_probabilities  # noqa: E402
from face_affect.training.datasets import load_dataset, load_ferplus_votes, majority_labels  # noqa: E402
from face_affect.training.framing import model_faces  # noqa: E402

SHARED = REPOSITORY.parent / "shared" / "data"
DATA = {"emotion": "fer2013.npz", "gender": "gender_utkface.npz"}
SMALLEST_PROBABILITY = 1e-7


def member_log_probabilities(model: Path, task: str, split: str) -> tuple[dict[str, np.ndarray], np.ndarray, dict]:
    """Log-probabilities per face set (clean, and each corruption for emotion), the labels, the FER+ votes."""
    data = load_dataset(SHARED / DATA[task])
    if task == "emotion":
        data = load_ferplus_votes(SHARED / "ferplus_votes.npz", data)
    classifier, data = model_faces(model, task, data, (split,))
    images = data.images[split]
    sets = {"clean": images, **(corrupted_sets(images, seed=0) if task == "emotion" else {})}
    logs = {
        name: np.log(np.clip(model_probabilities(classifier, faces), SMALLEST_PROBABILITY, 1.0))
        for name, faces in sets.items()
    }
    return logs, data.labels[split], data.votes


def scores(logs: list[dict[str, np.ndarray]], labels: np.ndarray, majority: np.ndarray | None) -> dict[str, float]:
    predictions = {name: np.mean([member[name] for member in logs], axis=0).argmax(axis=1) for name in logs[0]}
    clean = predictions["clean"]
    row = {"accuracy": float((clean == labels).mean())}
    if majority is not None:
        voted = majority >= 0
        row["ferplus_majority_accuracy"] = float((clean[voted] == majority[voted]).mean())
        corrupted = [float((predicted == labels).mean()) for name, predicted in predictions.items() if name != "clean"]
        row["corrupted_mean"] = float(np.mean(corrupted))
        row["score"] = float(np.mean([row["accuracy"], row["ferplus_majority_accuracy"], row["corrupted_mean"]]))
    else:
        for label in np.unique(labels):
            row[f"recall_{int(label)}"] = float((clean[labels == label] == label).mean())
    return {key: round(value, 4) for key, value in row.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(DATA))
    parser.add_argument("models", type=Path, nargs="+", help="ONNX files (single-task or multi-head)")
    parser.add_argument("--split", default="val", choices=("val", "test"))
    parser.add_argument("--output", type=Path)
    arguments = parser.parse_args()
    members: dict[str, dict[str, np.ndarray]] = {}
    labels = None
    for model in arguments.models:
        logs, member_labels, votes = member_log_probabilities(model, arguments.task, arguments.split)
        if labels is not None and not np.array_equal(labels, member_labels):
            raise SystemExit(f"{model}: its faces are not the other members' faces in the same order")
        labels = member_labels
        members[model.name] = logs
    majority = majority_labels(votes[arguments.split]) if arguments.split in votes else None
    results = []
    for size in range(1, len(members) + 1):
        for names in itertools.combinations(members, size):
            row = {"members": list(names), **scores([members[name] for name in names], labels, majority)}
            results.append(row)
            figures = "  ".join(f"{key} {value:.1%}" for key, value in row.items() if key != "members")
            print(f"{' + '.join(names)}: {figures}", flush=True)
    output = arguments.output or REPOSITORY / "bench" / "results" / f"ensembles_{arguments.task}_{arguments.split}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    report = {"task": arguments.task, "split": arguments.split, "ensembles": results}
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
