"""Cross-dataset pseudo-labels: the committed files label real training faces for the tasks their source lacks."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch", reason="the training extra (torch) is not installed")
pytestmark = [pytest.mark.training, pytest.mark.data]

from conftest import EMOTION_MODEL, GENDER_MODEL, MODELS_DIRECTORY, SHARED_DATA  # noqa: E402
from face_affect.classifiers import OnnxClassifier  # noqa: E402
from face_affect.training.__main__ import parse_arguments  # noqa: E402
from face_affect.training.age import AGE_BINS, CHILD_AGE, NO_GENDER, age_standard_deviation, expected_age, two_hot  # noqa: E402
from face_affect.training.datasets import FER2013_CLASSES, GENDER_CLASSES, LabelledSplits  # noqa: E402
from face_affect.training.framing import reframed, resized  # noqa: E402
from face_affect.training.heads import (  # noqa: E402
    NO_LABEL,
    TASK_CLASSES,
    HeadsConfig,
    HeadSplits,
    export_heads,
    head_losses,
    label_training_faces,
    pseudo_targets,
    train_heads,
    training_faces,
)
from face_affect.training.pseudo_labels import PseudoThresholds, load_pseudo_labels  # noqa: E402
from model_files import merged_heads, rewrite_metadata  # noqa: E402

AGE_MODEL = MODELS_DIRECTORY / "age_mini_xception.onnx"
SIZE = 48
FRAMING = (-0.016, -0.103, 0.0, 0.076)
"""UTKFace's framing, the trunk's (model card); FER-2013's and LFW's are measured there too."""
FER_FRAMING = (0.0, 0.0, 0.0, 0.021)
LFW_FRAMING = (0.016, 0.016, 0.0, 0.0)


def labelled_splits(classes, images, labels, extra=None, votes=None) -> LabelledSplits:
    """Training faces only (val and test are not needed to build the training set)."""
    return LabelledSplits(classes, {"train": images}, {"train": labels}, {"train": extra or {}}, {"train": votes})


@pytest.fixture(scope="module")
def real_faces() -> HeadSplits:
    """Real training faces of every source, made as :func:`~face_affect.training.heads.load_heads_data` makes
    them (framing measured once, in the model card): 16 of FER-2013, 12 UTKFace adults and 4 children, 8 of LFW."""
    with np.load(SHARED_DATA / "fer2013.npz") as archive:
        fer_images, fer_labels = archive["x_train"][:16], archive["y_train"][:16]
    with np.load(SHARED_DATA / "gender_utkface.npz") as archive:
        adults = archive["x_train"][:12], archive["y_train"][:12], archive["age_train"][:12], archive["race_train"][:12]
    with np.load(SHARED_DATA / "age_utkface_children.npz") as archive:
        children = archive["x_train"][:4], archive["age_train"][:4], archive["race_train"][:4]
    with np.load(SHARED_DATA / "gender_lfw.npz") as archive:
        lfw_images, lfw_labels = archive["x"][:8], archive["y"][:8]
    votes = np.zeros((16, len(FER2013_CLASSES)), np.float32)
    emotion = labelled_splits(FER2013_CLASSES, reframed(fer_images, FER_FRAMING, FRAMING), fer_labels, votes=votes)
    ages = np.concatenate([adults[2], children[1]])
    extra = {
        "age": ages,
        "race": np.concatenate([adults[3], children[2]]),
        "gender": np.concatenate([adults[1], np.full(4, NO_GENDER)]),
    }
    age_images = resized(np.concatenate([adults[0], children[0]]), SIZE, SIZE)
    age = labelled_splits(TASK_CLASSES["age"], age_images, two_hot(ages).argmax(1), extra, two_hot(ages))
    lfw = [resized(reframed(lfw_images, LFW_FRAMING, FRAMING), SIZE, SIZE)]
    train = training_faces(emotion, age, lfw, [lfw_labels.astype(np.int64)], FRAMING, 0.5)
    return HeadSplits(train, {}, FRAMING)


@pytest.fixture(scope="module")
def gender_and_age_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real multi-head file: the committed gender and age files as two heads of one graph."""
    return merged_heads({"gender": GENDER_MODEL, "age": AGE_MODEL}, tmp_path_factory.mktemp("heads") / "heads.onnx")


