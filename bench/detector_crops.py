"""Classifier accuracy on crops that each detector makes of the test splits (issue 5).

Each test image (FER-2013 48x48 grey, UTKFace 64x64 grey) is padded and upscaled as
``face_affect.training.framing.detect_in_crops`` does for Haar (half its size of
replicated edges on each side, then 192 px across the original image), the largest
box is cropped at the model's own ``crop_margin`` and classified. BlazeFace's boxes
are reframed like Haar's, so the same margins apply. Nothing is written unless
``--output`` is given; the committed models and docs are only read.

    PYTHONPATH=src .venv/bin/python bench/detector_crops.py [--limit N] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2

from face_affect.classifiers import OnnxClassifier
from face_affect.cropping import crop_face
from face_affect.detectors.blazeface import BlazeFaceDetector
from face_affect.settings import MODELS_DIRECTORY, SOURCE_ROOT
from face_affect.training.datasets import load_fer2013_npz, load_gender_npz
from face_affect.training.evaluation import evaluate
from face_affect.training.framing import detect_in_crops

SHARED_DATA = SOURCE_ROOT.parent / "shared" / "data"
TASKS = {
    "gender": (MODELS_DIRECTORY / "gender_mini_xception.onnx", SHARED_DATA / "gender_utkface.npz", load_gender_npz),
    "emotion": (MODELS_DIRECTORY / "emotion_mini_xception.onnx", SHARED_DATA / "fer2013.npz", load_fer2013_npz),
}
DETECTORS = {
    "haar": lambda: None,  # detect_in_crops' own Haar set-up, as release.evaluate_model uses
    # The padded, upscaled image is 384 px; at 0.5 the network sees it at its native 192 px.
    "blazeface": lambda: BlazeFaceDetector(input_scale=0.5),
}


def measure(task: str, detector_name: str, limit: int) -> dict[str, object]:
    model_path, data_path, load = TASKS[task]
    classifier = OnnxClassifier(model_path)
    data = load(data_path)
    images, labels = data.images["test"], data.labels["test"]
    if limit:
        images, labels = images[:limit], labels[:limit]
    start = time.perf_counter()
    detected = detect_in_crops(images, DETECTORS[detector_name]())
    seconds = time.perf_counter() - start
    found = [index for index, box in enumerate(detected.boxes) if box is not None]
    crops = [crop_face(images[index], detected.boxes[index], classifier.crop_margin) for index in found]
    on_crops = evaluate(classifier.predict(crops), labels[found], classifier.labels)
    return {
        "images": len(images),
        "detection_rate": round(detected.detection_rate, 4),
        "crop_margin": list(classifier.crop_margin),
        "accuracy_on_detected": round(on_crops.accuracy, 4),
        "count": on_crops.count,
        "detection_ms_per_image": round(seconds * 1000 / max(1, len(images)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="first N test images only (0: all)")
    parser.add_argument("--output", type=Path, help="also write the figures as JSON here")
    arguments = parser.parse_args()
    cv2.setNumThreads(1)
    results: dict[str, dict[str, object]] = {}
    print(f"{'task':<8} {'detector':<10} {'images':>6} {'detected':>8} {'accuracy':>8} {'ms/image':>8}")
    for task in TASKS:
        for detector_name in DETECTORS:
            row = results.setdefault(task, {})[detector_name] = measure(task, detector_name, arguments.limit)
            print(
                f"{task:<8} {detector_name:<10} {row['images']:>6} {row['detection_rate']:>8.1%}"
                f" {row['accuracy_on_detected']:>8.1%} {row['detection_ms_per_image']:>8.2f}",
                flush=True,
            )
    if arguments.output:
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(json.dumps(results, indent=2) + "\n")
        print(f"written {arguments.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
