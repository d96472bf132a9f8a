"""The training package: readers for users' formats, architectures, export parity (imports torch)."""

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch", reason="the training extra (torch) is not installed")
pytestmark = [pytest.mark.training, pytest.mark.data]

from conftest import EMOTION_MODEL, GENDER_MODEL, MODELS_DIRECTORY, SHARED_DATA  # noqa: E402
from face_affect.classifiers import OnnxClassifier  # noqa: E402
from face_affect.saliency import GuidedBackpropagation  # noqa: E402
from face_affect.training.__main__ import main as training_main  # noqa: E402
from face_affect.training.__main__ import parse_arguments  # noqa: E402
from face_affect.training.age import (  # noqa: E402
    AGE_BINS,
    CHILD_AGE,
    age_standard_deviation,
    child_offsets,
    expected_age,
    least_child_offset,
    two_hot,
)
from face_affect.training.augmentation import (  # noqa: E402
    OCCLUDERS,
    AugmentationRanges,
    CameraEffects,
    occluded,
    pose_warped,
    random_affine,
    random_camera_effects,
)
from face_affect.training.auxiliary import AUXILIARY_OUTPUTS  # noqa: E402
from face_affect.training.calibration import (  # noqa: E402
    calibrate,
    expected_calibration_error,
    set_graph_class_offsets,
    set_graph_temperature,
    temperature_scaled,
)
from face_affect.training.datasets import (  # noqa: E402
    FER2013_CLASSES,
    LabelledSplits,
    load_dataset,
    load_fer2013_csv,
    load_ferplus_votes,
    load_utkface_folder,
    majority_labels,
    utkface_gender_to_ours,
    with_extra_training_faces,
)
from face_affect.training.distillation import TeacherEnsemble, distillation_loss, onnx_teacher  # noqa: E402
from face_affect.training.export import export_onnx, load_checkpoint, torch_probabilities  # noqa: E402
from face_affect.training.framing import placed_in_framing, reframed  # noqa: E402
from face_affect.training.graph import NORMALIZATIONS, build_network, normalise  # noqa: E402
from face_affect.training.groups import balancing_weights, class_balance_within_sources  # noqa: E402
from face_affect.training.mini_xception import PAPER_WIDTHS, ResidualSeparableModule  # noqa: E402
from face_affect.training.release import evaluate_model  # noqa: E402
from face_affect.training.selection import ValidationScore  # noqa: E402
from face_affect.training.train import TrainingConfig, expectation_error, soft_targets, train  # noqa: E402

FER2013 = SHARED_DATA / "fer2013.npz"
FERPLUS = SHARED_DATA / "ferplus_votes.npz"
GENDER = SHARED_DATA / "gender_utkface.npz"
GENDER_EXTRA = SHARED_DATA / "gender_utkface_extra.npz"
LFW = SHARED_DATA / "gender_lfw.npz"


def test_fer2013_csv_rows_go_to_their_usage_split(tmp_path: Path):
    rng = np.random.default_rng(0)
    rows = [(3, "Training"), (0, "Training"), (6, "PublicTest"), (5, "PrivateTest")]
    pixels = rng.integers(0, 256, (len(rows), 48 * 48))
    path = tmp_path / "fer2013.csv"
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["emotion", "pixels", "Usage"])
        for (label, usage), values in zip(rows, pixels):
            writer.writerow([label, " ".join(map(str, values)), usage])
    data = load_dataset(path)
    assert data.class_names == FER2013_CLASSES
    assert data.labels["train"].tolist() == [3, 0]
    assert data.labels["val"].tolist() == [6] and data.labels["test"].tolist() == [5]
    np.testing.assert_array_equal(data.images["train"][1], pixels[1].reshape(48, 48))
    np.testing.assert_array_equal(data.images["test"][0], pixels[3].reshape(48, 48))


def test_fer2013_csv_with_a_short_row_names_the_line(tmp_path: Path):
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    with pytest.raises(ValueError, match="fer2013.csv:2: 3 pixels"):
        load_fer2013_csv(path)


def test_utkface_gender_codes_are_mapped_to_ours():
    assert utkface_gender_to_ours(0) == 1  # UTKFace male -> our man
    assert utkface_gender_to_ours(1) == 0  # UTKFace female -> our woman


def test_utkface_folder_reader_parses_names_and_skips_children_and_junk(tmp_path: Path):
    image = np.full((200, 200, 3), 100, np.uint8)
    names = [f"{30 + index}_{index % 2}_{index % 5}_20170109150557335.jpg.chip.jpg" for index in range(20)]
    names += ["5_0_0_20170109150557335.jpg.chip.jpg", "61_1_20170109142408075.jpg.chip.jpg", "readme.txt"]
    for name in names:
        cv2.imwrite(str(tmp_path / name), image) if name.endswith(".jpg") else (tmp_path / name).write_text("x")
    data = load_dataset(tmp_path)
    assert data.class_names == ("woman", "man")
    total = sum(len(labels) for labels in data.labels.values())
    assert total == 20  # the child and the unparsable name are left out
    assert [len(data.labels[split]) for split in ("train", "val", "test")] == [16, 2, 2]
    assert data.images["train"].shape[1:] == (64, 64)
    ages = np.concatenate([data.extra[split]["age"] for split in ("train", "val", "test")])
    labels = np.concatenate([data.labels[split] for split in ("train", "val", "test")])
    # Even ages were written with UTKFace gender 0 (male), which is our 1 (man).
    np.testing.assert_array_equal(labels, (ages % 2 == 0).astype(int))


