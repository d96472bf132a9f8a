"""Training loop: the paper's recipe, seeded, logged per epoch, checkpointed and resumable.

Selection uses the validation split only; the test split is never looked at here.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as functional

from face_affect.training.augmentation import AugmentationRanges, CameraEffects, random_affine, random_camera_effects
from face_affect.training.auxiliary import (
    AUXILIARY_OUTPUTS,
    auxiliary_loss,
    auxiliary_targets,
    without_auxiliary_outputs,
)
from face_affect.training.datasets import LabelledSplits
from face_affect.training.distillation import TeacherEnsemble, distillation_loss
from face_affect.training.graph import build_network, normalise
from face_affect.training.groups import balancing_weights, class_balance_within_sources, training_groups
from face_affect.training.selection import ValidationScore

LOGGER = logging.getLogger(__name__)
BATCH_NORM_IMAGES = 2048
"""Training images (unaugmented) over which the averaged weights' batch-norm statistics are measured."""
DEFAULT_RUNS_DIRECTORY = Path.home() / ".cache" / "face_affect" / "runs"


@dataclass
class TrainingConfig:
    architecture: str = "mini_xception"
    widths: tuple[int, ...] = ()
    """The mini-Xception's stem and residual-module widths (:data:`~face_affect.training.mini_xception.PAPER_WIDTHS`
    when empty)."""
    epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "plateau"
    """``plateau``: the paper's divide-by-10 after ``plateau_patience`` epochs without gain
    and early stopping after ``early_stopping_patience``; ``cosine``: cosine decay over
    ``epochs``, still keeping the best epoch on the validation split."""
    plateau_patience: int = 12
    early_stopping_patience: int = 50
    label_smoothing: float = 0.0
    seed: int = 0
    threads: int = 2
    augmentation: AugmentationRanges = field(default_factory=AugmentationRanges)
    camera_effects: CameraEffects = field(default_factory=CameraEffects)
    normalization: str = "scale"
    """Input normalisation inside the network's graph (:data:`face_affect.training.graph.NORMALIZATIONS`)."""
    vote_weight: float = 0.0
    """Share of the crowd's vote distribution (FER+) in each face's target; the label has the
    rest. Faces without votes keep their label alone."""
    selection: str = "clean"
    """Which validation figure picks the epoch kept (:mod:`face_affect.training.selection`)."""
    teachers: list[str] = field(default_factory=list)
    """``best.pt`` files of trained runs whose mean logits the network also learns
    (:mod:`face_affect.training.distillation`)."""
    distillation_weight: float = 0.5
    """Share of the distillation term in the loss; the labels' cross-entropy has the rest."""
    distillation_temperature: float = 2.0
    initial_weights: str = ""
    """A ``best.pt`` to start from instead of random weights (fine-tuning); empty: from scratch."""
    weight_averaging: float = 0.0
    """Decay of an exponential moving average of the weights, which is then what is validated
    and kept (0: off). It smooths the epoch-to-epoch swings of validation accuracy that
    otherwise decide which epoch is kept."""
    auxiliary_weight: float = 0.0
    """Weight of the race and age losses learnt beside gender (:mod:`face_affect.training.auxiliary`);
    0: off."""
    source_balance: bool = False
    """Weigh the classes alike within each source of training faces (the data set, each extra
    archive): :func:`face_affect.training.groups.class_balance_within_sources`."""
    group_balance: float = 0.0
    """Power of the group-balancing loss weights over age band × gender × race
    (:func:`face_affect.training.groups.balancing_weights`); 0: every face alike."""
    expectation_weight: float = 0.0
    """Weight of the absolute error, in tens of units, between the expectation of the predicted
    probabilities over the classes' values and that of the target (age: years; as the mean loss of
    Pan et al., 2018). Cross-entropy alone does not see how far off a wrong class is, the
    expectation read at run time does. 0: off; only for classes that are numbers."""


class WeightAverage:
    """An exponential moving average of a network's weights, with batch-norm statistics of its own.

    The averaged weights are no single network's, so neither are the statistics of
    their activations: with the running statistics averaged as well, the averaged gender
    network answered "man" for every face after ten epochs. :meth:`measure_batch_norm`
    measures them for the averaged weights instead, as stochastic weight averaging does
    (92.7% on the validation split at that epoch).
    """

    def __init__(self, network: torch.nn.Module, decay: float) -> None:
        self.network = copy.deepcopy(network).requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, network: torch.nn.Module) -> None:
        for average, current in zip(self.network.parameters(), network.parameters()):
            average.lerp_(current, 1 - self.decay)

    @torch.no_grad()
    def measure_batch_norm(self, images: np.ndarray, normalization: str, batch_size: int = 256) -> None:
        """Running statistics of the averaged weights over ``images`` (grey uint8 ``[N, H, W]``)."""
        layers = [module for module in self.network.modules() if isinstance(module, torch.nn.BatchNorm2d)]
        momenta = [layer.momentum for layer in layers]
        for layer in layers:
            layer.reset_running_stats()
            layer.momentum = None  # a plain mean over all batches
        self.network.train()
        for batch in network_batches(images, batch_size, normalization):
            self.network(batch)
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum


