"""Age as classes over ages read as their expectation (as DEX does), trained on all of UTKFace.

The network is the classifiers' mini-Xception with one output per age in :data:`AGE_BINS`;
its file's ``labels`` are those ages in years and the estimate is the expectation of the
probabilities (:func:`expected_age`). Each face's target is *two-hot*: its age split between
the two neighbouring bins so that the target's expectation is the age itself. The trainer
treats that target like FER+'s crowd votes (``vote_weight`` 1), so age needs no loop of its own.

The bins are dense where a year matters (children, where the robot must tell 12 from 14) and
sparse among adults; 30 of them keep the network under 100k parameters (each bin costs 1,153).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from face_affect.training.calibration import offsets_added
from face_affect.training.datasets import LabelledSplits
from face_affect.types import expectation_and_spread

AGE_BINS = (
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    8,
    10,
    12,
    14,
    16,
    18,
    20,
    23,
    26,
    29,
    32,
    36,
    40,
    45,
    50,
    55,
    60,
    65,
    70,
    76,
    83,
    90,
    100,
)
"""The classes' ages in years; older faces count as the last."""
CHILD_AGE = 13
"""Under this, a child (the children's archive is UTKFace's 0-12)."""
CHILD_OFFSETS = np.round(np.arange(0.0, 3.0001, 0.05), 2)
"""The offsets :func:`least_child_offset` tries, in log-probability: up to 20 times the odds of a child."""
ADULT_AGE = 18
NO_GENDER = -1
"""``extra["gender"]`` of a child: the gender labels are the adults' only."""


def two_hot(ages: np.ndarray, bins: tuple[int, ...] = AGE_BINS) -> np.ndarray:
    """``[N, K]`` targets whose expectation over ``bins`` is each age (clipped to the bins' range)."""
    centres = np.asarray(bins, np.float64)
    ages = np.clip(np.asarray(ages, np.float64), centres[0], centres[-1])
    upper = np.clip(np.searchsorted(centres, ages, side="right"), 1, len(centres) - 1)
    lower = upper - 1
    share = (ages - centres[lower]) / (centres[upper] - centres[lower])
    targets = np.zeros((len(ages), len(centres)), np.float32)
    rows = np.arange(len(ages))
    targets[rows, lower] = 1 - share
    targets[rows, upper] += share
    return targets


def expected_age(probabilities: np.ndarray, bins: tuple[float, ...] = AGE_BINS) -> np.ndarray:
    """Years: the expectation of ``[N, K]`` probabilities over the bins' ages (as the runtime reads it)."""
    return expectation_and_spread(probabilities, np.asarray(bins, np.float64))[0]


def age_standard_deviation(probabilities: np.ndarray, bins: tuple[float, ...] = AGE_BINS) -> np.ndarray:
    """Years: the spread of the probabilities around their expectation, the estimate's uncertainty."""
    return expectation_and_spread(probabilities, np.asarray(bins, np.float64))[1]


def age_splits(adults: LabelledSplits, children_path: str | Path) -> LabelledSplits:
    """UTKFace's adults (gender archive, with any training-only faces merged) and its children as age data.

    Labels are the nearest bin (for the trainer's bookkeeping), votes the two-hot targets, and
    ``extra`` keeps each face's age, race and gender (children: :data:`NO_GENDER`).
    """
    with np.load(children_path) as archive:
        children = {
            split: (archive[f"x_{split}"], archive[f"age_{split}"], archive[f"race_{split}"])
            for split in ("train", "val", "test")
        }
    images, labels, votes, extra = {}, {}, {}, {}
    for split, (child_images, child_ages, child_races) in children.items():
        adult_extra = adults.extra[split]
        if child_images.shape[1:] != adults.images[split].shape[1:]:
            raise ValueError(
                f"{children_path}: images {child_images.shape[1:]}, adults {adults.images[split].shape[1:]}"
            )
        ages = np.concatenate([adult_extra["age"], child_ages]).astype(np.int16)
        images[split] = np.concatenate([adults.images[split], child_images])
        votes[split] = two_hot(ages)
        labels[split] = votes[split].argmax(axis=1).astype(np.int64)
        extra[split] = {
            "age": ages,
            "race": np.concatenate([adult_extra["race"], child_races]).astype(np.int8),
            "gender": np.concatenate([adults.labels[split], np.full(len(child_ages), NO_GENDER)]),
        }
    return LabelledSplits(tuple(str(age) for age in AGE_BINS), images, labels, extra, votes)


def age_figures(estimates: np.ndarray, ages: np.ndarray) -> dict[str, float]:
    """MAE and the child/adult confusion of age estimates (years) against true ages."""
    ages = np.asarray(ages)
    children, adults = ages < CHILD_AGE, ages >= ADULT_AGE
    estimated_child = estimates < CHILD_AGE
    return {
        "mae": round(float(np.abs(estimates - ages).mean()), 3),
        "children_estimated_under_13": round(float(estimated_child[children].mean()), 4) if children.any() else 0.0,
        "adults_estimated_under_13": round(float(estimated_child[adults].mean()), 4) if adults.any() else 0.0,
    }


def least_child_offset(
    probabilities: np.ndarray, ages: np.ndarray, recall: float, bins: tuple[float, ...] = AGE_BINS
) -> float:
    """The least of :data:`CHILD_OFFSETS` that, added to the log-probabilities of the child classes
    (ages under :data:`CHILD_AGE`), gets ``recall`` of the children in ``ages`` estimated under 13
    (validation); the greatest if none does.

    The training's balancing weights move the prior between classes, and a child whose
    probabilities straddle 12 and 14 is read as 13, an adult. An offset of the child classes is the
    decision rule for "a child", chosen on validation as the thresholds of the smoothed labels are.
    """
    children = np.asarray(ages) < CHILD_AGE
    for offset in CHILD_OFFSETS:
        estimates = expected_age(offsets_added(probabilities, child_offsets(offset, bins)), bins)
        if (estimates[children] < CHILD_AGE).mean() >= recall:
            return float(offset)
    return float(CHILD_OFFSETS[-1])


def child_offsets(offset: float, bins: tuple[float, ...] = AGE_BINS) -> np.ndarray:
    """``[K]`` class offsets: ``offset`` for the child classes, 0 for the others."""
    return np.where(np.asarray(bins, np.float64) < CHILD_AGE, offset, 0.0).astype(np.float32)
