"""Overlay benchmark: faces covered by labels, overlapping labels and drawing time.

- Photo sets: ``../shared/data/photos`` (or ``--photos DIR``, any folder of photos) and the demo's
  frames (``data/frames``), as ``face-affect image --annotate`` draws them: faces found by the real
  pipeline. A face is a detected box, or a hand-labelled one of ``test/data/labelled_faces.csv``
  not detected; ``covered`` counts faces at least 40 px wide that a label touches.
- Drawing time: ``draw_results`` per frame with 7 tracked faces (4-line labels) on a VGA frame,
  the classifier node's per-frame cost while ``/face_affect/annotated`` has subscribers, and a
  synthetic crowd of 40 faces that exercises the fallbacks.

``python bench/overlay.py [--photos DIR] [--annotated DIR]``, results in ``bench/results/overlay.json``;
``--annotated DIR`` also writes the drawn pictures (PNG) there, to look at.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "src"))
sys.path.insert(0, str(REPOSITORY / "test"))

from conftest import PHOTOS, labelled_faces  # noqa: E402
from face_affect.drawing import Label, draw_results, faces_under_labels, overlapping_labels, plan_labels  # noqa: E402
from face_affect.geometry import box_iou  # noqa: E402
from face_affect.pipeline import FaceAffectPipeline  # noqa: E402
from face_affect.settings import load_settings  # noqa: E402
from face_affect.types import Attribute, FaceBox, FaceResult  # noqa: E402

DEMO_FRAMES = REPOSITORY / "data" / "frames"
MINIMUM_WIDTH = 40
REPEATS = 200


def faces_of(name: str, results: list[FaceResult], scale: float) -> list[tuple[int, int, int, int]]:
    """Detected boxes, and the hand-labelled faces (scaled to the image) that no detection matches."""
    detected = [result.box for result in results]
    faces = list(detected)
    for box in labelled_faces().get(name, []):
        scaled = FaceBox(
            round(box.x * scale), round(box.y * scale), round(box.width * scale), round(box.height * scale)
        )
        if all(box_iou(scaled, other) < 0.3 for other in detected):
            faces.append(scaled)
    return [(box.x, box.y, box.x + box.width, box.y + box.height) for box in faces]


def describe(labels: list[Label], faces: int) -> dict[str, int]:
    return {
        "faces": faces,
        "full": sum(not label.compact and label.leader is None for label in labels),
        "full_with_leader": sum(not label.compact and label.leader is not None for label in labels),
        "compact": sum(label.compact for label in labels),
        "box_colour_only": faces - len(labels),
    }


def photo_sets(photos: Path) -> dict[str, list[tuple[Path, float]]]:
    """Each set's images with the scale from the labelled photo of the same name (1 if none)."""
    frames = []
    for path in sorted(DEMO_FRAMES.glob("*.jpg")):
        source = cv2.imread(str(PHOTOS / path.name))
        frames.append((path, cv2.imread(str(path)).shape[1] / source.shape[1] if source is not None else 1.0))
    return {
        "photos": [
            (path, 1.0) for path in sorted(photos.iterdir()) if path.suffix.lower() in {".jpg", ".png", ".jpeg"}
        ],
        "demo_frames": frames,
    }


def measure_photos(pipeline: FaceAffectPipeline, photos: Path, annotated: Path | None) -> dict:
    report = {}
    for set_name, paths in photo_sets(photos).items():
        totals = {"faces_wide": 0, "covered": 0, "overlapping_labels": 0}
        per_image = {}
        for path, scale in paths:
            image = cv2.imread(str(path))
            results = pipeline.process(image)
            labels = plan_labels(results, (image.shape[1], image.shape[0]))
            faces = faces_of(path.name, results, scale)
            counts = {
                "faces_wide": sum(x1 - x0 >= MINIMUM_WIDTH for x0, _, x1, _ in faces),
                "covered": faces_under_labels(faces, labels, MINIMUM_WIDTH),
                "overlapping_labels": overlapping_labels(labels),
            }
            per_image[path.name] = counts | describe(labels, len(results))
            totals = {key: totals[key] + counts[key] for key in totals}
            if annotated is not None:
                cv2.imwrite(str(annotated / f"{set_name}_{path.stem}.png"), draw_results(image, results))
        report[set_name] = {"total": totals, "images": per_image}
        print(f"{set_name}: {totals}", file=sys.stderr)
    return report


def tracked_face(x: int, y: int, size: int, number: int) -> FaceResult:
    attributes = {
        "gender": Attribute("woman" if number % 2 else "man", 0.97, {"woman": 0.97, "man": 0.03}),
        "emotion": Attribute("happy", 0.8, {"happy": 0.8, "neutral": 0.2}),
        "age": Attribute("34", 0.5, {"30": 0.5, "40": 0.5}, value=34.0, spread=6.0),
    }
    return FaceResult(FaceBox(x, y, size, size), attributes, track_id=f"cuwlq_{number}")


def seven_faces() -> list[FaceResult]:
    """A group in front of a robot's VGA camera: two rows, 60-90 px faces."""
    places = [
        (60, 120, 80),
        (200, 100, 90),
        (340, 110, 85),
        (480, 130, 80),
        (130, 280, 70),
        (300, 290, 65),
        (450, 300, 60),
    ]
    return [tracked_face(x, y, size, number) for number, (x, y, size) in enumerate(places, 1)]


def crowd() -> list[FaceResult]:
    return [
        tracked_face(40 + column * 60, 50 + row * 74, 50, row * 8 + column) for row in range(5) for column in range(8)
    ]


def time_drawing(results: list[FaceResult], annotated: Path | None, name: str) -> dict[str, float]:
    frame = np.full((480, 640, 3), 90, np.uint8)
    draw_results(frame, results)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        drawn = draw_results(frame, results)
        times.append((time.perf_counter() - start) * 1000)
    if annotated is not None:
        cv2.imwrite(str(annotated / f"{name}.png"), drawn)
    labels = plan_labels(results, (640, 480))
    figures = {"median_ms": round(statistics.median(times), 2), "p95_ms": round(float(np.percentile(times, 95)), 2)}
    figures |= describe(labels, len(results))
    print(f"{name}: {figures}", file=sys.stderr)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--photos", type=Path, default=PHOTOS, help="a folder of photos (default: ../shared/data/photos)"
    )
    parser.add_argument("--annotated", type=Path, help="write the drawn pictures here (PNG)")
    arguments = parser.parse_args()
    if arguments.annotated:
        arguments.annotated.mkdir(parents=True, exist_ok=True)
    pipeline = FaceAffectPipeline.from_settings(load_settings(None, {}))
    report = {
        "photo_sets": measure_photos(pipeline, arguments.photos, arguments.annotated),
        "drawing_vga_7_faces": time_drawing(seven_faces(), arguments.annotated, "vga_7_faces"),
        "drawing_vga_crowd_40_faces": time_drawing(crowd(), arguments.annotated, "vga_crowd_40_faces"),
    }
    output = REPOSITORY / "bench" / "results" / "overlay.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
