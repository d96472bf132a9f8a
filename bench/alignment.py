"""Would aligned crops pay? Test faces rotated by up to 20 degrees, classified as they are and rotated back.

The per-person issue keeps eye-levelled crops only if they gain at least 1 point on faces rolled by
up to +-20 degrees without losing on upright ones. Each validation and test face of both tasks is
rolled by a uniform random angle in -20..20 degrees about its centre (edges replicated), then
"aligned" by rotating it back by the angle a keypoint detector would measure: the true one plus
Gaussian noise of 3 degrees (BlazeFace's eye line on the bundled photos wanders about that much).
Upright faces are "aligned" by the noise alone. The committed models are used as they are (trained
with rotations of up to 15 degrees).

``python bench/alignment.py``; prints accuracies, writes ``bench/results/alignment.json``.
"""

from __future__ import annotations

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

SHARED = REPOSITORY.parent / "shared" / "data"
TASKS = {
    "gender": (MODELS_DIRECTORY / "gender_mini_xception.onnx", SHARED / "gender_utkface.npz"),
    "emotion": (MODELS_DIRECTORY / "emotion_mini_xception.onnx", SHARED / "fer2013.npz"),
}
MAX_ROLL_DEGREES = 20.0
KEYPOINT_NOISE_DEGREES = 3.0


def rotated(face: np.ndarray, degrees: float) -> np.ndarray:
    height, width = face.shape
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    return warp(face, matrix)


def accuracy(classifier: OnnxClassifier, faces: np.ndarray, labels: np.ndarray) -> float:
    return round(float((classifier.predict_batch(faces[:, None].astype(np.float32)).argmax(1) == labels).mean()), 4)


def main() -> int:
    report = {}
    for task, (model, data_path) in TASKS.items():
        classifier, data = OnnxClassifier(model), load_dataset(data_path)
        for split in ("val", "test"):
            faces, labels = data.images[split], data.labels[split]
            rng = np.random.default_rng(0)
            angles = rng.uniform(-MAX_ROLL_DEGREES, MAX_ROLL_DEGREES, len(faces))
            measured = rng.normal(0, KEYPOINT_NOISE_DEGREES, len(faces))
            rolled = np.stack([rotated(face, angle) for face, angle in zip(faces, angles)])
            row = {
                "upright": accuracy(classifier, faces, labels),
                "upright_aligned": accuracy(
                    classifier, np.stack([rotated(face, -noise) for face, noise in zip(faces, measured)]), labels
                ),
                "rolled": accuracy(classifier, rolled, labels),
                "rolled_aligned": accuracy(
                    classifier,
                    np.stack([rotated(face, -(angle + noise)) for face, angle, noise in zip(rolled, angles, measured)]),
                    labels,
                ),
                "faces": len(faces),
            }
            report[f"{task} {split}"] = row
            print(
                f"{task:>8} {split:>5} ({row['faces']} faces): upright {row['upright']:.1%}, aligned "
                f"{row['upright_aligned']:.1%}; rolled {row['rolled']:.1%}, aligned {row['rolled_aligned']:.1%}"
            )
    output = REPOSITORY / "bench" / "results" / "alignment.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
