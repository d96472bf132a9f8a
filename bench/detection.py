"""Face detectors on our labelled photos: recall, precision and milliseconds per VGA frame on one core.

Accuracy: each detector as ``config/default.yaml`` sets it up, on the photos at
their own size, against ``test/data/labelled_faces.csv`` (IoU >= 0.5; detections in
``test/data/ignored_regions.csv`` count neither way). Speed: the same photos
cropped to 4:3 and resized to 640x480, one OpenCV and one onnxruntime thread.

    PYTHONPATH=src .venv/bin/python bench/detection.py [--output bench/results/detection.json]

``--fit-framing`` also prints the per-side growth of BlazeFace's box that gives
Haar's box on faces both find (``face_affect.blazeface.HAAR_FRAMING``).

``network ms`` is BlazeFace's network alone (onnxruntime's ``run``) on the same frames;
the rest of its time is scaling the frame, decoding and suppression. ``blaze_0.4`` is
BlazeFace at ``blazeface_input_scale: 0.4``. ``haar_stock`` is the reference of the real-time budget: OpenCV's stock
``detectMultiScale`` settings (scale 1.1, 3 neighbours, no minimum size) at full
resolution. ``recall_40px`` is the recall on labelled faces at least 40 px wide
(a person 1-2 m from a VGA camera), smaller faces counting neither way.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "test"))

from conftest import count_matches, ignored_regions, intersection_over_union, labelled_faces, load_photo  # noqa: E402
from face_affect.detectors import FaceDetector, create_detector  # noqa: E402
from face_affect.detectors.blazeface import BlazeFaceDetector  # noqa: E402
from face_affect.settings import load_settings  # noqa: E402
from face_affect.types import FaceBox  # noqa: E402

# Name -> parameters over config/default.yaml.
DETECTORS = {
    "blazeface": {"detector": "blazeface"},
    # The one cheaper network input for VGA frames (256x192 instead of 288x224).
    "blaze_0.4": {"detector": "blazeface", "blazeface_input_scale": 0.4},
    "haar": {"detector": "haar"},
    "haar_stock": {
        "detector": "haar",
        "haar_scale_factor": 1.1,
        "haar_min_neighbors": 3,
        "min_face_size": 0,
        "detection_width": 0,
    },
}
VGA = (640, 480)
LARGE_FACE_WIDTH = 40


def vga_frame(image: np.ndarray) -> np.ndarray:
    """The photo's central 4:3 region at 640x480, the size of the robot's camera frames."""
    height, width = image.shape[:2]
    crop_width, crop_height = min(width, height * 4 // 3), min(height, width * 3 // 4)
    x, y = (width - crop_width) // 2, (height - crop_height) // 2
    return cv2.resize(image[y : y + crop_height, x : x + crop_width], VGA, interpolation=cv2.INTER_AREA)


def accuracy(detector: FaceDetector, photos: dict[str, np.ndarray]) -> dict[str, float]:
    labels, ignored = labelled_faces(), ignored_regions()
    faces = hits = false_alarms = large_faces = large_hits = 0
    for name, image in photos.items():
        found = detector.detect(image)
        image_hits, image_false_alarms = count_matches(found, labels[name], ignored.get(name, []))
        faces += len(labels[name])
        hits += image_hits
        false_alarms += image_false_alarms
        large = [box for box in labels[name] if box.width >= LARGE_FACE_WIDTH]
        small = [box for box in labels[name] if box.width < LARGE_FACE_WIDTH]
        large_faces += len(large)
        large_hits += count_matches(found, large, ignored.get(name, []) + small)[0]
    return {
        "faces": faces,
        "hits": hits,
        "false_alarms": false_alarms,
        "recall": hits / faces,
        "precision": hits / max(1, hits + false_alarms),
        "faces_40px": large_faces,
        "recall_40px": large_hits / max(1, large_faces),
    }


def milliseconds_per_frame(detector: FaceDetector, frames: list[np.ndarray], repeats: int) -> dict[str, float]:
    for frame in frames:
        detector.detect(frame)
    wall, processor = [], []
    for index in range(repeats):
        start, start_processor = time.perf_counter(), time.process_time()
        detector.detect(frames[index % len(frames)])
        wall.append((time.perf_counter() - start) * 1000)
        processor.append((time.process_time() - start_processor) * 1000)
    return {
        "ms_p50": float(np.percentile(wall, 50)),
        "ms_p99": float(np.percentile(wall, 99)),
        # CPU time leaves out the waits for a core when other work shares the machine.
        "cpu_ms_p50": float(np.percentile(processor, 50)),
    }


def network_milliseconds(detector: BlazeFaceDetector, frames: list[np.ndarray], repeats: int) -> float:
    """Median time of the network alone on the frames' inputs, as :meth:`BlazeFaceDetector.detect_at_scale` runs it."""
    tensors = [detector.network_input(frame, detector.input_scale)[0] for frame in frames]
    sessions = [detector.session_for(tensor.shape[3], tensor.shape[2]) for tensor in tensors]
    timings = []
    for index in range(repeats):
        tensor, session = tensors[index % len(frames)], sessions[index % len(frames)]
        start = time.perf_counter()
        session.run(None, {detector.input_name: tensor})
        timings.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(timings, 50))


