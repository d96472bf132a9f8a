"""Shared fixtures: the real photos in ../shared/data and the committed models."""

from __future__ import annotations

import csv
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import pytest

import face_affect
from face_affect.geometry import box_iou
from face_affect.settings import MODELS_DIRECTORY
from face_affect.types import FaceBox

REPOSITORY = Path(__file__).resolve().parents[1]
collect_ignore = ["ros2"]
"""The ROS 2 launch tests: in build/ros2_ws's shell, by make test-ros2 (ROS 1 and ROS 2 never share an interpreter)."""
LIBRARY_PATH = Path(face_affect.__file__).resolve().parents[1]
"""Where the ``face_affect`` under test lies: ``src/`` of the checkout, or an installed package's site-packages."""
SHARED_DATA = REPOSITORY.parent / "shared" / "data"
PHOTOS = SHARED_DATA / "photos"
LABELLED_FACES = Path(__file__).parent / "data" / "labelled_faces.csv"
IGNORED_REGIONS = Path(__file__).parent / "data" / "ignored_regions.csv"
EMOTION_MODEL = MODELS_DIRECTORY / "emotion_mini_xception.onnx"
GENDER_MODEL = MODELS_DIRECTORY / "gender_mini_xception.onnx"


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    """``python -m face_affect ...`` as a user runs it, on the library under test."""
    return subprocess.run(
        [sys.executable, "-m", "face_affect", *arguments],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(LIBRARY_PATH), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ros: needs ROS 1 (rospy, cv_bridge, the generated messages)")
    config.addinivalue_line("markers", "training: needs the training extra (torch)")
    config.addinivalue_line("markers", "data: needs the photos and data sets in ../shared/data")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"{SHARED_DATA} is not here: the shared photos and data sets are needed")
    for item in items:
        if "data" in item.keywords:
            item.add_marker(skip)


def over_the_wire(message):
    """A ROS message as a subscriber gets it: serialised and deserialised by genpy (float32 fields rounded)."""
    buffer = BytesIO()
    message.serialize(buffer)
    received = type(message)()
    received.deserialize(buffer.getvalue())
    return received


def load_photo(name: str) -> np.ndarray:
    image = cv2.imread(str(PHOTOS / name))
    assert image is not None, f"missing test photo {PHOTOS / name}"
    return image


def read_boxes(path: Path) -> dict[str, list[FaceBox]]:
    """Boxes per photo from a CSV of ``image,x,y,width,height`` rows (``#`` lines are comments)."""
    boxes: dict[str, list[FaceBox]] = {}
    with open(path) as stream:
        rows = csv.DictReader(line for line in stream if not line.startswith("#"))
        for row in rows:
            box = FaceBox(int(row["x"]), int(row["y"]), int(row["width"]), int(row["height"]))
            boxes.setdefault(row["image"], []).append(box)
    return boxes


def labelled_faces() -> dict[str, list[FaceBox]]:
    return read_boxes(LABELLED_FACES)


def ignored_regions() -> dict[str, list[FaceBox]]:
    """Crowds and cut faces, where a detection is neither a hit nor a false alarm."""
    return read_boxes(IGNORED_REGIONS)


@pytest.fixture(scope="session")
def two_people() -> np.ndarray:
    return load_photo("face_recognition_two_people.jpg")


@pytest.fixture(scope="session")
def pipeline():
    from face_affect.pipeline import FaceAffectPipeline

    return FaceAffectPipeline.from_settings({})


def count_matches(
    found: list[FaceBox], expected: list[FaceBox], ignored: list[FaceBox] = (), threshold: float = 0.5
) -> tuple[int, int]:
    """``(hits, false alarms)``: each detection, best score first, takes the free label it overlaps most
    (IoU >= ``threshold``); one that takes none is a false alarm unless it lies mostly in an ignored region.
    """
    free = list(expected)
    hits = false_alarms = 0
    for box in sorted(found, key=lambda face: -face.score):
        best = max(free, key=lambda truth: box_iou(box, truth), default=None)
        if best is not None and box_iou(box, best) >= threshold:
            free.remove(best)
            hits += 1
        elif not any(inside_fraction(box, region) >= 0.5 for region in ignored):
            false_alarms += 1
    return hits, false_alarms


def inside_fraction(box: FaceBox, region: FaceBox) -> float:
    width = min(box.x + box.width, region.x + region.width) - max(box.x, region.x)
    height = min(box.y + box.height, region.y + region.height) - max(box.y, region.y)
    return max(0, width) * max(0, height) / max(1, box.width * box.height)
