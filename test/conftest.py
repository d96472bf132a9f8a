"""Shared fixtures: the real photos in ../shared/data and the committed models."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from face_affect.config import MODELS_DIRECTORY, PACKAGE_ROOT
from face_affect.detection import FaceBox

SHARED_DATA = PACKAGE_ROOT.parent / "shared" / "data"
PHOTOS = SHARED_DATA / "photos"
LABELLED_FACES = Path(__file__).parent / "data" / "labelled_faces.csv"
IGNORED_REGIONS = Path(__file__).parent / "data" / "ignored_regions.csv"
EMOTION_MODEL = MODELS_DIRECTORY / "emotion_mini_xception.onnx"
GENDER_MODEL = MODELS_DIRECTORY / "gender_mini_xception.onnx"


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


def intersection_over_union(a: FaceBox, b: FaceBox) -> float:
    width = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    height = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    if width <= 0 or height <= 0:
        return 0.0
    overlap = width * height
    return overlap / (a.width * a.height + b.width * b.height - overlap)


@pytest.fixture(scope="session")
def two_people() -> np.ndarray:
    return load_photo("face_recognition_two_people.jpg")


@pytest.fixture(scope="session")
def pipeline():
    from face_affect.pipeline import FaceAffectPipeline

    return FaceAffectPipeline.from_config({})


def count_matches(
    found: list[FaceBox], expected: list[FaceBox], ignored: list[FaceBox] = (), threshold: float = 0.5
) -> tuple[int, int]:
    """``(hits, false alarms)``: each detection, best score first, takes the free label it overlaps most
    (IoU >= ``threshold``); one that takes none is a false alarm unless it lies mostly in an ignored region.
    """
    free = list(expected)
    hits = false_alarms = 0
    for box in sorted(found, key=lambda face: -face.score):
        best = max(free, key=lambda truth: intersection_over_union(box, truth), default=None)
        if best is not None and intersection_over_union(box, best) >= threshold:
            free.remove(best)
            hits += 1
        elif not any(inside_fraction(box, region) >= 0.5 for region in ignored):
            false_alarms += 1
    return hits, false_alarms


def inside_fraction(box: FaceBox, region: FaceBox) -> float:
    width = min(box.x + box.width, region.x + region.width) - max(box.x, region.x)
    height = min(box.y + box.height, region.y + region.height) - max(box.y, region.y)
    return max(0, width) * max(0, height) / max(1, box.width * box.height)
