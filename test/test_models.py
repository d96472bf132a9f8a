"""The committed models still score what the model card says, on real test images."""

import json

import numpy as np
import pytest

from conftest import EMOTION_MODEL, GENDER_MODEL, REPOSITORY, SHARED_DATA
from face_affect.classifiers import OnnxClassifier
from face_affect.training.datasets import rgb_to_grey

pytestmark = pytest.mark.data  # the photos and data sets in ../shared/data

SUBSET = 1000


def grey_test_images(archive_name: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(SHARED_DATA / archive_name) as archive:
        images, labels = archive["x_test"][:SUBSET], archive["y_test"][:SUBSET]
    return rgb_to_grey(images), labels


@pytest.mark.parametrize(
    ("model_path", "archive_name"),
    [(EMOTION_MODEL, "fer2013.npz"), (GENDER_MODEL, "gender_utkface.npz")],
)
def test_accuracy_on_1000_test_images_matches_the_card(model_path, archive_name):
    report = json.loads((REPOSITORY / "docs" / f"{model_path.stem}.json").read_text())
    classifier = OnnxClassifier(model_path)
    images, labels = grey_test_images(archive_name)
    probabilities = classifier.predict_batch(images[:, None].astype(np.float32))
    accuracy = float((probabilities.argmax(axis=1) == labels).mean())
    assert accuracy == pytest.approx(report[f"first_{SUBSET}_accuracy"], abs=0.01)
    assert json.loads(classifier.metadata["test_accuracy"]) == report["whole_image"]["accuracy"]
