"""One mini-Xception trunk with an emotion, a gender and an age head, trained on every face at once.

Each face teaches the heads it has labels for (masked losses): FER-2013 emotion (with its FER+
crowd votes), UTKFace gender and age, its children age only, LFW gender only. The heads' targets
and losses are the single-task runs' own: smoothed labels mixed with votes
(:func:`~face_affect.training.train.soft_targets`), gender weighed alike per class within each
source (:func:`~face_affect.training.groups.class_balance_within_sources`), age two-hot over
:data:`~face_affect.training.age.AGE_BINS` with the expectation loss and the age x race
balancing weights. So the age estimate, its child rule and its MAE mean what the age file's do.

One trunk takes one input: every source is moved into one framing (UTKFace's, the one the
gender and age files crop with, measured on its validation split), then resized to the trunk's
size. FER-2013 is reframed (its crops are tighter at the bottom), as LFW is
(:func:`~face_affect.training.framing.placed_in_framing`); the file's ``crop_margin`` is that framing.

The epoch kept is chosen on the three validation splits together: each head's validation error
relative to the shipped file's (:data:`REFERENCE_ERRORS`), averaged. A point of gender error
(of about 5) then weighs as much as seven of emotion's (of about 32): each head's gain counts
against what it has to win, and no head can pay for another's loss at par.

With pseudo-labels (:mod:`~face_affect.training.pseudo_labels`), a face also teaches a head its
source has no label for where a teacher labelled it confidently, weighing ``pseudo_weight`` of a
real label in that head's mean: emotion and gender towards the teachers' distribution, age towards
their expected age (the real ages' target). Faces with real labels keep them.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as functional

from face_affect.classifiers import OnnxClassifier
from face_affect.corruptions import corrupted_sets
from face_affect.training.age import AGE_BINS, CHILD_AGE, NO_GENDER, age_figures, age_splits, expected_age, two_hot
from face_affect.training.augmentation import AugmentationRanges, CameraEffects, random_affine, random_camera_effects
from face_affect.training.calibration import calibrate, expected_calibration_error, model_probabilities
from face_affect.training.datasets import (
    FER2013_CLASSES,
    GENDER_CLASSES,
    LabelledSplits,
    load_dataset,
    load_ferplus_votes,
    majority_labels,
    with_extra_training_faces,
)
from face_affect.training.export import export_onnx
from face_affect.training.framing import (
    detect_in_crops,
    framing_margins,
    in_framing,
    model_faces,
    placed_in_framing,
    resized,
)
from face_affect.training.graph import normalise
from face_affect.training.groups import (
    JUDGED_GROUP_FACES,
    accuracy_by_reported_group,
    balancing_weights,
    class_balance_within_sources,
    reported_groups,
    training_groups,
    worst_group,
)
from face_affect.training.mini_xception import MultiHeadMiniXception
from face_affect.training.pseudo_labels import PseudoLabels, PseudoThresholds, load_pseudo_labels, pseudo_labels
from face_affect.training.release import (
    evaluate_age_model,
    evaluate_model,
    set_child_offset,
    set_metadata,
    write_report,
)
from face_affect.training.train import (
    expectation_error,
    network_batches,
    restore_progress,
    save_progress,
    soft_targets,
)
from face_affect.types import Margins

LOGGER = logging.getLogger(__name__)
TASK_CLASSES = {"emotion": FER2013_CLASSES, "gender": GENDER_CLASSES, "age": tuple(str(age) for age in AGE_BINS)}
"""The heads, in the order of the network's and the file's outputs, with their classes."""
REFERENCE_ERRORS = {"emotion": 1 - 0.681, "gender": 1 - 0.953, "age": 4.92}
"""The shipped single-task files' validation figures (model card): emotion the mean of FER-2013 and FER+
majority accuracy (62.7%, 73.5%), gender accuracy (95.3%), age MAE in years (4.92); all with the
files' own mirror pass where they have one."""
NO_LABEL = -1


