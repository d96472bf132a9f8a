"""Accuracy, per-class recall and a normalised confusion matrix image (the paper's Fig. 6)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


@dataclass
class Evaluation:
    class_names: tuple[str, ...]
    confusion: np.ndarray
    """Counts, rows = true class, columns = predicted class."""

    @property
    def count(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(self.count, 1))

    @property
    def recall(self) -> dict[str, float]:
        totals = self.confusion.sum(axis=1)
        return {
            name: float(self.confusion[index, index] / totals[index]) if totals[index] else float("nan")
            for index, name in enumerate(self.class_names)
        }

    def as_dict(self) -> dict[str, object]:
        return {
            "count": self.count,
            "accuracy": round(self.accuracy, 4),
            "recall": {name: round(value, 4) for name, value in self.recall.items()},
            "confusion": self.confusion.tolist(),
        }


def evaluate(probabilities: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]) -> Evaluation:
    predictions = probabilities.argmax(axis=1)
    confusion = np.zeros((len(class_names), len(class_names)), dtype=np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    return Evaluation(class_names, confusion)


def accuracy_by_group(
    probabilities: np.ndarray, labels: np.ndarray, groups: np.ndarray, group_names: dict[int, str]
) -> dict[str, dict[str, float]]:
    """Accuracy and count per group, e.g. per race or age band, for the fairness report."""
    correct = probabilities.argmax(axis=1) == labels
    report = {}
    for code, name in group_names.items():
        members = groups == code
        if members.any():
            report[name] = {"count": int(members.sum()), "accuracy": round(float(correct[members].mean()), 4)}
    return report


def write_confusion_image(evaluation: Evaluation, path: Path, title: str) -> None:
    """A row-normalised confusion matrix as a PNG, drawn with OpenCV (no plotting library at hand)."""
    names = evaluation.class_names
    rows = evaluation.confusion.sum(axis=1, keepdims=True)
    normalised = evaluation.confusion / np.maximum(rows, 1)
    cell, left, top = 70, 110, 70
    size = len(names)
    canvas = np.full((top + cell * size + 90, left + cell * size + 20, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(canvas, title, (10, 25), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    for row in range(size):
        for column in range(size):
            value = normalised[row, column]
            shade = int(255 * (1 - value))
            x, y = left + column * cell, top + row * cell
            cv2.rectangle(canvas, (x, y), (x + cell, y + cell), (255, shade, shade), cv2.FILLED)
            ink = (255, 255, 255) if value > 0.5 else (0, 0, 0)
            cv2.putText(canvas, f"{value:.2f}", (x + 14, y + 42), font, 0.55, ink, 1, cv2.LINE_AA)
        cv2.putText(canvas, names[row], (5, top + row * cell + 42), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    for column, name in enumerate(names):
        x = left + column * cell + 4
        cv2.putText(canvas, name[:8], (x, top + cell * size + 20), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(
        canvas, "rows: true class, columns: predicted", (10, canvas.shape[0] - 15), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), canvas)
