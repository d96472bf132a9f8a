"""Cost of a guided back-propagation map per face on one core: p50 and p99 in ms, printed and as JSON.

Faces are FER-2013 test images (48x48) for the emotion models and UTKFace-sized
crops of them (64x64) for the gender model, explained one face per run (the
ROS node's case with one face) and in batches of 4. The forward pass alone is
timed on the same faces for comparison. Run on a quiet machine:
``PYTHONPATH=src .venv/bin/python bench/saliency.py [--output bench/results/saliency.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime

from face_affect.classifiers import OnnxClassifier
from face_affect.saliency import GuidedBackpropagation
from face_affect.settings import MODELS_DIRECTORY, SOURCE_ROOT

FER = SOURCE_ROOT.parent / "shared" / "data" / "fer2013.npz"
MODELS = ("emotion_mini_xception.onnx", "emotion_sequential_cnn.onnx", "gender_mini_xception.onnx")
BATCH_SIZES = (1, 4)


def percentiles(samples: list[float], faces: int) -> dict[str, float]:
    """Milliseconds per face."""
    milliseconds = np.array(samples) * 1e3 / faces
    return {
        "p50": round(float(np.percentile(milliseconds, 50)), 3),
        "p99": round(float(np.percentile(milliseconds, 99)), 3),
    }


def timings(function, batches: list[np.ndarray], repeats: int, warm_up: int = 20) -> list[float]:
    """Seconds per call of ``function(batch)``, cycling through ``batches``."""
    for index in range(warm_up):
        function(batches[index % len(batches)])
    samples = []
    for index in range(repeats):
        batch = batches[index % len(batches)]
        start = time.perf_counter()
        function(batch)
        samples.append(time.perf_counter() - start)
    return samples


def faces_for(classifier: OnnxClassifier, count: int) -> np.ndarray:
    with np.load(FER) as archive:
        faces = archive["x_test"][:count]
    size = (classifier.input_width, classifier.input_height)
    return np.stack([cv2.resize(face, size)[None] for face in faces]).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=500)
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "saliency.json")
    arguments = parser.parse_args()
    report: dict[str, object] = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores_visible": os.cpu_count()},
        "onnxruntime": onnxruntime.__version__,
        "threads": 1,
        "unit": "ms per face",
        "models": {},
    }
    print(f"{'model':32} {'batch':>5} {'guided p50':>10} {'p99':>8} {'forward p50':>11} {'p99':>8}")
    for name in MODELS:
        path = MODELS_DIRECTORY / name
        if not path.is_file():
            print(f"{name:32} (missing, skipped)")
            continue
        classifier = OnnxClassifier(path, threads=1)
        explainer = GuidedBackpropagation(classifier, threads=1)
        faces = faces_for(classifier, max(BATCH_SIZES) * 16)
        results = {}
        for batch_size in BATCH_SIZES:
            batches = [faces[start : start + batch_size] for start in range(0, len(faces), batch_size)]
            guided = timings(explainer.explain_batch, batches, arguments.repeats)
            forward = timings(classifier.predict_batch, batches, arguments.repeats)
            results[f"batch_{batch_size}"] = {
                "guided": percentiles(guided, batch_size),
                "forward": percentiles(forward, batch_size),
            }
            row = results[f"batch_{batch_size}"]
            print(
                f"{name:32} {batch_size:>5} {row['guided']['p50']:>10.3f} {row['guided']['p99']:>8.3f} "
                f"{row['forward']['p50']:>11.3f} {row['forward']['p99']:>8.3f}"
            )
        report["models"][name] = results
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {arguments.output}")


if __name__ == "__main__":
    main()