def test_teachers_label_only_the_tasks_a_source_lacks_at_the_thresholds(real_faces, gender_and_age_file, tmp_path):
    data = real_faces.train
    thresholds = PseudoThresholds(min_confidence_emotion=0.5, min_confidence_gender=0.9, max_age_spread=8.0)
    labels = label_training_faces(data, [EMOTION_MODEL, gender_and_age_file], thresholds)
    assert data.sources == {"fer2013": 16, "utkface": 16, "lfw": 8}
    fer, utkface, lfw = slice(0, 16), slice(16, 32), slice(32, 40)
    children = slice(28, 32)
    kept = labels.kept
    assert not kept["emotion"][fer].any() and not kept["gender"][utkface].any() and not kept["gender"][lfw].any()
    assert not kept["age"][utkface].any()
    confidence = {task: labels.probabilities[task].max(1) for task in ("emotion", "gender")}
    spread = age_standard_deviation(labels.probabilities["age"])
    lacking = {"emotion": data.emotion == NO_LABEL, "gender": data.gender == NO_LABEL, "age": data.age == NO_LABEL}
    child = labels.probabilities["age"][:, np.array(AGE_BINS) < CHILD_AGE].sum(1)
    np.testing.assert_array_equal(kept["emotion"], lacking["emotion"] & (confidence["emotion"] >= 0.5))
    # Gender: not on children (their own age, else the teachers'), who lack it and whom the gender file calls women.
    adults = np.where(lacking["age"], child < 0.5, data.age >= CHILD_AGE)
    assert lacking["gender"][children].all() and not adults[children].any()
    np.testing.assert_array_equal(kept["gender"], lacking["gender"] & adults & (confidence["gender"] >= 0.9))
    sure = (child >= 0.9) | (child <= 0.1)
    np.testing.assert_array_equal(kept["age"], lacking["age"] & sure & (spread <= 8.0))
    assert (lacking["age"] & sure & (spread > 8.0)).any()  # the spread limit took some away
    without_limit = label_training_faces(data, [gender_and_age_file], replace(thresholds, max_age_spread=None))
    np.testing.assert_array_equal(without_limit.kept["age"], lacking["age"] & sure)
    # Real faces, confident teachers: each task gains faces, FER-2013's get gender, children get gender too.
    assert kept["emotion"][utkface].any() and kept["emotion"][lfw].any() and kept["gender"][fer].any()
    assert kept["age"][fer].any() and kept["age"][lfw].any() and lacking["gender"][children].all()
    assert labels.counts()["gender"]["fer2013"] == int(kept["gender"][fer].sum())
    # The gender head's framing is the trunk's: it sees the 48-pixel faces resized, as the runtime resizes crops.
    gender = OnnxClassifier(GENDER_MODEL)
    np.testing.assert_allclose(labels.probabilities["gender"], gender.predict(list(data.images)), atol=1e-5)
    # The emotion file crops FER-2013's framing: its faces come back to it nearly as they were.
    moved_back = reframed(data.images[fer], FRAMING, FER_FRAMING)
    emotion = OnnxClassifier(EMOTION_MODEL).predict(list(moved_back))
    np.testing.assert_allclose(labels.probabilities["emotion"][fer], emotion, atol=1e-5)
    assert (labels.probabilities["emotion"][fer].argmax(1) == data.emotion[fer]).mean() >= 0.5

    path = tmp_path / "labels.npz"
    labels.save(path)
    again = load_pseudo_labels(path, data.images, data.sources)
    for task in TASK_CLASSES:
        np.testing.assert_array_equal(again.kept[task], kept[task])
        np.testing.assert_array_equal(again.probabilities[task], labels.probabilities[task])
    assert again.thresholds == thresholds and again.teachers == [str(EMOTION_MODEL), str(gender_and_age_file)]
    other = data.images.copy()
    other[3, 10, 10] ^= 1
    with pytest.raises(ValueError, match="labels other training faces.*sha256.*run pseudo-label again"):
        load_pseudo_labels(path, other, data.sources)
    with pytest.raises(ValueError, match=r"\(count, sources, sha256 differ.* 40 faces.* 39 "):
        load_pseudo_labels(path, data.images[:-1], {**data.sources, "lfw": 7})
    with pytest.raises(ValueError, match=r"\(image_shape, sha256 differ.*of \[48, 48\].*of \[40, 40\]"):
        load_pseudo_labels(path, resized(data.images, 40, 40), data.sources)  # another --input-size