def network_batches(images: np.ndarray, batch_size: int, normalization: str = "scale") -> Iterator[torch.Tensor]:
    """Grey uint8 images ``[N, H, W]`` as normalised, channels-last network input, ``batch_size`` at a time."""
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(images[start : start + batch_size]).float().unsqueeze(1)
        yield normalise(batch, normalization).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def predict_logits(
    network: torch.nn.Module, images: np.ndarray, batch_size: int = 128, normalization: str = "scale"
) -> torch.Tensor:
    network.eval()
    return torch.cat([network(batch) for batch in network_batches(images, batch_size, normalization)])


def class_predictor(network: torch.nn.Module, normalization: str) -> Callable[[np.ndarray], np.ndarray]:
    """Grey uint8 crops to the network's class probabilities, for :class:`ValidationScore`."""
    return lambda images: predict_logits(network, images, normalization=normalization).softmax(1).numpy()


def soft_targets(
    labels: torch.Tensor, votes: torch.Tensor | None, num_classes: int, label_smoothing: float, vote_weight: float
) -> torch.Tensor:
    """Each face's target distribution: its smoothed label, mixed with its crowd votes where it has any
    (``vote_weight`` of them; :attr:`TrainingConfig.vote_weight`)."""
    target = functional.one_hot(labels, num_classes).float()
    target = target * (1 - label_smoothing) + label_smoothing / num_classes
    if votes is None or vote_weight <= 0:
        return target
    totals = votes.sum(1, keepdim=True)
    has_votes = totals > 0
    crowd = votes / totals.clamp(min=1)
    weight = torch.where(has_votes, vote_weight, 0.0)
    return (1 - weight) * target + weight * crowd


def expectation_error(logits: torch.Tensor, targets: torch.Tensor, class_values: torch.Tensor) -> torch.Tensor:
    """Per face: how far the predicted expectation over ``class_values`` is from the target's, in tens."""
    predicted = functional.softmax(logits, dim=1) @ class_values
    return (predicted - targets @ class_values).abs() / 10