@dataclass
class HeadsConfig:
    widths: tuple[int, ...] = (16, 32, 64, 128, 256)
    input_size: int = 48
    """Pixels of the square grey input: FER-2013's 48, UTKFace and LFW resized down from 64."""
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    vote_weight: float = 0.25
    """Emotion: share of the FER+ crowd votes in the target (the shipped file's second stage)."""
    expectation_weight: float = 1.0
    """Age: the expectation loss's weight (the shipped age file's)."""
    age_group_balance: float = 0.5
    """Age: the power of the age class x race balancing weights (the shipped age file's)."""
    head_weights: dict[str, float] = field(default_factory=lambda: {task: 1.0 for task in TASK_CLASSES})
    seed: int = 0
    threads: int = 1
    initial_weights: str = ""
    """A ``best.pt`` of this trainer to start from (a second stage at a lower learning rate); empty: afresh."""
    augmentation: AugmentationRanges = field(default_factory=lambda: AugmentationRanges(rotation_degrees=15.0))
    camera_effects: CameraEffects = field(default_factory=lambda: CameraEffects(probability=0.2))
    normalization: str = "standardise"
    pseudo_labels: str = ""
    """A ``pseudo-label`` file of these training faces (:mod:`~face_affect.training.pseudo_labels`); empty: none."""
    pseudo_weight: float = 0.5
    """What a pseudo-labelled face weighs in its head's loss, a face with a real label weighing 1."""


@dataclass
class HeadsData:
    """Every face once, at the trunk's input size and in one framing, with the labels it has.

    ``emotion``/``gender``: class indices or :data:`NO_LABEL`; ``votes``: FER+ votes (zero rows
    where none); ``age``: years, or :data:`NO_LABEL`; ``weights``: per-task loss weights (mean 1
    over the faces that have the task); ``sources``: each source's count, in the order of the faces.
    """

    images: np.ndarray
    emotion: np.ndarray
    votes: np.ndarray
    gender: np.ndarray
    age: np.ndarray
    weights: dict[str, np.ndarray]
    framing: Margins
    sources: dict[str, int] = field(default_factory=dict)


@dataclass
class HeadSplits:
    """What :func:`load_heads_data` returns: the training faces, and each task's own splits."""

    train: HeadsData
    tasks: dict[str, LabelledSplits]
    """Per task, its data set in the trunk's framing and size (``val`` and ``test`` as the single-task
    files are measured on; ``train`` empty to save memory)."""
    framing: Margins


def load_heads_data(
    fer: Path,
    votes: Path,
    utkface: Path,
    utkface_extra: list[Path],
    children: Path,
    lfw: list[Path],
    size: int,
    age_group_balance: float,
) -> HeadSplits:
    """Every source in UTKFace's framing (measured on its validation split) at ``size``."""
    gender = load_dataset(utkface)
    framing = framing_margins(gender.images["val"], detect_in_crops(gender.images["val"]))
    LOGGER.info("framing of every source: UTKFace validation's %s", framing)
    for path in utkface_extra:
        gender = with_extra_training_faces(path, gender)  # UTKFace's chips, already in its framing
    age = age_splits(gender, children)  # adults (gender and age) then children (age only)
    emotion = load_ferplus_votes(votes, load_dataset(fer))
    emotion_source = framing_margins(emotion.images["val"], detect_in_crops(emotion.images["val"]))
    LOGGER.info("FER-2013's framing %s", emotion_source)
    # One measurement for every split of FER-2013: the same reframing for train, val and test.
    everything = ("train", "val", "test")
    emotion = in_framing(emotion, framing, size, size, everything, source=emotion_source)
    age = in_framing(age, framing, size, size, everything, source=framing)
    gender_only = in_framing(gender, framing, size, size, source=framing)
    lfw_images, lfw_labels = [], []
    for path in lfw:
        with np.load(path) as archive:
            if tuple(str(name) for name in archive["class_names"]) != GENDER_CLASSES:
                raise ValueError(f"{path}: classes {archive['class_names']}, expected {GENDER_CLASSES}")
            lfw_images.append(resized(placed_in_framing(archive["x"], framing), size, size))
            lfw_labels.append(archive["y"].astype(np.int64))
    train = training_faces(emotion, age, lfw_images, lfw_labels, framing, age_group_balance)
    for splits in (emotion, age):
        splits.images["train"] = splits.images["train"][:0]
    return HeadSplits(train, {"emotion": emotion, "gender": gender_only, "age": age}, framing)