def test_an_empty_utkface_folder_is_an_error(tmp_path: Path):
    with pytest.raises(ValueError, match="no readable UTKFace images"):
        load_utkface_folder(tmp_path)


def test_architectures_have_the_papers_sizes():
    mini_xception = build_network("mini_xception", 7)
    assert sum(p.numel() for p in mini_xception.parameters()) == 56_951
    stored = sum(p.numel() for p in mini_xception.state_dict().values() if p.dtype.is_floating_point)
    assert stored <= 65_000
    sequential = build_network("sequential_cnn", 7)
    assert 400_000 < sum(p.numel() for p in sequential.parameters()) < 700_000
    for network, size in ((mini_xception, 48), (sequential, 48), (build_network("mini_xception", 2), 64)):
        assert network.eval()(torch.zeros(2, 1, size, size)).shape[0] == 2


def test_widths_scale_the_papers_block_and_a_longer_list_adds_modules():
    paper = build_network("mini_xception", 2)
    assert paper.widths == PAPER_WIDTHS
    assert sum(p.numel() for p in build_network("mini_xception", 2, widths=PAPER_WIDTHS).parameters()) == 51_186
    wider = build_network("mini_xception", 2, widths=(16, 32, 64, 128, 256))
    deeper = build_network("mini_xception", 2, widths=(*PAPER_WIDTHS, 256))
    modules = [sum(isinstance(layer, ResidualSeparableModule) for layer in net.features) for net in (wider, deeper)]
    assert modules == [4, 5]
    for network in (wider, deeper):
        assert sum(p.numel() for p in network.parameters()) > 3 * 51_186
        assert network.eval()(torch.zeros(2, 1, 64, 64)).shape == (2, 2)
    for bad in ((8,), (4, 8, 16)):  # a module is needed; narrower than 8 crashes oneDNN
        with pytest.raises(ValueError, match="widths"):
            build_network("mini_xception", 2, widths=bad)
    with pytest.raises(ValueError, match="mini_xception"):
        build_network("sequential_cnn", 2, widths=(8, 16))


def test_widths_are_read_from_the_command_line():
    arguments = parse_arguments(["train", "gender", "--data", "x.npz", "--widths", "8,16,32,96,192,384"])
    assert arguments.widths == (8, 16, 32, 96, 192, 384)
    assert parse_arguments(["train", "gender", "--data", "x.npz"]).widths == ()
    for bad in ("8", "8,wide", "8,4"):
        with pytest.raises(SystemExit):
            parse_arguments(["train", "gender", "--data", "x.npz", "--widths", bad])


def test_augmentation_keeps_shape_and_is_seeded():
    images = torch.rand(8, 1, 48, 48) * 255
    ranges = AugmentationRanges()
    first = random_affine(images, ranges, torch.Generator().manual_seed(1))
    again = random_affine(images, ranges, torch.Generator().manual_seed(1))
    assert first.shape == images.shape
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, images)


@pytest.mark.parametrize(
    ("architecture", "flip_average"), [("mini_xception", False), ("mini_xception", True), ("sequential_cnn", False)]
)
@pytest.mark.parametrize("normalization", ["scale", "standardise"])
def test_onnx_export_matches_torch(tmp_path: Path, architecture: str, flip_average: bool, normalization: str):
    torch.manual_seed(0)
    network = build_network(architecture, 7)
    # Non-trivial batch-norm statistics, so parity covers the folded normalisation too.
    network.train()
    with torch.no_grad():
        for _ in range(3):
            network(torch.randn(16, 1, 48, 48))
    network.eval()
    path = tmp_path / "model.onnx"
    metadata = {"task": "emotion", "labels": list(FER2013_CLASSES), "crop_margin": [0, 0, 0, 0]}
    export_onnx(network, path, (48, 48), metadata, flip_average, normalization)
    batch = np.random.default_rng(0).uniform(0, 255, (5, 1, 48, 48)).astype(np.float32)
    classifier = OnnxClassifier(path)
    assert classifier.metadata["normalization"] == NORMALIZATIONS[normalization]
    reference = torch_probabilities(network, batch, flip_average, normalization)
    assert np.abs(classifier.predict_batch(batch) - reference).max() < 1e-5
    assert "GlobalAveragePool" in {node.op_type for node in onnx.load(str(path)).graph.node}
    if flip_average:  # a face and its mirror image then score alike
        np.testing.assert_allclose(classifier.predict_batch(batch[..., ::-1].copy()), reference, atol=1e-5)
    if normalization == "standardise":  # a crop's exposure and contrast no longer matter
        darker = batch * 0.3 + 10
        np.testing.assert_allclose(classifier.predict_batch(darker), classifier.predict_batch(batch), atol=2e-3)