def train(data: LabelledSplits, config: TrainingConfig, run_directory: Path, epochs_now: int = 0) -> Path:
    """Trains, writing ``log.jsonl``, ``last.pt`` (resume) and ``best.pt`` (best on val).

    ``epochs_now`` (0: all) stops after that many epochs in this call, as an interruption would:
    a session with less time than the schedule trains part of it, and a later call with the same
    config resumes where it stopped, with the same result as an uninterrupted run.
    Returns the path of ``best.pt``.
    """
    run_directory.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    num_classes = len(data.class_names)
    extra_outputs = AUXILIARY_OUTPUTS if config.auxiliary_weight > 0 else 0
    network = build_network(config.architecture, num_classes + extra_outputs, widths=config.widths)
    if config.initial_weights:
        network.load_state_dict(torch.load(config.initial_weights, weights_only=False)["network"])
    network = network.to(memory_format=torch.channels_last)
    averaged = WeightAverage(network, config.weight_averaging) if config.weight_averaging > 0 else None
    teacher = None
    if config.teachers:
        height, width = data.images["train"].shape[1:3]
        teacher = TeacherEnsemble(
            [Path(path) for path in config.teachers], num_classes, data.class_names, (width, height), config.threads
        )
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    if config.schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    elif config.schedule == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=0.1, patience=config.plateau_patience
        )
    else:
        raise ValueError(f"unknown schedule {config.schedule!r}")
    # -inf: a score may be negative (age_mae's is minus the error), and the first epoch must be kept.
    state = {"epoch": 0, "best_val_accuracy": -math.inf, "best_epoch": -1}
    last_path, best_path = run_directory / "last.pt", run_directory / "best.pt"
    checkpoint = restore_progress(last_path, network, optimizer, scheduler, generator)
    if checkpoint is not None:
        if averaged is not None:
            averaged.network.load_state_dict(checkpoint["averaged"])
        state = checkpoint["state"]
    (run_directory / "config.json").write_text(json.dumps(asdict(config), indent=2))

    train_images = data.images["train"]
    train_labels = torch.from_numpy(data.labels["train"])
    train_votes = torch.from_numpy(data.votes["train"]) if "train" in data.votes else None
    validation = ValidationScore(data, config.selection, config.seed)
    if extra_outputs:
        train_race, train_age = auxiliary_targets(data.extra.get("train", {}))
    face_weights = None
    if config.group_balance > 0:
        extra = data.extra.get("train", {})
        if "age" not in extra or "race" not in extra or len(extra["age"]) != len(train_labels):
            raise ValueError("group balancing needs the age and race of every training face (UTKFace)")
        groups = training_groups(data.labels["train"], extra["age"], extra["race"])
        face_weights = torch.from_numpy(balancing_weights(groups, config.group_balance))
    if config.source_balance:
        sources = data.extra.get("train", {}).get("source", np.zeros(len(train_labels), np.int64))
        balance = torch.from_numpy(class_balance_within_sources(data.labels["train"], sources))
        face_weights = balance if face_weights is None else face_weights * balance
    class_values = None
    if config.expectation_weight > 0:
        try:
            class_values = torch.tensor([float(name) for name in data.class_names])
        except ValueError:
            raise ValueError(f"the expectation loss needs classes that are numbers, not {data.class_names}") from None
    stop_at = config.epochs if epochs_now <= 0 else min(config.epochs, state["epoch"] + epochs_now)
    while state["epoch"] < stop_at:
        if state["epoch"] - state["best_epoch"] > config.early_stopping_patience:
            LOGGER.info("early stop: no gain on val for %d epochs", config.early_stopping_patience)
            break
        started = time.monotonic()
        # Seeded per epoch, so a resumed run augments exactly as an uninterrupted one.
        augmentation_rng = np.random.default_rng([config.seed, state["epoch"]])
        network.train()
        order = torch.randperm(len(train_labels), generator=generator)
        total_loss, seen = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            indices = order[start : start + config.batch_size]
            if len(indices) < 2:
                continue  # batch norm needs two samples
            crops = random_camera_effects(train_images[indices.numpy()], config.camera_effects, augmentation_rng)
            raw = random_affine(torch.from_numpy(crops).unsqueeze(1).float(), config.augmentation, generator)
            batch = normalise(raw, config.normalization).contiguous(memory_format=torch.channels_last)
            outputs = network(batch)
            logits = outputs[:, :num_classes]
            votes = None if train_votes is None else train_votes[indices]
            targets = soft_targets(
                train_labels[indices], votes, num_classes, config.label_smoothing, config.vote_weight
            )
            face_losses = functional.cross_entropy(logits, targets, reduction="none")
            if class_values is not None:
                face_losses = face_losses + config.expectation_weight * expectation_error(logits, targets, class_values)
            loss = face_losses.mean() if face_weights is None else (face_losses * face_weights[indices]).mean()
            if extra_outputs:
                extra_loss = auxiliary_loss(outputs[:, num_classes:], train_race[indices], train_age[indices])
                loss = loss + config.auxiliary_weight * extra_loss
            if teacher is not None:
                soft = distillation_loss(logits, teacher(raw), config.distillation_temperature)
                loss = (1 - config.distillation_weight) * loss + config.distillation_weight * soft
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if averaged is not None:
                averaged.update(network)
            total_loss += float(loss.detach()) * len(indices)
            seen += len(indices)
        kept = network
        if averaged is not None:
            averaged.measure_batch_norm(data.images["train"][:BATCH_NORM_IMAGES], config.normalization)
            kept = averaged.network
        if extra_outputs:
            kept = without_auxiliary_outputs(kept, config.architecture, num_classes, config.widths)
        val = validation(class_predictor(kept, config.normalization))
        val_score = val["score"]
        if config.schedule == "plateau":
            scheduler.step(val_score)
        else:
            scheduler.step()
        state["epoch"] += 1
        if val_score > state["best_val_accuracy"]:
            state.update(best_val_accuracy=val_score, best_epoch=state["epoch"])
            torch.save(
                {
                    "network": kept.state_dict(),
                    "state": dict(state),
                    "normalization": config.normalization,
                    "widths": list(config.widths),
                },
                best_path,
            )
        record = {
            "epoch": state["epoch"],
            "train_loss": total_loss / max(seen, 1),
            "val_accuracy": val["accuracy"],
            "val": val,
            "learning_rate": optimizer.param_groups[0]["lr"],
            "seconds": time.monotonic() - started,
            "best_val_accuracy": state["best_val_accuracy"],
        }
        with open(run_directory / "log.jsonl", "a") as log:
            log.write(json.dumps(record) + "\n")
        LOGGER.info("%s", record)
        save_progress(
            last_path,
            network,
            optimizer,
            scheduler,
            generator,
            state,
            averaged=None if averaged is None else averaged.network.state_dict(),
        )
    return best_path


def save_progress(
    path: Path,
    network: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: object,
    generator: torch.Generator,
    state: dict,
    **more: object,
) -> None:
    """Writes what a resumed run needs (``last.pt``): weights, optimiser, schedule, random states, ``state``."""
    torch.save(
        {
            "network": network.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "state": state,
            **more,
        },
        path,
    )


def restore_progress(
    path: Path,
    network: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: object,
    generator: torch.Generator,
) -> dict | None:
    """Loads :func:`save_progress`'s ``path`` into the objects, if it exists; returns the checkpoint
    (its ``state`` and anything more saved), or None for a fresh run."""
    if not path.exists():
        return None
    checkpoint = torch.load(path, weights_only=False)
    network.load_state_dict(checkpoint["network"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    generator.set_state(checkpoint["generator"])
    torch.set_rng_state(checkpoint["torch_rng"])
    LOGGER.info("resumed %s at epoch %d", path.parent, checkpoint["state"]["epoch"])
    return checkpoint
