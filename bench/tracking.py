"""Tracking benchmark: IDF1, MOTA and id switches (motmetrics) on sequences made from our photos.

Each sequence renders VGA frames at 30 Hz with known face boxes (ground truth), runs the
real detector (BlazeFace, ``config/default.yaml``) and ``face_affect.redetection``'s
tracking on them, and scores the confirmed tracks (what the results list) against the truth:

- ``pan_*``: a camera panning and zooming over a multi-face photo; the truth is
  ``test/data/labelled_faces.csv`` moved with the view (faces at least 25 px wide and at
  least half inside it, clipped to it); ``pan_back_and_forth`` pans back, so faces return after seconds
  out of view and get new ids: it is reported, not counted in the overall figures;
- ``crossing``: two faces cut from a photo sliding across each other on a grey wall;
- ``hidden_*``: a face covered for 0.5 s or 1 s (a person walking past), then seen again;
- each also with 10-30% of the detections dropped at random and the rest jittered by 5%.

``python bench/tracking.py [--settings KEY=VALUE ...]``, results in ``bench/results/tracking.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import motmetrics
import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "src"))
sys.path.insert(0, str(REPOSITORY / "test"))

from conftest import PHOTOS, labelled_faces  # noqa: E402
from face_affect.detectors import FaceDetector, create_detector  # noqa: E402
from face_affect.redetection import TrackingDetector  # noqa: E402
from face_affect.settings import Settings, load_settings, parse_assignment  # noqa: E402
from face_affect.types import FaceBox  # noqa: E402

RATE = 30.0
VIEW = (640, 480)
MIN_TRUTH_WIDTH = 25
MIN_TRUTH_INSIDE = 0.5
"""A face is in the truth, clipped to the view, while at least this share of it is in view (as MOT
benchmarks keep partly visible and occluded people: the person is there)."""


@dataclass
class Frame:
    image: np.ndarray
    truth: dict[str, FaceBox]
    """Ground-truth boxes by person."""


class DegradedDetector:
    """A detector whose boxes are dropped with probability ``drop`` and the rest jittered by ``jitter``."""

    def __init__(self, detector: FaceDetector, drop: float, jitter: float, seed: int) -> None:
        self.detector, self.drop, self.jitter = detector, drop, jitter
        self.model_path = detector.model_path
        self.rng = np.random.default_rng(seed)

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        kept = []
        for box in self.detector.detect(image):
            if self.rng.random() < self.drop:
                continue
            dx, dy, ds = self.rng.uniform(-self.jitter, self.jitter, 3) * box.width
            kept.append(
                FaceBox(
                    round(box.x + dx),
                    round(box.y + dy),
                    max(2, round(box.width + ds)),
                    max(2, round(box.height + ds)),
                    box.score,
                )
            )
        return kept


def view_of(photo: np.ndarray, centre: tuple[float, float], width: float) -> tuple[np.ndarray, np.ndarray]:
    """The VGA view of ``photo`` ``width`` source pixels wide around ``centre``, and its affine map."""
    scale = VIEW[0] / width
    matrix = np.array([[scale, 0, VIEW[0] / 2 - scale * centre[0]], [0, scale, VIEW[1] / 2 - scale * centre[1]]])
    return cv2.warpAffine(photo, matrix, VIEW, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE), matrix


def moved(box: FaceBox, matrix: np.ndarray) -> FaceBox | None:
    """The box through the view's map, if it is wide enough and mostly inside the view."""
    scale = matrix[0, 0]
    x, y = scale * box.x + matrix[0, 2], scale * box.y + matrix[1, 2]
    width, height = scale * box.width, scale * box.height
    inside_x = max(0.0, min(VIEW[0], x + width) - max(0.0, x))
    inside_y = max(0.0, min(VIEW[1], y + height) - max(0.0, y))
    if width < MIN_TRUTH_WIDTH or inside_x * inside_y < MIN_TRUTH_INSIDE * width * height:
        return None
    x0, y0 = max(0.0, x), max(0.0, y)
    return FaceBox(round(x0), round(y0), round(inside_x), round(inside_y))