def training_faces(
    emotion: LabelledSplits,
    age: LabelledSplits,
    lfw_images: list[np.ndarray],
    lfw_labels: list[np.ndarray],
    framing: Margins,
    age_group_balance: float,
) -> HeadsData:
    """The training faces of every source in one set, with each task's labels where the source has them."""
    count_emotion, count_age = len(emotion.labels["train"]), len(age.labels["train"])
    count_lfw = sum(len(labels) for labels in lfw_labels)
    total = count_emotion + count_age + count_lfw
    images = np.concatenate([emotion.images["train"], age.images["train"], *lfw_images])
    emotion_labels = np.full(total, NO_LABEL, np.int64)
    emotion_labels[:count_emotion] = emotion.labels["train"]
    votes = np.zeros((total, len(FER2013_CLASSES)), np.float32)
    votes[:count_emotion] = emotion.votes["train"]
    age_extra = age.extra["train"]
    gender = np.full(total, NO_LABEL, np.int64)
    gender[count_emotion : count_emotion + count_age] = np.where(
        age_extra["gender"] == NO_GENDER, NO_LABEL, age_extra["gender"]
    )
    gender[count_emotion + count_age :] = np.concatenate(lfw_labels) if lfw_labels else []
    ages = np.full(total, float(NO_LABEL), np.float32)
    ages[count_emotion : count_emotion + count_age] = age_extra["age"]
    # Sources for gender's class balance: UTKFace (with its extra chips), then each LFW archive.
    sources = np.zeros(total, np.int64)
    offset = count_emotion + count_age
    for number, labels in enumerate(lfw_labels, start=1):
        sources[offset : offset + len(labels)] = number
        offset += len(labels)
    weights = {task: np.zeros(total, np.float32) for task in TASK_CLASSES}
    weights["emotion"][:count_emotion] = 1.0
    has_gender = gender != NO_LABEL
    weights["gender"][has_gender] = class_balance_within_sources(gender[has_gender], sources[has_gender])
    age_classes = two_hot(age_extra["age"]).argmax(axis=1)
    age_balance = training_groups(age_classes, age_extra["age"], age_extra["race"])
    weights["age"][count_emotion : count_emotion + count_age] = balancing_weights(age_balance, age_group_balance)
    LOGGER.info(
        "training faces: %d (emotion %d, gender %d, age %d)",
        total,
        count_emotion,
        int(has_gender.sum()),
        count_age,
    )
    sources = {"fer2013": count_emotion, "utkface": count_age, "lfw": count_lfw}
    return HeadsData(images, emotion_labels, votes, gender, ages, weights, framing, sources)


def build_heads_network(widths: tuple[int, ...]) -> MultiHeadMiniXception:
    return MultiHeadMiniXception({task: len(classes) for task, classes in TASK_CLASSES.items()}, widths=widths)


