"""What decides which epoch is kept: figures on the validation split only.

``clean`` is the paper's rule, validation accuracy. ``robust`` also weighs the
camera corruptions of :mod:`face_affect.corruptions` (the robustness benchmark's table,
run on the validation split) and, where the data has crowd votes, FER+ majority-vote
accuracy: the model kept is the one best on average over all three, not the one that
is best on clean benchmark crops alone. ``worst_group`` (gender, UTKFace) keeps the epoch
whose least accurate group of people (:mod:`face_affect.training.groups`) is best, the mean
only breaking ties: a model that is right on average can still fail one group every time.
``age_mae`` (age) keeps the epoch with the least mean absolute error of the expected age.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from face_affect.corruptions import corrupted_sets
from face_affect.training.age import AGE_BINS, age_figures, expected_age
from face_affect.training.datasets import GENDER_CLASSES, LabelledSplits, majority_labels
from face_affect.training.groups import accuracy_by_reported_group, reported_groups, worst_group

SELECTIONS = ("clean", "robust", "worst_group", "age_mae")
TIE_BREAK = 1e-3
"""Weight of the mean accuracy in the ``worst_group`` score: it decides only between equal worst groups."""
CORRUPTED_FACES = 1200
"""Validation faces the corruptions are measured on each epoch: ten corrupted copies of all
3,589 FER-2013 faces would cost more than the epoch's training here."""
Predict = Callable[[np.ndarray], np.ndarray]
"""Grey uint8 crops ``[N, H, W]`` to class probabilities ``[N, K]`` (or predicted class indices ``[N]``)."""


def predicted_classes(output: np.ndarray) -> np.ndarray:
    return output.argmax(axis=1) if output.ndim == 2 else output


class ValidationScore:
    """Scores a network on the validation split; the corrupted copies are made once."""

    def __init__(self, data: LabelledSplits, selection: str, seed: int = 0) -> None:
        if selection not in SELECTIONS:
            raise ValueError(f"unknown selection {selection!r}; one of {SELECTIONS}")
        self.selection = selection
        self.images, self.labels = data.images["val"], data.labels["val"]
        self.ages = data.extra.get("val", {}).get("age")
        if selection == "age_mae" and self.ages is None:
            raise ValueError("age_mae selection needs the validation split's ages")
        subset = np.random.default_rng(seed).permutation(len(self.images))[:CORRUPTED_FACES]
        self.corrupted_labels = self.labels[subset]
        self.corrupted = corrupted_sets(self.images[subset], seed) if selection == "robust" else {}
        votes = data.votes.get("val")
        self.majority = majority_labels(votes) if votes is not None and selection == "robust" else None
        # Where the split has them (UTKFace), the worst group is logged whatever the selection.
        extra = data.extra.get("val", {})
        has_groups = "age" in extra and "race" in extra and tuple(data.class_names) == GENDER_CLASSES
        if selection == "worst_group" and not has_groups:
            raise ValueError("worst_group selection needs the validation split's age and race (UTKFace)")
        self.groups = reported_groups(self.labels, extra["age"], extra["race"]) if has_groups else {}

    def __call__(self, predict: Predict) -> dict[str, float]:
        """``accuracy`` (the labels'), and for ``robust`` the other figures and their mean, ``score``."""
        output = predict(self.images)
        predictions = predicted_classes(output)
        figures = {"accuracy": float((predictions == self.labels).mean())}
        if self.selection == "age_mae":
            if output.ndim != 2:
                raise ValueError("age_mae selection needs probabilities, not class indices")
            figures.update(age_figures(expected_age(output, AGE_BINS), self.ages))
            figures["score"] = -figures["mae"]
            return figures
        parts = [figures["accuracy"]]
        if self.majority is not None:
            voted = self.majority >= 0
            figures["ferplus_accuracy"] = float((predictions[voted] == self.majority[voted]).mean())
            parts.append(figures["ferplus_accuracy"])
        if self.corrupted:
            by_corruption = {
                name: float((predicted_classes(predict(images)) == self.corrupted_labels).mean())
                for name, images in self.corrupted.items()
            }
            figures["corrupted_mean"] = float(np.mean(list(by_corruption.values())))
            figures["corrupted_worst"] = min(by_corruption.values())
            parts.append(figures["corrupted_mean"])
        figures["score"] = float(np.mean(parts))
        if self.groups:
            name, accuracy = worst_group(accuracy_by_reported_group(predictions == self.labels, self.groups))
            figures.update(worst_group=name, worst_group_accuracy=accuracy)
        if self.selection == "worst_group":
            figures["score"] = figures["worst_group_accuracy"] + TIE_BREAK * figures["accuracy"]
        return figures