def pan_sequence(name: str, seconds: float = 4.0, back_and_forth: bool = False) -> Iterator[Frame]:
    """Pans from the left third to the right third of the photo at the faces' height while zooming in
    by 1.5x; ``back_and_forth`` pans back again, so faces that left the view return to it seconds later."""
    photo = cv2.imread(str(PHOTOS / name))
    boxes = labelled_faces()[name]
    height, width = photo.shape[:2]
    faces_y = float(np.mean([box.y + box.height / 2 for box in boxes]))
    count = int(seconds * RATE)
    for index in range(count):
        phase = index / (count - 1)
        sweep = np.sin(np.pi * phase) if back_and_forth else phase
        centre = (width * (0.35 + 0.3 * sweep), faces_y + 0.05 * height * phase)
        view_width = width * (0.75 - 0.25 * phase)
        image, matrix = view_of(photo, centre, view_width)
        truth = {f"p{number}": box for number, face in enumerate(boxes) if (box := moved(face, matrix))}
        yield Frame(image, truth)


def face_patches() -> list[np.ndarray]:
    photo = cv2.imread(str(REPOSITORY / "data" / "frames" / "face_recognition_two_people.jpg"))
    return [photo[10:150, 120:250].copy(), photo[20:160, 430:560].copy()]


# Where the face sits inside each patch (the expected boxes of test/expected_faces.csv, in patch pixels).
PATCH_FACES = (FaceBox(13, 6, 101, 101), FaceBox(18, 16, 98, 98))