@torch.no_grad()
def predict_heads(
    network: torch.nn.Module, images: np.ndarray, normalization: str, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """Per task, the network's probabilities ``[N, K]`` of grey uint8 crops ``[N, H, W]`` (no mirror pass)."""
    network.eval()
    outputs: dict[str, list[torch.Tensor]] = {task: [] for task in TASK_CLASSES}
    for batch in network_batches(images, batch_size, normalization):
        for task, logits in network(batch).items():
            outputs[task].append(logits.softmax(1))
    return {task: torch.cat(values).numpy() for task, values in outputs.items()}


def validation_figures(predicted: dict[str, np.ndarray], splits: dict[str, LabelledSplits], split: str = "val") -> dict:
    """Each head's figures on its own ``split``: emotion FER-2013 and FER+ majority accuracy, gender
    accuracy, age MAE and the child rule; ``errors`` relative to :data:`REFERENCE_ERRORS` and ``score``,
    minus their mean (higher is better)."""
    emotion, gender, age = splits["emotion"], splits["gender"], splits["age"]
    emotion_classes = predicted["emotion"].argmax(axis=1)
    majority = majority_labels(emotion.votes[split])
    voted = majority >= 0
    figures: dict[str, float] = {
        "emotion_accuracy": float((emotion_classes == emotion.labels[split]).mean()),
        "emotion_ferplus_accuracy": float((emotion_classes[voted] == majority[voted]).mean()),
        "gender_accuracy": float((predicted["gender"].argmax(axis=1) == gender.labels[split]).mean()),
    }
    ages = age_figures(expected_age(predicted["age"]), age.extra[split]["age"])
    figures.update({f"age_{name}": value for name, value in ages.items()})
    errors = {
        "emotion": 1 - (figures["emotion_accuracy"] + figures["emotion_ferplus_accuracy"]) / 2,
        "gender": 1 - figures["gender_accuracy"],
        "age": figures["age_mae"],
    }
    figures["relative_errors"] = {task: round(errors[task] / REFERENCE_ERRORS[task], 4) for task in errors}
    figures["score"] = -float(np.mean(list(figures["relative_errors"].values())))
    return figures


class HeadsValidation:
    """Scores the network on the three validation splits in one pass over their faces."""

    def __init__(self, splits: dict[str, LabelledSplits], normalization: str) -> None:
        self.splits = splits
        self.normalization = normalization
        self.counts = {task: len(splits[task].images["val"]) for task in TASK_CLASSES}
        self.images = np.concatenate([splits[task].images["val"] for task in TASK_CLASSES])

    def __call__(self, network: torch.nn.Module) -> dict:
        everything = predict_heads(network, self.images, self.normalization)
        predicted, start = {}, 0
        for task, count in self.counts.items():
            predicted[task] = everything[task][start : start + count]
            start += count
        return validation_figures(predicted, self.splits)


def head_losses(outputs: dict[str, torch.Tensor], indices: torch.Tensor, targets: dict, config: HeadsConfig) -> dict:
    """Per task, the weighted mean loss over the batch's faces that have that task's label (absent if none);
    with ``targets["pseudo"]`` (:func:`pseudo_targets`), also over the faces with a kept pseudo-label, each
    weighing ``config.pseudo_weight``."""
    losses = real_label_losses(outputs, indices, targets, config)
    for task, pseudo in targets.get("pseudo", {}).items():
        kept = pseudo["kept"][indices]
        if config.pseudo_weight <= 0 or not kept.any():
            continue
        logits, rows = outputs[task][kept], indices[kept]
        if task == "age":
            two_hot_targets = pseudo["age_targets"][rows]
            face = functional.cross_entropy(logits, two_hot_targets, reduction="none")
            if config.expectation_weight > 0:
                face = face + config.expectation_weight * expectation_error(
                    logits, two_hot_targets, targets["age_values"]
                )
        else:  # the teachers' distribution as a soft target
            face = functional.cross_entropy(logits, pseudo["probabilities"][rows], reduction="none")
        labelled = (targets[task][indices] != NO_LABEL).sum()
        real_sum = losses[task] * labelled if task in losses else 0.0
        losses[task] = (real_sum + config.pseudo_weight * face.sum()) / (labelled + config.pseudo_weight * kept.sum())
    return losses


def real_label_losses(
    outputs: dict[str, torch.Tensor], indices: torch.Tensor, targets: dict, config: HeadsConfig
) -> dict:
    """Per task, the weighted mean loss over the batch's faces that have that task's label (absent if none)."""
    losses = {}
    emotion = targets["emotion"][indices]
    has = emotion != NO_LABEL
    if has.any():
        soft = soft_targets(
            emotion[has],
            targets["votes"][indices][has],
            len(FER2013_CLASSES),
            config.label_smoothing,
            config.vote_weight,
        )
        face = functional.cross_entropy(outputs["emotion"][has], soft, reduction="none")
        losses["emotion"] = (face * targets["weights"]["emotion"][indices][has]).sum() / has.sum()
    gender = targets["gender"][indices]
    has = gender != NO_LABEL
    if has.any():
        face = functional.cross_entropy(
            outputs["gender"][has], gender[has], reduction="none", label_smoothing=config.label_smoothing
        )
        losses["gender"] = (face * targets["weights"]["gender"][indices][has]).sum() / has.sum()
    ages = targets["age"][indices]
    has = ages != NO_LABEL
    if has.any():
        two_hot_targets = targets["age_targets"][indices][has]
        logits = outputs["age"][has]
        face = functional.cross_entropy(logits, two_hot_targets, reduction="none")
        if config.expectation_weight > 0:
            face = face + config.expectation_weight * expectation_error(logits, two_hot_targets, targets["age_values"])
        losses["age"] = (face * targets["weights"]["age"][indices][has]).sum() / has.sum()
    return losses


def pseudo_targets(labels: PseudoLabels) -> dict[str, dict[str, torch.Tensor]]:
    """Per task, the kept faces and their targets as :func:`head_losses` takes them: emotion and gender the
    teachers' probabilities, age the two-hot target of the teachers' expected age (the real ages' target)."""
    targets = {}
    for task, kept in labels.kept.items():
        probabilities = torch.from_numpy(labels.probabilities[task])
        targets[task] = {"kept": torch.from_numpy(kept), "probabilities": probabilities}
        if task == "age":
            targets[task]["age_targets"] = torch.from_numpy(two_hot(expected_age(labels.probabilities[task])))
    return targets


def label_training_faces(
    data: HeadsData, teachers: list[Path], thresholds: PseudoThresholds, threads: int = 1
) -> PseudoLabels:
    """Teacher labels of the training faces for the tasks each face lacks (:func:`pseudo_labels`)."""
    lacking = {
        "emotion": data.emotion == NO_LABEL,
        "gender": data.gender == NO_LABEL,
        "age": data.age == NO_LABEL,
    }
    children = (data.age != NO_LABEL) & (data.age < CHILD_AGE)
    return pseudo_labels(
        data.images, data.framing, data.sources, lacking, children, teachers, thresholds, TASK_CLASSES, threads
    )


def train_heads(splits: HeadSplits, config: HeadsConfig, run_directory: Path, epochs_now: int = 0) -> Path:
    """Trains the three-headed network with a cosine schedule, writing ``log.jsonl``, ``last.pt``
    (resume: the same call again) and ``best.pt`` (best :func:`validation_figures` score).
    ``epochs_now`` (0: all) stops after that many epochs in this call. Returns ``best.pt``'s path."""
    run_directory.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    network = build_heads_network(config.widths)
    if config.initial_weights:
        network.load_state_dict(torch.load(config.initial_weights, weights_only=False)["network"])
    network = network.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    state = {"epoch": 0, "best_score": -np.inf, "best_epoch": -1}
    last_path, best_path = run_directory / "last.pt", run_directory / "best.pt"
    checkpoint = restore_progress(last_path, network, optimizer, scheduler, generator)
    if checkpoint is not None:
        state = checkpoint["state"]
    (run_directory / "config.json").write_text(json.dumps(asdict(config), indent=2, default=str))
    train = splits.train
    ages = np.where(train.age == NO_LABEL, 0, train.age)
    targets = {
        "emotion": torch.from_numpy(train.emotion),
        "votes": torch.from_numpy(train.votes),
        "gender": torch.from_numpy(train.gender),
        "age": torch.from_numpy(train.age),
        "age_targets": torch.from_numpy(two_hot(ages)),
        "age_values": torch.tensor([float(age) for age in AGE_BINS]),
        "weights": {task: torch.from_numpy(weights) for task, weights in train.weights.items()},
    }
    pseudo = None
    if config.pseudo_labels:
        pseudo = load_pseudo_labels(Path(config.pseudo_labels), train.images, train.sources)
        targets["pseudo"] = pseudo_targets(pseudo)
        LOGGER.info("pseudo-labels of %s, weight %s: %s", config.pseudo_labels, config.pseudo_weight, pseudo.counts())
    validation = HeadsValidation(splits.tasks, config.normalization)
    stop_at = config.epochs if epochs_now <= 0 else min(config.epochs, state["epoch"] + epochs_now)
    while state["epoch"] < stop_at:
        started = time.monotonic()
        augmentation_rng = np.random.default_rng([config.seed, state["epoch"]])  # a resumed run augments alike
        network.train()
        order = torch.randperm(len(train.images), generator=generator)
        totals = {task: 0.0 for task in TASK_CLASSES}
        batches = 0
        for start in range(0, len(order), config.batch_size):
            indices = order[start : start + config.batch_size]
            if len(indices) < 2:
                continue  # batch norm needs two samples
            crops = random_camera_effects(train.images[indices.numpy()], config.camera_effects, augmentation_rng)
            raw = random_affine(torch.from_numpy(crops).unsqueeze(1).float(), config.augmentation, generator)
            batch = normalise(raw, config.normalization).contiguous(memory_format=torch.channels_last)
            losses = head_losses(network(batch), indices, targets, config)
            loss = sum(config.head_weights[task] * value for task, value in losses.items())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for task, value in losses.items():
                totals[task] += float(value.detach())
            batches += 1
        val = validation(network)
        scheduler.step()
        state["epoch"] += 1
        if val["score"] > state["best_score"]:
            state.update(best_score=val["score"], best_epoch=state["epoch"])
            torch.save(
                {
                    "network": network.state_dict(),
                    "state": dict(state),
                    "normalization": config.normalization,
                    "widths": list(config.widths),
                    "tasks": list(TASK_CLASSES),
                    "input_size": config.input_size,
                    "framing": list(splits.framing),
                    "pseudo_labels": {"weight": config.pseudo_weight, **pseudo.description()} if pseudo else {},
                },
                best_path,
            )
        record = {
            "epoch": state["epoch"],
            "train_loss": {task: total / max(batches, 1) for task, total in totals.items()},
            "val": val,
            "learning_rate": optimizer.param_groups[0]["lr"],
            "seconds": time.monotonic() - started,
            "best_score": state["best_score"],
            "best_epoch": state["best_epoch"],
        }
        with open(run_directory / "log.jsonl", "a") as log:
            log.write(json.dumps(record) + "\n")
        LOGGER.info("%s", record)
        save_progress(last_path, network, optimizer, scheduler, generator, state)
    return best_path


ARCHITECTURE = "mini_xception_heads"
DATASET_NAMES = {
    "emotion": "FER-2013 with FER+ votes, reframed to UTKFace's framing",
    "gender": "UTKFace (gender_utkface.npz and gender_utkface_extra.npz) and LFW (gender_lfw.npz, reframed)",
    "age": "UTKFace, ages 0-116 (age_utkface_children.npz and gender_utkface.npz)",
}


def load_heads_checkpoint(checkpoint: Path) -> tuple[MultiHeadMiniXception, dict]:
    """The network of a ``best.pt`` of :func:`train_heads`, in inference mode, and the checkpoint."""
    state = torch.load(checkpoint, weights_only=False)
    network = build_heads_network(tuple(state["widths"]))
    network.load_state_dict(state["network"])
    return network.eval().to(memory_format=torch.contiguous_format), state


def export_heads(checkpoint: Path, output: Path, command: str, flip_average: bool = False) -> None:
    """One ONNX file: an output per task named after it, probabilities ``[N, K]`` each; metadata ``tasks``,
    ``labels_<task>`` and the shared input and crop (:mod:`face_affect.classifiers`)."""
    network, state = load_heads_checkpoint(checkpoint)
    size = int(state["input_size"])
    labels = {
        f"labels_{task}": [float(name) for name in classes] if task == "age" else list(classes)
        for task, classes in TASK_CLASSES.items()
    }
    export_onnx(
        network,
        output,
        input_size=(size, size),
        metadata={
            "tasks": list(TASK_CLASSES),
            **labels,
            "crop_margin": [round(float(side), 3) for side in state["framing"]],
            "architecture": ARCHITECTURE,
            "widths": list(network.widths),
            "dataset": DATASET_NAMES,
            "training_command": command,
            "selected_epoch": state["state"]["best_epoch"],
            **({"pseudo_labels": state["pseudo_labels"]} if state.get("pseudo_labels") else {}),
        },
        flip_average=flip_average,
        normalization=state["normalization"],
        outputs=tuple(TASK_CLASSES),
    )


def file_head_splits(model: Path, fer: Path, votes: Path, utkface: Path, children: Path) -> dict[str, LabelledSplits]:
    """Each head's validation and test faces in the file's framing and at its size (:func:`model_faces`):
    FER-2013 with the FER+ votes for emotion, UTKFace for gender, UTKFace and its children for age (one
    framing measured on UTKFace's validation split for both, as the children's chips are framed alike)."""
    adults = load_dataset(utkface)
    framing = framing_margins(adults.images["val"], detect_in_crops(adults.images["val"]))
    return {
        "emotion": model_faces(model, "emotion", load_ferplus_votes(votes, load_dataset(fer)))[1],
        "gender": model_faces(model, "gender", adults, source=framing)[1],
        "age": model_faces(model, "age", age_splits(adults, children), source=framing)[1],
    }


def head_figures(model: Path, tasks: dict[str, LabelledSplits], split: str, seed: int = 0) -> dict:
    """Each head of the file on its own ``split`` through the runtime: :func:`validation_figures`, with
    per head the expected calibration error, emotion under the corruptions, gender's recalls and groups."""
    heads = {classifier.task: classifier for classifier in OnnxClassifier.heads(model)}
    predicted = {task: model_probabilities(heads[task], tasks[task].images[split]) for task in TASK_CLASSES}
    figures = validation_figures(predicted, tasks, split)
    for task in ("emotion", "gender"):
        figures[f"{task}_ece"] = round(expected_calibration_error(predicted[task], tasks[task].labels[split]), 4)
    emotion = tasks["emotion"]
    corrupted = corrupted_sets(emotion.images[split], seed)
    by_corruption = {
        name: round(float((model_probabilities(heads["emotion"], images).argmax(1) == emotion.labels[split]).mean()), 4)
        for name, images in corrupted.items()
    }
    figures["emotion_corrupted"] = by_corruption
    figures["emotion_corrupted_mean"] = round(float(np.mean(list(by_corruption.values()))), 4)
    gender = tasks["gender"]
    correct = predicted["gender"].argmax(1) == gender.labels[split]
    figures["gender_recall"] = {
        name: round(float(correct[gender.labels[split] == code].mean()), 4) for code, name in enumerate(GENDER_CLASSES)
    }
    extra = gender.extra[split]
    table = accuracy_by_reported_group(correct, reported_groups(gender.labels[split], extra["age"], extra["race"]))
    for row in table.values():
        row["standard_error"] = round(float(np.sqrt(row["accuracy"] * (1 - row["accuracy"]) / row["count"])), 4)
    figures["gender_groups"] = table
    figures["gender_worst_judged_group"] = worst_group(table, JUDGED_GROUP_FACES)
    return figures


def release_heads(model: Path, tasks: dict[str, LabelledSplits], docs: Path, child_recall: float) -> dict:
    """Calibrates the emotion and gender heads on validation (a temperature each, in the graph), sets the
    age head's child offset on validation, then writes the per-head reports (test split) under ``docs``."""
    calibration = {task: calibrate(model, tasks[task], docs, task=task) for task in ("emotion", "gender")}
    offset = set_child_offset(model, tasks["age"], child_recall, task="age") if child_recall > 0 else 0.0
    report = {
        "calibration": {task: values["temperature"] for task, values in calibration.items()},
        "child_offset": offset,
    }
    stem = model.stem
    for task in ("emotion", "gender"):
        result = evaluate_model(model, tasks[task], task=task)
        write_report(
            result, docs, f"{stem}_{task}", f"{stem} {task}: test accuracy {result['whole_image']['accuracy']:.3f}"
        )
        report[f"test_accuracy_{task}"] = result["whole_image"]["accuracy"]
    age = evaluate_age_model(model, tasks["age"], task="age")
    (docs / f"{stem}_age.json").write_text(json.dumps(age, indent=2) + "\n")
    report["test_mae_age"] = age["mae"]
    set_metadata(model, {key: value for key, value in report.items() if key.startswith("test_")})
    return report