def test_camera_effects_change_most_crops_keep_their_shape_and_are_seeded():
    faces = np.load(FER2013)["x_val"][:64]
    effects = CameraEffects(probability=0.3)
    first = random_camera_effects(faces, effects, np.random.default_rng(5))
    again = random_camera_effects(faces, effects, np.random.default_rng(5))
    assert first.dtype == np.uint8 and first.shape == faces.shape
    np.testing.assert_array_equal(first, again)
    changed = (first != faces).any(axis=(1, 2)).mean()
    assert 0.6 < changed < 1.0, changed
    assert random_camera_effects(faces, CameraEffects(), np.random.default_rng(5)) is faces


def test_poses_and_occluders_are_seeded_keep_shapes_and_are_off_by_default():
    faces = np.load(FER2013)["x_val"][:32]
    effects = CameraEffects(pose_probability=0.5, occluder_probability=0.5)
    first = random_camera_effects(faces, effects, np.random.default_rng(3))
    assert first.dtype == np.uint8 and first.shape == faces.shape
    np.testing.assert_array_equal(first, random_camera_effects(faces, effects, np.random.default_rng(3)))
    assert (first != random_camera_effects(faces, effects, np.random.default_rng(4))).any()
    changed = (first != faces).any(axis=(1, 2)).mean()
    assert 0.5 < changed < 1.0, changed  # 75% expected
    assert (
        (random_camera_effects(faces, replace(effects, pose_probability=1.0), np.random.default_rng(3)) != faces)
        .any(axis=(1, 2))
        .all()
    )
    rng = np.random.default_rng(3)
    assert random_camera_effects(faces, CameraEffects(), rng) is faces
    assert rng.random() == np.random.default_rng(3).random()  # nothing drawn: default runs augment as before
    arguments = parse_arguments(["train-heads", "--fer", "f", "--votes", "v", "--utkface", "u", "--children", "c"])
    assert (arguments.pose_augmentation, arguments.occluder_augmentation) == (0.0, 0.0)


def test_a_face_looking_down_has_its_upper_half_stretched_and_turned_left_its_right_half():
    image = np.full((48, 48), 255, np.uint8)
    image[23:25, :] = 0  # a horizontal line through the middle
    image[:, 23:25] = 0  # and a vertical one

    def line_row(warped: np.ndarray) -> float:
        return float(np.flatnonzero(warped[:, 5] < 128).mean())  # away from the vertical line

    def line_column(warped: np.ndarray) -> float:
        return float(np.flatnonzero(warped[5] < 128).mean())

    down, up = pose_warped(image, "down", 0.3), pose_warped(image, "up", 0.3)
    assert line_row(down) > 26 and line_row(up) < 21  # the middle moves towards the receding edge
    np.testing.assert_allclose(down[-1], image[-1], atol=1)  # the receding edge keeps its place
    np.testing.assert_allclose(up[0], image[0], atol=1)
    ink_top, ink_bottom = (float((255 - row.astype(np.int64)).sum()) for row in (down[2], down[-3]))
    assert ink_top > 1.2 * ink_bottom  # the vertical line too is wider where the face comes nearer
    left, right = pose_warped(image, "left", 0.3), pose_warped(image, "right", 0.3)
    assert line_column(left) < 21 and line_column(right) > 26
    assert line_row(left) == pytest.approx(23.5, abs=0.6)  # a turn keeps the rows where they were
    assert abs(line_row(pose_warped(image, "down", 0.1)) - 23.5) < line_row(down) - 23.5  # milder, less


def test_a_hat_covers_the_top_a_scarf_the_bottom_and_a_hand_has_the_faces_tone():
    faces = np.load(FER2013)["x_val"][:16]
    effects = CameraEffects()
    rng = np.random.default_rng(0)
    height = faces.shape[1]
    for face in faces:
        hat, scarf, hand = (occluded(face, occluder, effects, rng) for occluder in OCCLUDERS)
        lowest_brim = int(np.ceil((effects.hat_depth[1] + 0.08) * height)) + 1
        np.testing.assert_array_equal(hat[lowest_brim:], face[lowest_brim:])
        assert hat[0].max() <= 70 and hat[0].min() == hat[0].max()
        highest_edge = int((1 - effects.scarf_depth[1] - 0.08) * height) - 1
        np.testing.assert_array_equal(scarf[:highest_edge], face[:highest_edge])
        assert scarf[-1].min() == scarf[-1].max()
        covered = hand != face
        assert 0.02 < covered.mean() < 0.5
        tone = np.median(face[12:36, 12:36])
        assert 0.8 * tone - 1 <= np.median(hand[covered]) <= 1.2 * tone + 1


def test_ferplus_votes_are_mapped_to_fer2013_classes_and_mixed_into_the_targets():
    data = load_ferplus_votes(FERPLUS, load_dataset(FER2013))
    votes = data.votes["test"]
    assert votes.shape == (3589, 7)
    majority = majority_labels(votes)
    voted = majority >= 0
    assert 3400 < voted.sum() < 3589  # NF, unknown and contempt majorities have no FER-2013 class
    agreement = (majority[voted] == data.labels["test"][voted]).mean()
    assert 0.55 < agreement < 0.7  # FER-2013 and FER+ disagree on about a third of the faces
    config = TrainingConfig(label_smoothing=0.0, vote_weight=0.5)
    labels = torch.tensor([3, 3])
    crowd = torch.tensor([[0.0, 0, 0, 8, 0, 0, 2], [0.0] * 7])
    targets = soft_targets(labels, crowd, 7, config.label_smoothing, config.vote_weight)
    np.testing.assert_allclose(targets[0].numpy(), [0, 0, 0, 0.9, 0, 0, 0.1], atol=1e-6)
    np.testing.assert_allclose(targets[1].numpy(), np.eye(7)[3], atol=1e-6)  # no votes: the label alone