def best_match(box: FaceBox, candidates: list[FaceBox]) -> FaceBox | None:
    best = max(candidates, key=lambda candidate: intersection_over_union(box, candidate), default=None)
    return best if best is not None and intersection_over_union(box, best) >= 0.5 else None


def haar_framing(blazeface: BlazeFaceDetector, haar: FaceDetector, photos: dict[str, np.ndarray]) -> dict:
    """Median growth (left, top, right, bottom) of BlazeFace's own box onto Haar's, over labelled faces both find."""
    growths, overlaps = [], []
    for name, image in photos.items():
        corners, _ = blazeface.detect_corners(image)
        own = [FaceBox(round(x0), round(y0), round(x1 - x0), round(y1 - y0)) for x0, y0, x1, y1 in corners]
        framed, haar_boxes = blazeface.detect(image), haar.detect(image)
        for label in labelled_faces()[name]:
            found, reference, reframed = (best_match(label, boxes) for boxes in (own, haar_boxes, framed))
            if found is None or reference is None or reframed is None:
                continue
            growths.append(
                [
                    (found.x - reference.x) / found.width,
                    (found.y - reference.y) / found.height,
                    (reference.x + reference.width - found.x - found.width) / found.width,
                    (reference.y + reference.height - found.y - found.height) / found.height,
                ]
            )
            overlaps.append(intersection_over_union(reframed, reference))
    return {
        "faces": len(growths),
        "framing": [round(float(side), 3) for side in np.median(growths, axis=0)],
        "iou_with_haar_mean": float(np.mean(overlaps)),
        "iou_with_haar_min": float(np.min(overlaps)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPOSITORY / "bench" / "results" / "detection.json")
    parser.add_argument("--repeats", type=int, default=300, help="timed VGA frames per detector")
    parser.add_argument("--fit-framing", action="store_true")
    arguments = parser.parse_args()

    cv2.setNumThreads(1)
    settings = load_settings(REPOSITORY / "config" / "default.yaml", {"onnx_threads": 1})
    photos = {name: load_photo(name) for name in sorted(labelled_faces())}
    frames = [vga_frame(image) for image in photos.values()]
    results = {}
    for name, parameters in DETECTORS.items():
        detector = create_detector(settings.with_values(parameters))
        results[name] = {**accuracy(detector, photos), **milliseconds_per_frame(detector, frames, arguments.repeats)}
        if isinstance(detector, BlazeFaceDetector):
            results[name]["network_ms_p50"] = network_milliseconds(detector, frames, arguments.repeats)
    print(f"default detector: {settings.detector}; {len(photos)} photos, IoU >= 0.5; ms per 640x480 frame, one thread")
    print(
        f"{'detector':<10} {'faces':>5} {'hits':>5} {'false':>5} {'recall':>7} {'precision':>9}"
        f" {'recall >=40px':>13} {'p50 ms':>7} {'p99 ms':>7} {'CPU p50 ms':>10} {'network ms':>10}"
    )
    for name, row in results.items():
        network = f"{row['network_ms_p50']:>10.2f}" if "network_ms_p50" in row else f"{'-':>10}"
        print(
            f"{name:<10} {row['faces']:>5} {row['hits']:>5} {row['false_alarms']:>5} {row['recall']:>7.3f}"
            f" {row['precision']:>9.3f} {row['recall_40px']:>6.3f} of {row['faces_40px']:>3}"
            f" {row['ms_p50']:>7.2f} {row['ms_p99']:>7.2f} {row['cpu_ms_p50']:>10.2f}"
            f" {network}"
        )
    if arguments.fit_framing:
        blazeface = create_detector(settings.with_values({"detector": "blazeface"}))
        haar = create_detector(settings.with_values({"detector": "haar", "min_face_size": 16, "detection_width": 0}))
        results["haar_framing"] = haar_framing(blazeface, haar, photos)
        print("BlazeFace box to Haar box:", results["haar_framing"])
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps({"default_detector": settings.detector, **results}, indent=2) + "\n")
    print(f"written {arguments.output}")


if __name__ == "__main__":
    main()
