"""The committed models still score what the model card says, on real test images.

The figures come from the card itself (its "Summary" table), so a model file replaced without
its card, or a card edited without measuring, fails here.
"""

import json
import re

import numpy as np
import pytest

from conftest import EMOTION_MODEL, GENDER_MODEL, REPOSITORY, SHARED_DATA
from face_affect.classifiers import OnnxClassifier
from face_affect.settings import MODELS_DIRECTORY
from face_affect.training.age import age_figures, age_splits, expected_age
from face_affect.training.calibration import expected_calibration_error
from face_affect.training.datasets import load_dataset, rgb_to_grey

pytestmark = pytest.mark.data  # the photos and data sets in ../shared/data

SUBSET = 1000
CARD = MODELS_DIRECTORY / "MODEL_CARD.md"
SUMMARY_HEADER = "| file | test faces | figure | value |"
DATA = {"emotion": "fer2013.npz", "gender": "gender_utkface.npz", "age": "gender_utkface.npz"}


def card_summary() -> list[tuple[str, str, str]]:
    """``(file, figure, value)`` rows of the card's summary table."""
    text = CARD.read_text()
    table = text[text.index(SUMMARY_HEADER) :].split("\n\n")[0].splitlines()[2:]
    rows = []
    for line in table:
        file, _, figure, value = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append((file.strip("`"), figure, value))
    return rows


def split_data(name: str):
    data = load_dataset(SHARED_DATA / DATA[name])
    if name == "age":
        data = age_splits(data, SHARED_DATA / "age_utkface_children.npz")
    return data


def measured(file: str, figure: str) -> float:
    """The figure of the committed ``file`` on its whole test split, as the card states it."""
    classifier = OnnxClassifier(MODELS_DIRECTORY / file)
    data = split_data(classifier.task)
    batch = data.images["test"][:, None].astype(np.float32)
    probabilities = np.concatenate([classifier.predict_batch(batch[i : i + 512]) for i in range(0, len(batch), 512)])
    labels = data.labels["test"]
    if classifier.task == "age":
        estimates = expected_age(probabilities, tuple(float(label) for label in classifier.labels))
        figures = age_figures(estimates, data.extra["test"]["age"].astype(float))
        return {
            "MAE, years": figures["mae"],
            "children (under 13) estimated under 13": figures["children_estimated_under_13"],
            "adults (18+) estimated under 13": figures["adults_estimated_under_13"],
        }[figure]
    return {
        "accuracy": float((probabilities.argmax(axis=1) == labels).mean()),
        "ECE, 15 bins": expected_calibration_error(probabilities, labels),
    }[figure]


@pytest.mark.parametrize(("file", "figure", "value"), card_summary())
def test_the_card_states_each_committed_files_figures(file: str, figure: str, value: str):
    number = float(re.sub(r"[^0-9.]", "", value))
    decimals = len(value.rstrip("%").split(".")[1]) if "." in value else 0
    if value.endswith("%"):
        number /= 100
        decimals += 2
    assert measured(file, figure) == pytest.approx(number, abs=0.51 * 10**-decimals + 1e-9), f"{file}: {figure}"


def test_the_card_covers_every_committed_model():
    files = {file for file, _, _ in card_summary()}
    assert files == {path.name for path in MODELS_DIRECTORY.glob("*.onnx")}


@pytest.mark.parametrize(
    ("model_path", "archive_name"),
    [(EMOTION_MODEL, "fer2013.npz"), (GENDER_MODEL, "gender_utkface.npz")],
)
def test_accuracy_on_1000_test_images_matches_the_report(model_path, archive_name):
    report = json.loads((REPOSITORY / "docs" / f"{model_path.stem}.json").read_text())
    classifier = OnnxClassifier(model_path)
    with np.load(SHARED_DATA / archive_name) as archive:
        images, labels = rgb_to_grey(archive["x_test"][:SUBSET]), archive["y_test"][:SUBSET]
    probabilities = classifier.predict_batch(images[:, None].astype(np.float32))
    accuracy = float((probabilities.argmax(axis=1) == labels).mean())
    assert accuracy == pytest.approx(report[f"first_{SUBSET}_accuracy"], abs=0.01)
    assert json.loads(classifier.metadata["test_accuracy"]) == report["whole_image"]["accuracy"]