def test_extra_training_faces_go_to_train_only():
    data = with_extra_training_faces(SHARED_DATA / "gender_utkface_extra.npz", load_dataset(GENDER))
    assert len(data.images["train"]) == 7600 + 10792
    assert (len(data.images["val"]), len(data.images["test"])) == (950, 950)
    assert len(data.extra["train"]["race"]) == len(data.labels["train"])


def test_extra_archives_are_numbered_as_sources_and_placed_in_the_framing():
    placed = []

    def place(images: np.ndarray) -> np.ndarray:
        placed.append(len(images))
        return images

    data = with_extra_training_faces(GENDER_EXTRA, load_dataset(GENDER))
    data = with_extra_training_faces(LFW, data, place)
    assert placed == [9858]
    sources = data.extra["train"]["source"]
    assert np.bincount(sources).tolist() == [7600, 10792, 9858] and len(data.labels["train"]) == len(sources)
    assert set(data.extra["train"]) == {"source"}  # LFW has no age or race: none is kept for a part of train
    assert (len(data.images["val"]), len(data.images["test"])) == (950, 950)


def test_lfw_tight_crops_are_moved_into_the_gender_framing_and_utkface_chips_are_not():
    target = tuple(OnnxClassifier(GENDER_MODEL).crop_margin)  # measured on UTKFace's validation split
    with np.load(LFW) as archive:
        lfw = archive["x"][:120]
    with np.load(GENDER_EXTRA) as archive:
        chips = archive["x"][:120]
    assert placed_in_framing(chips, target) is chips
    moved = placed_in_framing(lfw, target)
    assert moved.shape == lfw.shape and np.abs(moved.astype(int) - lfw).mean() > 5
    # UTKFace's frame sits about 10% lower on the face than LFW's: the eyes, the darkest rows, move up,
    # to about where UTKFace's chips have them (rows 23 -> 16; the chips' 18).
    assert eye_row(moved) < eye_row(lfw) - 4
    assert abs(eye_row(moved) - eye_row(chips)) < abs(eye_row(lfw) - eye_row(chips)) / 2


def eye_row(images: np.ndarray) -> int:
    """The darkest row of the mean face's upper two thirds: the eyes and brows."""
    return int(np.argmin(images.mean(axis=(0, 2))[:42]))


def test_reframing_puts_the_box_where_the_target_framing_has_it():
    image = np.zeros((1, 64, 64), np.uint8)
    image[0, :, :32] = 200  # the source image is the box: its left half bright
    same = reframed(image, (0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0))
    np.testing.assert_array_equal(same, image)
    # Target: the box is the central half of the frame, its edges replicated outside.
    smaller = reframed(image, (0.0, 0.0, 0.0, 0.0), (0.5, 0.5, 0.5, 0.5))[0]
    assert smaller[32, :15].min() == 200 and smaller[32, 33:].max() == 0  # bright up to the box's centre line
    assert smaller[2, 2] == 200 and smaller[60, 60] == 0  # replicated edges


def test_classes_weigh_alike_within_each_source_which_keeps_its_share():
    labels = np.array([0] * 10 + [1] * 10 + [0] * 5 + [1] * 25)
    sources = np.array([0] * 20 + [1] * 30)
    weights = class_balance_within_sources(labels, sources)
    assert weights.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(weights[:20], 1.0)  # a balanced source is left alone
    lfw = sources == 1
    assert weights[lfw & (labels == 0)].sum() == pytest.approx(weights[lfw & (labels == 1)].sum())
    assert weights[lfw].sum() == pytest.approx(30)


def test_robust_selection_scores_clean_crowd_and_corrupted_accuracy():
    data = load_ferplus_votes(FERPLUS, load_dataset(FER2013))
    score = ValidationScore(data, "robust")
    figures = score(lambda images: np.full(len(images), 3))  # always "happy"
    assert set(figures) == {"accuracy", "ferplus_accuracy", "corrupted_mean", "corrupted_worst", "score"}
    assert figures["accuracy"] == pytest.approx((data.labels["val"] == 3).mean())
    assert figures["score"] == pytest.approx(
        np.mean([figures["accuracy"], figures["ferplus_accuracy"], figures["corrupted_mean"]])
    )
    assert set(ValidationScore(data, "clean")(lambda images: np.zeros(len(images), int))) == {"accuracy", "score"}


def test_committed_emotion_model_is_small():
    assert EMOTION_MODEL.stat().st_size <= 1_000_000


