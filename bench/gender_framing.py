"""Does the crop limit the gender model's older women? Accuracy by group with the crop scaled.

UTKFace's chips cut hair off at the top and sides. Each validation and test image is scaled about
its centre (above 1: a tighter crop; below 1: more border, its edges replicated) and the model's
accuracy is reported overall and for the groups of issue 24 (``reported_groups``). A crop that
showed the network more of what tells older women from older men would raise one group without
lowering the other.

``python bench/gender_framing.py [--gender-model F] [--scales 0.85 1 1.15 1.3]``,
results in ``bench/results/gender_framing.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "src"))

from face_affect.classifiers import OnnxClassifier  # noqa: E402
from face_affect.corruptions import warp  # noqa: E402
from face_affect.settings import MODELS_DIRECTORY  # noqa: E402
from face_affect.training.datasets import load_dataset  # noqa: E402
from face_affect.training.groups import accuracy_by_reported_group, reported_groups  # noqa: E402

SHARED = REPOSITORY.parent / "shared" / "data"


def rescaled(images: np.ndarray, scale: float) -> np.ndarray:
    """Each ``[H, W]`` image scaled by ``scale`` about its centre, same size, edges replicated."""
    height, width = images.shape[1:3]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), 0, scale)
    return np.stack([warp(image, matrix) for image in images])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gender-model", type=Path, default=MODELS_DIRECTORY / "gender_mini_xception.onnx")
    parser.add_argument("--data", type=Path, default=SHARED / "gender_utkface.npz")
    parser.add_argument("--scales", type=float, nargs="+", default=[0.85, 1.0, 1.15, 1.3])
    parser.add_argument("--output", type=Path, default=REPOSITORY / "bench" / "results" / "gender_framing.json")
    arguments = parser.parse_args()
    classifier = OnnxClassifier(arguments.gender_model)
    data = load_dataset(arguments.data)
    results: dict[str, dict[str, dict]] = {}
    for split in ("val", "test"):
        labels, extra = data.labels[split], data.extra[split]
        groups = reported_groups(labels, extra["age"], extra["race"])
        for scale in arguments.scales:
            images = rescaled(data.images[split], scale)[:, None].astype(np.float32)
            correct = classifier.predict_batch(images).argmax(axis=1) == labels
            table = accuracy_by_reported_group(correct, groups)
            results.setdefault(split, {})[str(scale)] = {"all": round(float(correct.mean()), 4), "groups": table}
            older = {name: figures["accuracy"] for name, figures in table.items() if "60+" in name}
            print(f"{split} scale {scale:.2f}: all {correct.mean():.3f}", json.dumps(older))
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