def test_several_teachers_of_a_task_are_averaged_and_each_sees_its_own_framing(real_faces, tmp_path):
    data = real_faces.train
    wider = rewrite_metadata(GENDER_MODEL, tmp_path / "wider.onnx", crop_margin="[0.1, 0.1, 0.1, 0.1]")
    both = label_training_faces(data, [GENDER_MODEL, wider], PseudoThresholds())
    assert set(both.probabilities) == {"gender"}  # a teacher brings only the tasks it has
    alone = label_training_faces(data, [GENDER_MODEL], PseudoThresholds()).probabilities["gender"]
    wide = OnnxClassifier(wider).predict(list(reframed(data.images, FRAMING, (0.1, 0.1, 0.1, 0.1))))
    assert np.abs(wide - alone).max() > 0.01  # another framing, another answer
    np.testing.assert_allclose(both.probabilities["gender"], (alone + wide) / 2, atol=1e-5)
    own_children = (data.age != NO_LABEL) & (data.age < CHILD_AGE)  # no age teacher: only the faces' own ages
    confident = both.probabilities["gender"].max(1) >= PseudoThresholds.min_confidence_gender
    np.testing.assert_array_equal(both.kept["gender"], (data.gender == NO_LABEL) & ~own_children & confident)
    with pytest.raises(ValueError, match="none of"):
        label_training_faces(
            data, [merged_heads({"second": GENDER_MODEL}, tmp_path / "other.onnx")], PseudoThresholds()
        )


def test_pseudo_labelled_faces_teach_the_heads_they_lacked_and_a_run_records_them(
    real_faces, gender_and_age_file, tmp_path
):
    data = real_faces.train
    labels = label_training_faces(data, [EMOTION_MODEL, gender_and_age_file], PseudoThresholds())
    path = tmp_path / "labels.npz"
    labels.save(path)
    targets = {
        "emotion": torch.from_numpy(data.emotion),
        "votes": torch.from_numpy(data.votes),
        "gender": torch.from_numpy(data.gender),
        "age": torch.from_numpy(data.age),
        "age_targets": torch.from_numpy(two_hot(np.where(data.age == NO_LABEL, 0, data.age))),
        "age_values": torch.tensor([float(age) for age in AGE_BINS]),
        "weights": {task: torch.from_numpy(values) for task, values in data.weights.items()},
        "pseudo": pseudo_targets(labels),
    }
    np.testing.assert_allclose(
        two_hot(expected_age(labels.probabilities["age"])), targets["pseudo"]["age"]["age_targets"].numpy()
    )
    fer = torch.arange(16)  # FER-2013's faces: emotion labels only
    assert labels.kept["gender"][:16].any()
    outputs = {task: torch.randn(16, len(classes), requires_grad=True) for task, classes in TASK_CLASSES.items()}
    config = HeadsConfig(widths=(8, 16))
    unweighted = head_losses(outputs, fer, targets, replace(config, pseudo_weight=0.0))
    assert set(unweighted) == {"emotion"}
    weighted = head_losses(outputs, fer, targets, replace(config, pseudo_weight=0.5))
    assert set(weighted) == {"emotion", "gender", "age"}
    torch.testing.assert_close(weighted["emotion"], unweighted["emotion"])  # FER-2013's own labels unchanged
    weighted["gender"].backward()
    assert outputs["gender"].grad[torch.from_numpy(labels.kept["gender"][:16])].abs().sum() > 0
    assert outputs["gender"].grad[torch.from_numpy(~labels.kept["gender"][:16])].abs().sum() == 0
    mixed = torch.arange(10, 40)  # FER-2013 and UTKFace faces: real and pseudo emotion labels together
    outputs = {task: torch.randn(30, len(classes)) for task, classes in TASK_CLASSES.items()}
    with_pseudo = head_losses(outputs, mixed, targets, replace(config, pseudo_weight=0.5))["emotion"]
    without = head_losses(outputs, mixed, targets, replace(config, pseudo_weight=0.0))["emotion"]
    assert not torch.isclose(with_pseudo, without)

    splits = HeadSplits(data, tiny_validation(data), FRAMING)
    run_config = HeadsConfig(widths=(8, 16), input_size=SIZE, epochs=1, batch_size=16, pseudo_labels=str(path))
    best = train_heads(splits, run_config, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["pseudo_labels"] == str(path)
    record = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[-1])
    assert set(record["train_loss"]) == set(TASK_CLASSES)
    model = tmp_path / "heads.onnx"
    export_heads(best, model, "python -m face_affect.training train-heads ... --pseudo-labels LABELS.npz")
    metadata = {entry.key: entry.value for entry in onnx.load(str(model)).metadata_props}
    recorded = json.loads(metadata["pseudo_labels"])
    assert recorded["weight"] == 0.5 and recorded["kept"]["gender"] == int(labels.kept["gender"].sum())
    assert recorded["thresholds"]["min_confidence_gender"] == PseudoThresholds.min_confidence_gender
    with pytest.raises(ValueError, match="labels other training faces"):
        train_heads(
            HeadSplits(replace(data, images=data.images[::-1].copy()), splits.tasks, FRAMING),
            run_config,
            tmp_path / "x",
        )


