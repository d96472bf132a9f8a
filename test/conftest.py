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
EMOTION_MODEL = MODELS_DIRECTORY / "emotion_mini_xception.onnx"
GENDER_MODEL = MODELS_DIRECTORY / "gender_mini_xception.onnx"


def load_photo(name: str) -> np.ndarray:
    image = cv2.imread(str(PHOTOS / name))
    assert image is not None, f"missing test photo {PHOTOS / name}"
    return image


def labelled_faces() -> dict[str, list[FaceBox]]:
    faces: dict[str, list[FaceBox]] = {}
    with open(LABELLED_FACES) as stream:
        rows = csv.DictReader(line for line in stream if not line.startswith("#"))
        for row in rows:
            box = FaceBox(int(row["x"]), int(row["y"]), int(row["width"]), int(row["height"]))
            faces.setdefault(row["image"], []).append(box)
    return faces


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