def tiny_splits() -> LabelledSplits:
    """Two classes a network can tell apart in a few steps: dark and bright faces."""
    generator = np.random.default_rng(0)
    labels = np.arange(48) % 2
    images = (generator.integers(0, 100, (48, 48, 48)) + 120 * labels[:, None, None]).astype(np.uint8)
    return LabelledSplits(
        class_names=("dark", "bright"),
        images={"train": images[:32], "val": images[32:]},
        labels={"train": labels[:32], "val": labels[32:]},
    )


def tiny_age_splits(data: LabelledSplits) -> LabelledSplits:
    """``data``'s faces as ages: the bright ones 50, the dark ones 5, with their two-hot targets."""
    ages = {split: np.where(labels == 1, 50, 5) for split, labels in data.labels.items()}
    return LabelledSplits(
        class_names=tuple(str(age) for age in AGE_BINS),
        images=data.images,
        labels={split: two_hot(split_ages).argmax(axis=1) for split, split_ages in ages.items()},
        extra={split: {"age": split_ages} for split, split_ages in ages.items()},
        votes={split: two_hot(split_ages) for split, split_ages in ages.items()},
    )


def test_distillation_loss_is_zero_only_when_the_student_matches_the_teacher():
    teacher = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    assert float(distillation_loss(teacher.clone(), teacher, temperature=2.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(distillation_loss(teacher.flip(1), teacher, temperature=2.0)) > 0.5


def test_an_onnx_file_teaches_with_its_logits_and_joins_a_run_in_an_ensemble(tmp_path: Path):
    """An exported model (here the shipped emotion file) as a teacher: fed the raw pixels, its
    calibration undone (its log-probabilities times its temperature, the logits up to a constant per
    face). Beside a run's best.pt the ensemble is the mean of both, and a student trains with it."""
    classifier = OnnxClassifier(EMOTION_MODEL)
    temperature = float(classifier.metadata["temperature"])
    assert temperature != 1.0  # else undoing the calibration would go untested
    raw = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (4, 1, 48, 48)).astype(np.float32))
    file_logits = np.log(classifier.predict_batch(raw.numpy())) * temperature
    alone = TeacherEnsemble([EMOTION_MODEL], num_classes=7, class_names=classifier.labels, image_size=(48, 48))
    np.testing.assert_allclose(alone(raw).softmax(1).numpy(), torch.from_numpy(file_logits).softmax(1), atol=1e-5)
    with pytest.raises(ValueError, match="classes"):
        TeacherEnsemble([EMOTION_MODEL], num_classes=7, class_names=classifier.labels[::-1])
    with pytest.raises(ValueError, match="training images are 64x64"):
        TeacherEnsemble([EMOTION_MODEL], num_classes=7, image_size=(64, 64))

    generator = np.random.default_rng(2)
    labels = np.arange(28) % 7
    images = generator.integers(0, 256, (28, 48, 48)).astype(np.uint8)
    data = LabelledSplits(
        class_names=classifier.labels,
        images={"train": images[:21], "val": images[21:]},
        labels={"train": labels[:21], "val": labels[21:]},
    )
    config = TrainingConfig(epochs=1, batch_size=8, threads=1, normalization="standardise")
    run_teacher = train(data, config, tmp_path / "run_teacher")
    mixed = TeacherEnsemble([run_teacher, EMOTION_MODEL], num_classes=7, class_names=classifier.labels)
    run_network = mixed.networks[0]
    run_log_probabilities = torch.log_softmax(run_network(normalise(raw, "standardise")), 1)
    expected = (run_log_probabilities + torch.log_softmax(torch.from_numpy(file_logits), 1)) / 2
    assert torch.allclose(mixed(raw), expected, atol=1e-5)

    train(data, replace(config, teachers=[str(run_teacher), str(EMOTION_MODEL)]), tmp_path / "student")
    log = [json.loads(line) for line in (tmp_path / "student" / "log.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in log] == [1] and math.isfinite(log[0]["train_loss"])


def test_age_classes_match_an_age_file_as_numbers():
    """Age's data names its classes "0", "1", ...; its ONNX file stores them as 0.0, 1.0, ..."""
    age_file = MODELS_DIRECTORY / "age_mini_xception.onnx"
    labels = OnnxClassifier(age_file).labels
    names = tuple(str(int(float(label))) for label in labels)
    assert onnx_teacher(age_file, len(names), names, (64, 64)).labels == labels
    with pytest.raises(ValueError, match="classes"):
        onnx_teacher(age_file, len(names), names[::-1])


def test_a_student_trains_and_resumes_with_a_teacher_ensemble_and_weight_averaging(tmp_path: Path):
    data = tiny_splits()
    config = TrainingConfig(epochs=1, batch_size=8, threads=1, schedule="cosine")
    teachers = [str(train(data, replace(config, seed=seed), tmp_path / f"teacher{seed}")) for seed in (0, 1)]
    ensemble = TeacherEnsemble([Path(path) for path in teachers], num_classes=2)
    raw = torch.rand(4, 1, 48, 48) * 255
    batch = normalise(raw, config.normalization)  # what each teacher was trained on
    mean_logits = (ensemble.networks[0](batch) + ensemble.networks[1](batch)) / 2
    assert torch.allclose(ensemble(raw).softmax(1), mean_logits.softmax(1), atol=1e-6)

    student = replace(config, epochs=3, teachers=teachers, weight_averaging=0.9, camera_effects=CameraEffects(0.5))
    train(data, student, tmp_path / "student", epochs_now=1)  # then interrupted
    best = train(data, student, tmp_path / "student")  # resumes at epoch 1, with the averaged weights
    log = [json.loads(line) for line in (tmp_path / "student" / "log.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in log] == [1, 2, 3]
    assert max(record["val_accuracy"] for record in log) >= 0.9, "dark and bright faces not told apart"

    # Resuming is invisible: the same weights, raw and averaged, as three epochs without a stop.
    train(data, student, tmp_path / "uninterrupted")
    resumed, uninterrupted = (
        torch.load(tmp_path / run / "last.pt", weights_only=False) for run in ("student", "uninterrupted")
    )
    for key in ("network", "averaged"):
        assert all(torch.equal(resumed[key][name], uninterrupted[key][name]) for name in resumed[key]), key

    # What is kept and exported is the average, not the last raw weights.
    kept = torch.load(best, weights_only=False)
    averaged, raw = resumed["averaged"], resumed["network"]
    weights = [name for name in raw if name.endswith("weight")]
    assert any(not torch.equal(averaged[name], raw[name]) for name in weights), "no averaging happened"
    if kept["state"]["best_epoch"] == 3:  # else the average of an earlier epoch
        assert all(torch.equal(kept["network"][name], averaged[name]) for name in weights)
    build_network("mini_xception", 2).load_state_dict(kept["network"])


def test_a_wider_network_trains_and_its_checkpoint_rebuilds_and_exports_it_at_its_widths(tmp_path: Path):
    data = tiny_splits()
    widths = (8, 12, 16, 24, 32, 48)
    config = TrainingConfig(epochs=2, batch_size=8, threads=1, schedule="cosine", widths=widths, source_balance=True)
    best = train(data, config, tmp_path / "wide")
    network, normalization = load_checkpoint("mini_xception", 2, best)
    assert network.widths == widths
    path = tmp_path / "wide.onnx"
    export_onnx(network, path, (48, 48), {"task": "gender", "labels": ["dark", "bright"], "crop_margin": [0] * 4}, True)
    batch = data.images["val"][:, None].astype(np.float32)
    reference = torch_probabilities(network, batch, flip_average=True, normalization=normalization)
    assert np.abs(OnnxClassifier(path).predict_batch(batch) - reference).max() < 1e-5


def test_fine_tuning_starts_from_the_initial_weights(tmp_path: Path):
    data = tiny_splits()
    config = TrainingConfig(epochs=1, batch_size=8, threads=1, schedule="cosine")
    start = train(data, config, tmp_path / "start")
    # With a learning rate of zero the weights kept are exactly the ones started from.
    tuned = train(data, replace(config, initial_weights=str(start), learning_rate=0.0), tmp_path / "tuned")
    started, kept = (torch.load(path, weights_only=False)["network"] for path in (start, tuned))
    weights = [name for name in started if name.endswith("weight")]
    assert weights and all(torch.equal(started[name], kept[name]) for name in weights)


def test_auxiliary_race_and_age_outputs_are_trained_then_cut_off(tmp_path: Path):
    data = tiny_splits()
    generator = np.random.default_rng(1)
    data.extra = {
        split: {"race": generator.integers(0, 5, count).astype(np.int8), "age": generator.integers(13, 90, count)}
        for split, count in (("train", 32), ("val", 16))
    }
    config = TrainingConfig(epochs=1, batch_size=8, threads=1, schedule="cosine", auxiliary_weight=0.5)
    best = train(data, config, tmp_path / "auxiliary")
    last = torch.load(tmp_path / "auxiliary" / "last.pt", weights_only=False)["network"]
    kept = torch.load(best, weights_only=False)["network"]
    # The kept network is the trained one with only the class channels of its last convolution.
    cut = [name for name in last if last[name].shape != kept[name].shape]
    assert cut == ["features.6.weight", "features.6.bias"]
    assert [len(last[name]) for name in cut] == [2 + AUXILIARY_OUTPUTS] * 2
    assert all(torch.equal(kept[name], last[name][:2]) for name in cut)
    assert all(torch.equal(kept[name], last[name]) for name in last if name not in cut)
    build_network("mini_xception", 2).load_state_dict(kept)


def test_auxiliary_tasks_need_race_and_age_labels(tmp_path: Path):
    config = TrainingConfig(epochs=1, batch_size=8, threads=1, auxiliary_weight=0.5)
    with pytest.raises(ValueError, match="race and age"):
        train(tiny_splits(), config, tmp_path / "emotion")


def test_age_targets_are_two_hot_with_the_age_as_expectation():
    ages = np.array([0, 1, 7, 12.5, 13, 33, 99, 116])
    targets = two_hot(ages)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(expected_age(targets), np.minimum(ages, AGE_BINS[-1]), atol=1e-4)
    assert (np.count_nonzero(targets, axis=1) <= 2).all()
    # 12 is a bin's own age; 13 lies half way between the bins of 12 and 14.
    assert age_standard_deviation(two_hot(np.array([12, 13]))) == pytest.approx([0.0, 1.0], abs=1e-4)


def test_age_training_keeps_its_best_epoch_although_its_scores_are_negative(tmp_path: Path):
    """The age selection scores minus the mean absolute error; a start at -1 once kept no epoch at all."""
    data = tiny_splits()
    age_data = tiny_age_splits(data)
    config = TrainingConfig(epochs=2, batch_size=8, threads=1, schedule="cosine", selection="age_mae", vote_weight=1)
    best = train(age_data, config, tmp_path / "age")
    log = [json.loads(line) for line in (tmp_path / "age" / "log.jsonl").read_text().splitlines()]
    assert best.exists() and all(record["val"]["score"] == -record["val"]["mae"] for record in log)
    assert torch.load(best, weights_only=False)["state"]["best_epoch"] in (1, 2)


def test_the_expectation_error_is_in_tens_of_years_and_pulls_the_expectation_towards_the_age():
    bins = torch.tensor([float(age) for age in AGE_BINS])
    targets = torch.from_numpy(two_hot(np.array([7.0, 40.0])))
    exact = torch.log(targets.clamp(min=1e-12))  # softmax gives the targets back
    np.testing.assert_allclose(expectation_error(exact, targets, bins).numpy(), [0.0, 0.0], atol=1e-4)
    logits = torch.zeros((2, len(AGE_BINS)), requires_grad=True)  # uniform: expectation 35.3 years
    error = expectation_error(logits, targets, bins)
    np.testing.assert_allclose(
        error.detach().numpy(), np.abs(bins.mean().item() - np.array([7.0, 40.0])) / 10, atol=1e-4
    )
    error.sum().backward()
    young, old = logits.grad[0], logits.grad[1]  # descent raises the young face's low ages, the old one's high ones
    assert young[0] < 0 < young[-1] and old[0] > 0 > old[-1]


def test_the_expectation_loss_trains_age_and_refuses_classes_that_are_not_numbers(tmp_path: Path):
    data = tiny_splits()
    age_data = tiny_age_splits(data)
    config = TrainingConfig(
        epochs=1, batch_size=8, threads=1, selection="age_mae", vote_weight=1, expectation_weight=1.0
    )
    assert train(age_data, config, tmp_path / "age").exists()
    with pytest.raises(ValueError, match="numbers"):
        train(data, replace(config, selection="clean", vote_weight=0), tmp_path / "dark_or_bright")


def test_temperature_scaling_of_probabilities_is_softmax_of_scaled_logits():
    logits = np.random.default_rng(0).normal(0, 4, (50, 7))
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    for temperature in (0.5, 1.0, 1.7):
        expected = np.exp(logits / temperature) / np.exp(logits / temperature).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(temperature_scaled(softmax, temperature), expected, atol=1e-6)


def test_the_temperature_lives_in_the_graph_for_every_consumer(tmp_path: Path):
    """Set, changed and reset in the file itself; the class and the saliency maps stay as they were."""
    batch = np.random.default_rng(1).integers(0, 256, (16, 1, 64, 64)).astype(np.float32)
    plain = tmp_path / "gender.onnx"
    plain.write_bytes(GENDER_MODEL.read_bytes())
    set_graph_temperature(plain, 1.0)
    raw = OnnxClassifier(plain).predict_batch(batch)
    for temperature in (2.0, 0.5):
        set_graph_temperature(plain, temperature)  # inserted once, then changed
        scaled = OnnxClassifier(plain).predict_batch(batch)
        np.testing.assert_allclose(scaled, temperature_scaled(raw, temperature), atol=1e-5)
        np.testing.assert_array_equal(scaled.argmax(axis=1), raw.argmax(axis=1))
    model = onnx.load(str(plain))
    assert [node.name for node in model.graph.node].count("calibration/temperature") == 1
    maps = GuidedBackpropagation(OnnxClassifier(plain)).explain_batch(batch[:4])
    assert all(gradient.std() > 0 for gradient in maps.gradients)
    set_graph_temperature(plain, 1.0)
    np.testing.assert_allclose(OnnxClassifier(plain).predict_batch(batch), raw, atol=1e-6)


def test_class_offsets_live_in_the_graph_beside_the_temperature(tmp_path: Path):
    """Probabilities times exp(offsets), renormalised, on top of the file's temperature; set, changed and
    reset in the file; the saliency maps still explain the classes."""
    batch = np.random.default_rng(2).integers(0, 256, (16, 1, 64, 64)).astype(np.float32)
    path = tmp_path / "age.onnx"
    path.write_bytes((MODELS_DIRECTORY / "age_mini_xception.onnx").read_bytes())
    set_graph_class_offsets(path, np.zeros(len(AGE_BINS), np.float32))
    raw = OnnxClassifier(path).predict_batch(batch)
    for offset in (1.5, -0.5):
        offsets = child_offsets(offset)
        set_graph_class_offsets(path, offsets)  # inserted once, then changed
        shifted = raw * np.exp(offsets)
        np.testing.assert_allclose(
            OnnxClassifier(path).predict_batch(batch), shifted / shifted.sum(axis=1, keepdims=True), atol=1e-5
        )
    model = onnx.load(str(path))
    assert [node.name for node in model.graph.node].count("calibration/class_offsets") == 1
    assert json.loads(OnnxClassifier(path).metadata["class_offsets"]) == pytest.approx(child_offsets(-0.5).tolist())
    maps = GuidedBackpropagation(OnnxClassifier(path)).explain_batch(batch[:4])
    assert all(gradient.std() > 0 for gradient in maps.gradients)
    set_graph_class_offsets(path, np.zeros(len(AGE_BINS), np.float32))
    np.testing.assert_allclose(OnnxClassifier(path).predict_batch(batch), raw, atol=1e-6)


def test_the_least_child_offset_reaches_the_recall_asked_for():
    """Children read as 13-14 (probabilities straddling 12 and 14) until the child classes are raised."""
    straddling = two_hot(np.array([12.8, 13.2, 14.0, 8.0]))
    ages = np.array([11, 12, 12, 8])
    assert least_child_offset(straddling, ages, 0.5) == 0.0  # 12.8 and 8 years: half of them already
    offset = least_child_offset(straddling, ages, 0.75)
    shifted = straddling * np.exp(child_offsets(offset))
    estimates = expected_age(shifted / shifted.sum(axis=1, keepdims=True))
    assert 0 < offset < 3 and (estimates < CHILD_AGE).sum() == 3
    assert least_child_offset(np.tile(two_hot(np.array([90.0])), (4, 1)), ages, 0.5) == 3.0  # none does: the greatest


def test_child_recall_is_refused_for_a_task_other_than_age():
    with pytest.raises(SystemExit, match="for age"):
        training_main(["train", "gender", "--data", str(GENDER), "--child-recall", "0.9"])


def test_calibration_refuses_an_age_file(tmp_path: Path):
    path = tmp_path / "age_mini_xception.onnx"
    path.write_bytes((MODELS_DIRECTORY / "age_mini_xception.onnx").read_bytes())
    with pytest.raises(ValueError, match="expectation"):
        calibrate(path, load_dataset(GENDER), tmp_path / "docs")
    assert path.read_bytes() == (MODELS_DIRECTORY / "age_mini_xception.onnx").read_bytes()


def test_calibration_lowers_the_error_of_an_overconfident_file(tmp_path: Path):
    """A file made over-confident (temperature 0.3 in its graph) is calibrated back towards its own."""
    data = load_dataset(GENDER)
    path = tmp_path / "gender_mini_xception.onnx"
    path.write_bytes(GENDER_MODEL.read_bytes())
    set_graph_temperature(path, 0.3)
    before = expected_calibration_error(
        OnnxClassifier(path).predict_batch(data.images["test"][:, None].astype(np.float32)), data.labels["test"]
    )
    report = calibrate(path, data, tmp_path / "docs")
    after = expected_calibration_error(
        OnnxClassifier(path).predict_batch(data.images["test"][:, None].astype(np.float32)), data.labels["test"]
    )
    assert report["test"]["ece_after"] == pytest.approx(after, abs=1e-3) and after < 0.03 < before
    assert (tmp_path / "docs" / "gender_mini_xception_reliability.png").is_file()


def test_evaluation_reports_gender_by_group_and_the_worst_group_of_sixty_faces():
    report = evaluate_model(GENDER_MODEL, load_dataset(GENDER), "val", limit=300)
    groups = report["accuracy_by_group"]
    assert {"woman 60+", "man 20-39", "woman Black", "man Others"} <= set(groups)
    assert (
        sum(
            groups[f"{gender} {band}"]["count"]
            for gender in ("woman", "man")
            for band in ("13-19", "20-39", "40-59", "60+")
        )
        == 300
    )
    worst = report["worst_group"]
    assert worst["count"] >= 60 and worst["accuracy"] == min(
        row["accuracy"] for row in groups.values() if row["count"] >= 60
    )
    row = groups["man 20-39"]
    assert row["standard_error"] == pytest.approx(
        math.sqrt(row["accuracy"] * (1 - row["accuracy"]) / row["count"]), abs=1e-4
    )


def test_group_weights_favour_rare_groups_and_average_one():
    groups = np.array([0] * 90 + [1] * 10)
    weights = balancing_weights(groups, power=1.0)
    assert weights.mean() == pytest.approx(1.0)
    assert weights[groups == 1].sum() == pytest.approx(weights[groups == 0].sum())  # power 1: groups alike
    tempered = balancing_weights(groups, power=0.5)
    assert 1 < tempered[-1] / tempered[0] < weights[-1] / weights[0]
    np.testing.assert_allclose(balancing_weights(groups, power=0.0), 1.0)


def test_worst_group_selection_scores_the_least_accurate_group():
    data = load_dataset(GENDER)
    score = ValidationScore(data, "worst_group")
    always_man = score(lambda images: np.ones(len(images), int))
    assert always_man["worst_group_accuracy"] == 0.0 and always_man["worst_group"].startswith("woman")
    truth = score(lambda images: data.labels["val"])
    assert truth["worst_group_accuracy"] == 1.0 and truth["score"] == pytest.approx(1.0 + 1e-3)
    # Other selections log the worst group beside their own score.
    clean = ValidationScore(data, "clean")(lambda images: np.ones(len(images), int))
    assert clean["worst_group_accuracy"] == 0.0 and clean["score"] == pytest.approx(0.5)
