"""Robustness benchmark: the classifiers under the camera corruptions of ``face_affect.corruptions``.

For each model, on its data set's test split (or ``--split val``, the split model
selection uses): accuracy on clean crops and under every corruption of
:data:`face_affect.corruptions.CORRUPTIONS` at its stated severity, the mean and the
worst over the corruptions, and per-class recall. Emotion models are also scored
against the FER+ crowd's majority vote (``ferplus_votes.npz``), gender models per
group (women and men, race, age).

A model may be a single-task file or a multi-head file (the task's head is measured). Each file
sees the faces in its own framing and at its input size
(:func:`face_affect.training.framing.model_faces`): a multi-head file's FER-2013 faces are moved
into its framing, as ``python -m face_affect.training evaluate-heads`` moves them, and the
corruptions are applied to them there, so its figures are comparable with that command's
"emotion under corruptions".

``python bench/robustness.py [--emotion-model F] [--gender-model F] [--split val]``,
results in ``bench/results/robustness_<split>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "src"))

from face_affect.corruptions import CORRUPTIONS, corrupted_sets  # noqa: E402
from face_affect.settings import Settings, resolve_model_path  # noqa: E402
from face_affect.training.calibration import model_probabilities  # noqa: E402
from face_affect.training.datasets import load_dataset, load_ferplus_votes, majority_labels  # noqa: E402
from face_affect.training.evaluation import accuracy_by_group, evaluate  # noqa: E402
from face_affect.training.framing import model_faces  # noqa: E402
from face_affect.training.release import UTKFACE_RACES, age_band_codes  # noqa: E402

SHARED = REPOSITORY.parent / "shared" / "data"


def measure(model: Path, task: str, data_path: Path, split: str) -> dict:
    data = load_dataset(data_path)
    if task == "emotion":
        data = load_ferplus_votes(SHARED / "ferplus_votes.npz", data)
    classifier, data = model_faces(model, task, data, (split,))
    images, labels = data.images[split], data.labels[split]
    clean = model_probabilities(classifier, images)
    report: dict = {
        "model": model.name,
        "normalization": classifier.metadata.get("normalization", ""),
        "split": split,
        "faces": len(labels),
        "clean": evaluate(clean, labels, classifier.labels).as_dict(),
    }
    report["clean"].pop("confusion")
    if split in data.votes:
        majority = majority_labels(data.votes[split])
        voted = majority >= 0
        agree = voted & (majority == labels)
        predictions = clean.argmax(axis=1)
        report["ferplus_majority_accuracy"] = round(float((predictions[voted] == majority[voted]).mean()), 4)
        report["ferplus_faces"] = int(voted.sum())
        report["accuracy_where_labels_agree"] = round(float((predictions[agree] == labels[agree]).mean()), 4)
        report["labels_disagree_share"] = round(float(1 - agree.sum() / voted.sum()), 4)
    extra = data.extra.get(split, {})
    if "race" in extra:
        report["by_race"] = accuracy_by_group(clean, labels, extra["race"], UTKFACE_RACES)
        codes, names = age_band_codes(extra["age"])
        report["by_age"] = accuracy_by_group(clean, labels, codes, names)
    corrupted = {}
    for name, damaged in corrupted_sets(images, seed=0).items():
        evaluation = evaluate(model_probabilities(classifier, damaged), labels, classifier.labels)
        corrupted[name] = {"accuracy": round(evaluation.accuracy, 4), "recall": evaluation.as_dict()["recall"]}
    report["corruptions"] = corrupted
    accuracies = [row["accuracy"] for row in corrupted.values()]
    report["corrupted_mean"] = round(float(np.mean(accuracies)), 4)
    report["corrupted_worst"] = min(corrupted.items(), key=lambda item: item[1]["accuracy"])[0]
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--emotion-model",
        type=Path,
        default=resolve_model_path(Settings().emotion_model),
        help="an emotion file, or a multi-head file with an emotion head",
    )
    parser.add_argument(
        "--gender-model",
        type=Path,
        default=resolve_model_path(Settings().gender_model),
        help="a gender file, or a multi-head file with a gender head",
    )
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--output", type=Path)
    arguments = parser.parse_args()
    output = arguments.output or REPOSITORY / "bench" / "results" / f"robustness_{arguments.split}.json"
    results = {
        "emotion": measure(arguments.emotion_model, "emotion", SHARED / "fer2013.npz", arguments.split),
        "gender": measure(arguments.gender_model, "gender", SHARED / "gender_utkface.npz", arguments.split),
    }
    names = [severity.name for severity in CORRUPTIONS]
    print(f"{'model':<34} {'clean':>6} " + " ".join(f"{name[:11]:>11}" for name in names) + f" {'mean':>6}")
    for report in results.values():
        row = " ".join(f"{report['corruptions'][name]['accuracy']:>11.1%}" for name in names)
        print(f"{report['model']:<34} {report['clean']['accuracy']:>6.1%} {row} {report['corrupted_mean']:>6.1%}")
    emotion, gender = results["emotion"], results["gender"]
    print(
        f"emotion: FER+ majority {emotion['ferplus_majority_accuracy']:.1%} on {emotion['ferplus_faces']} faces, "
        f"{emotion['accuracy_where_labels_agree']:.1%} where FER-2013 and FER+ agree"
    )
    print(
        "gender recall:",
        gender["clean"]["recall"],
        "by race:",
        {k: v["accuracy"] for k, v in gender["by_race"].items()},
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
