"""Groups of people for fair training and reporting: age band × gender × race (UTKFace).

The gender model met its overall figure while misgendering older women (84% of them).
Training weights each face by how rare its group is, and selection can keep the epoch whose
worst validation group is best, rather than the best mean. The same groups make the model
card's table, so training and reporting cannot disagree on what a group is.
"""

from __future__ import annotations

import numpy as np

from face_affect.training.datasets import GENDER_CLASSES

UTKFACE_RACES = ("White", "Black", "Asian", "Indian", "Others")
"""UTKFace race codes 0-4."""
FAIRNESS_AGE_BANDS = ((13, 19), (20, 39), (40, 59), (60, 200))
"""The age bands of the fairness acceptance (adults' gender data starts at 13)."""
MINIMUM_GROUP_FACES = 50
"""A reported group (band × gender, race × gender) smaller than this is too noisy to select on:
one face is two points of a 50-face group."""
JUDGED_GROUP_FACES = 60
"""Issue 32 judges the groups of at least this many test faces, at the point estimate."""


def age_band_index(ages: np.ndarray) -> np.ndarray:
    """Index into :data:`FAIRNESS_AGE_BANDS` per age; ages below the first band count in it."""
    upper_edges = np.array([high for _, high in FAIRNESS_AGE_BANDS[:-1]])
    return np.searchsorted(upper_edges, np.asarray(ages), side="left")


def band_name(index: int) -> str:
    low, high = FAIRNESS_AGE_BANDS[index]
    return f"{low}+" if high >= 200 else f"{low}-{high}"


def training_groups(labels: np.ndarray, ages: np.ndarray, races: np.ndarray) -> np.ndarray:
    """One code per face for age band × gender × race: the cells that balancing weighs."""
    bands = age_band_index(ages)
    return (bands * len(UTKFACE_RACES) + np.asarray(races, np.int64)) * len(GENDER_CLASSES) + labels


def balancing_weights(groups: np.ndarray, power: float) -> np.ndarray:
    """Per-face loss weights ``count(group) ** -power``, scaled to mean 1.

    ``power`` 1 weighs every group alike, 0 every face alike; in between tempers the weight
    of tiny groups (a cell of 20 faces would otherwise weigh like one of 2,000, and its faces
    be learnt by heart).
    """
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    weights = counts[inverse].astype(np.float64) ** -power
    return (weights / weights.mean()).astype(np.float32)


def class_balance_within_sources(labels: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Per-face loss weights under which the classes of each source weigh alike, each source keeping its share.

    LFW is 83% men: unweighted, whatever marks a face as LFW's (its framing, its light) would
    also say "man". Weighted, a source says nothing about the class, while its faces still teach
    as much as their number. Mean 1.
    """
    labels, sources = np.asarray(labels), np.asarray(sources)
    weights = np.zeros(len(labels), np.float64)
    for source in np.unique(sources):
        in_source = sources == source
        classes, counts = np.unique(labels[in_source], return_counts=True)
        for label, count in zip(classes, counts):
            weights[in_source & (labels == label)] = in_source.sum() / (len(classes) * count)
    return weights.astype(np.float32)


def reported_groups(labels: np.ndarray, ages: np.ndarray, races: np.ndarray) -> dict[str, np.ndarray]:
    """Masks of the groups the model card reports: age band × gender and race × gender."""
    bands = age_band_index(ages)
    groups = {}
    for gender_code, gender in enumerate(GENDER_CLASSES):
        is_gender = labels == gender_code
        for band in range(len(FAIRNESS_AGE_BANDS)):
            groups[f"{gender} {band_name(band)}"] = is_gender & (bands == band)
        for race_code, race in enumerate(UTKFACE_RACES):
            groups[f"{gender} {race}"] = is_gender & (np.asarray(races) == race_code)
    return groups


def accuracy_by_reported_group(correct: np.ndarray, groups: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Count, accuracy and its binomial standard error per group."""
    table = {}
    for name, members in groups.items():
        count = int(members.sum())
        if count:
            accuracy = float(correct[members].mean())
            table[name] = {
                "count": count,
                "accuracy": round(accuracy, 4),
                "standard_error": round(float(np.sqrt(accuracy * (1 - accuracy) / count)), 4),
            }
    return table


def worst_group(table: dict[str, dict[str, float]], minimum: int = MINIMUM_GROUP_FACES) -> tuple[str, float]:
    """The least accurate group with at least ``minimum`` faces."""
    eligible = {name: row["accuracy"] for name, row in table.items() if row["count"] >= minimum}
    if not eligible:
        raise ValueError(f"no group has {minimum} faces")
    name = min(eligible, key=eligible.get)
    return name, eligible[name]