def tiny_validation(data) -> dict[str, LabelledSplits]:
    """Each task's validation split: the training faces that have its labels (what a run scores, not a figure)."""
    emotion, gender, age = data.emotion != NO_LABEL, data.gender != NO_LABEL, data.age != NO_LABEL
    ages = {"age": data.age[age].astype(np.int16), "race": np.zeros(age.sum(), np.int8)}
    votes = np.eye(len(FER2013_CLASSES), dtype=np.float32)[data.emotion[emotion]] * 10  # the labels as a crowd
    return {
        "emotion": LabelledSplits(
            FER2013_CLASSES, {"val": data.images[emotion]}, {"val": data.emotion[emotion]}, {}, {"val": votes}
        ),
        "gender": LabelledSplits(GENDER_CLASSES, {"val": data.images[gender]}, {"val": data.gender[gender]}),
        "age": LabelledSplits(
            TASK_CLASSES["age"], {"val": data.images[age]}, {"val": two_hot(ages["age"]).argmax(1)}, {"val": ages}
        ),
    }


def test_pseudo_label_command_takes_train_heads_data_and_thresholds():
    data = ("--fer", "f.npz", "--votes", "v.npz", "--utkface", "u.npz", "--children", "c.npz", "--lfw", "l.npz")
    command = ["pseudo-label", *data, "--teacher", "a.onnx", "--teacher", "b.onnx", "--output", "labels.npz"]
    arguments = parse_arguments(command)
    assert arguments.teacher == [Path("a.onnx"), Path("b.onnx")] and arguments.input_size == SIZE
    thresholds = (arguments.min_confidence_emotion, arguments.min_confidence_gender, arguments.min_confidence_child)
    assert thresholds == (0.6, 0.9, 0.9) and arguments.max_age_spread is None
    assert parse_arguments([*command, "--max-age-spread", "6"]).max_age_spread == 6.0
    heads = parse_arguments(
        ["train-heads", "--fer", "f", "--votes", "v", "--utkface", "u", "--children", "c", "--pseudo-labels", "p.npz"]
    )
    assert heads.pseudo_labels == Path("p.npz") and heads.pseudo_weight == HeadsConfig.pseudo_weight