def crossing_sequence(seconds: float = 2.5) -> Iterator[Frame]:
    """Two faces slide towards each other, one passing in front of the other, and apart again."""
    patches = face_patches()
    count = int(seconds * RATE)
    for index in range(count):
        canvas = np.full((VIEW[1], VIEW[0], 3), 120, np.uint8)
        phase = index / (count - 1)
        positions = [(round(20 + 470 * phase), 150), (round(490 - 470 * phase), 170)]
        truth = {}
        for number, (patch, (x, y), face) in enumerate(zip(patches, positions, PATCH_FACES)):
            canvas[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
            truth[f"p{number}"] = FaceBox(x + face.x, y + face.y, face.width, face.height)
        # The second face is in front; the first stays in the truth behind it.
        yield Frame(canvas, truth)


def hidden_sequence(hidden_seconds: float, seconds: float = 3.0) -> Iterator[Frame]:
    """One face drifting right, covered by a grey board for ``hidden_seconds`` in the middle (the person
    stays in the truth behind it)."""
    patch = face_patches()[0]
    count = int(seconds * RATE)
    hide_from = int((seconds - hidden_seconds) / 2 * RATE)
    hide_to = hide_from + int(hidden_seconds * RATE)
    for index in range(count):
        canvas = np.full((VIEW[1], VIEW[0], 3), 120, np.uint8)
        x, y = 100 + 4 * index, 150
        canvas[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
        truth = {"p0": FaceBox(x + PATCH_FACES[0].x, y + PATCH_FACES[0].y, 101, 101)}
        if hide_from <= index < hide_to:
            canvas[y - 20 : y + patch.shape[0] + 20, x - 20 : x + patch.shape[1] + 20] = 90
        yield Frame(canvas, truth)


SEQUENCES = {
    "pan_multiface": lambda: pan_sequence("facenet_pytorch_multiface.jpg"),
    "pan_two_people": lambda: pan_sequence("face_recognition_two_people.jpg"),
    "pan_obama_biden": lambda: pan_sequence("face_recognition_obama_and_biden.jpg"),
    "pan_back_and_forth": lambda: pan_sequence("facenet_pytorch_multiface.jpg", back_and_forth=True),
    "crossing": crossing_sequence,
    "hidden_0.5s": lambda: hidden_sequence(0.5),
    "hidden_1.0s": lambda: hidden_sequence(1.0),
}
CROSSINGS = {"crossing"}
RETURNS = {"pan_back_and_forth"}
"""Faces leave the view for seconds and come back: longer than any timeout, so they return with a new id
(no appearance model re-identifies them), which motmetrics counts as a switch."""
DEGRADATIONS = {"clean": (0.0, 0.0), "drop10_jitter5": (0.1, 0.05), "drop30_jitter5": (0.3, 0.05)}


def corners(box: FaceBox) -> list[int]:
    return [box.x, box.y, box.width, box.height]


def run_sequence(name: str, settings: Settings, drop: float, jitter: float) -> dict:
    detector = DegradedDetector(create_detector(settings), drop, jitter, seed=len(name))
    tracking = TrackingDetector.from_settings(detector, settings)
    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    seconds = []
    for index, frame in enumerate(SEQUENCES[name]()):
        started = time.perf_counter()
        # What a user gets: every confirmed track, coasting ones (predicted boxes) included.
        tracks = [track for track in tracking.update(frame.image, index / RATE) if track.confirmed]
        seconds.append(time.perf_counter() - started)
        distances = motmetrics.distances.iou_matrix(
            [corners(box) for box in frame.truth.values()], [corners(track.box) for track in tracks], max_iou=0.5
        )
        # motmetrics 1.4 takes numbers as ids.
        people = [int(person[1:]) for person in frame.truth]
        accumulator.update(people, [int(track.track_id.rsplit("_", 1)[1]) for track in tracks], distances)
    summary = motmetrics.metrics.create().compute(
        accumulator, metrics=["idf1", "mota", "num_switches", "num_frames", "num_unique_objects"], name=name
    )
    row = summary.loc[name]
    return {
        "idf1": round(float(row["idf1"]), 4),
        "mota": round(float(row["mota"]), 4),
        "id_switches": int(row["num_switches"]),
        "frames": int(row["num_frames"]),
        "people": int(row["num_unique_objects"]),
        "full_detections": tracking.full_detections,
        "redetections": tracking.redetections,
        "ms_per_frame": round(1000 * float(np.mean(seconds)), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting over the defaults")
    parser.add_argument("--output", type=Path, default=REPOSITORY / "bench" / "results" / "tracking.json")
    arguments = parser.parse_args()
    cv2.setNumThreads(1)
    settings = load_settings(REPOSITORY / "config" / "default.yaml", dict(map(parse_assignment, arguments.set)))
    results = {}
    print(f"{'sequence':<18} {'detections':<16} {'IDF1':>6} {'MOTA':>6} {'switches':>8} {'people':>6} {'ms/frame':>8}")
    for name in SEQUENCES:
        for degradation, (drop, jitter) in DEGRADATIONS.items():
            row = run_sequence(name, settings, drop, jitter)
            results[f"{name}/{degradation}"] = row
            print(
                f"{name:<18} {degradation:<16} {row['idf1']:>6.3f} {row['mota']:>6.3f} {row['id_switches']:>8}"
                f" {row['people']:>6} {row['ms_per_frame']:>8.2f}"
            )
    without_crossings = [
        row["id_switches"] for key, row in results.items() if key.split("/")[0] not in CROSSINGS | RETURNS
    ]
    scored = {key: row for key, row in results.items() if key.split("/")[0] not in RETURNS}
    overall = {
        "idf1_mean": round(float(np.mean([row["idf1"] for row in scored.values()])), 4),
        "idf1_min": min(row["idf1"] for row in scored.values()),
        "id_switches_without_crossings": int(sum(without_crossings)),
        "id_switches_with_crossings": int(sum(row["id_switches"] for row in scored.values())),
        "id_switches_returning_faces": int(sum(row["id_switches"] for k, row in results.items() if k not in scored)),
    }
    print(json.dumps(overall))
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    changed = {key: value for key, value in vars(settings).items() if value != getattr(Settings(), key)}
    arguments.output.write_text(json.dumps({"settings": changed, "overall": overall, "sequences": results}, indent=2))
    print(f"written {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
