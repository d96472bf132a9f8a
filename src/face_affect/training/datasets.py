"""Readers for the training data: our npz archives and the formats users hold.

Every reader returns a :class:`LabelledSplits`: grey uint8 images ``[N, H, W]``
and int64 labels per split (``train``, ``val``, ``test``), plus the class names in
label order. Gender labels are always 0 = woman, 1 = man.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
GENDER_CLASSES = ("woman", "man")
FER2013_USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
# UTKFace file names: age_gender_race_datetime.jpg, gender 0 = male, 1 = female.
UTKFACE_NAME = re.compile(r"^(\d+)_([01])_([0-4])_(\d+)")


@dataclass
class LabelledSplits:
    class_names: tuple[str, ...]
    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    extra: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    """Per-split side information, e.g. ``extra["test"]["race"]`` for fairness reports."""
    votes: dict[str, np.ndarray] = field(default_factory=dict)
    """Per-split crowd votes ``[N, K]`` in class order (FER+), zero rows where none apply."""


def rgb_to_grey(images: np.ndarray) -> np.ndarray:
    """RGB ``[N, H, W, 3]`` to grey ``[N, H, W]`` with OpenCV's weights; grey passes through."""
    if images.ndim == 3:
        return images
    return np.stack([cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) for image in images])


def load_fer2013_npz(path: str | Path) -> LabelledSplits:
    with np.load(path) as archive:
        splits = ("train", "val", "test")
        return LabelledSplits(
            class_names=tuple(str(name) for name in archive["class_names"]),
            images={split: archive[f"x_{split}"] for split in splits},
            labels={split: archive[f"y_{split}"].astype(np.int64) for split in splits},
        )


def load_fer2013_csv(path: str | Path) -> LabelledSplits:
    """Kaggle's ``fer2013.csv``: columns emotion, pixels (48*48 space-separated), Usage."""
    images: dict[str, list[np.ndarray]] = {split: [] for split in FER2013_USAGE_TO_SPLIT.values()}
    labels: dict[str, list[int]] = {split: [] for split in FER2013_USAGE_TO_SPLIT.values()}
    with open(path, newline="") as stream:
        for line_number, row in enumerate(csv.DictReader(stream), start=2):
            split = FER2013_USAGE_TO_SPLIT.get(row["Usage"])
            if split is None:
                raise ValueError(f"{path}:{line_number}: unknown Usage {row['Usage']!r}")
            pixels = np.array(row["pixels"].split(), dtype=np.uint8)
            if pixels.size != 48 * 48:
                raise ValueError(f"{path}:{line_number}: {pixels.size} pixels, expected 2304")
            images[split].append(pixels.reshape(48, 48))
            labels[split].append(int(row["emotion"]))
    return LabelledSplits(
        class_names=FER2013_CLASSES,
        images={s: np.array(v, dtype=np.uint8).reshape(-1, 48, 48) for s, v in images.items()},
        labels={s: np.array(v, dtype=np.int64) for s, v in labels.items()},
    )


def load_gender_npz(path: str | Path) -> LabelledSplits:
    with np.load(path) as archive:
        splits = ("train", "val", "test")
        return LabelledSplits(
            class_names=tuple(str(name) for name in archive["class_names"]),
            images={split: rgb_to_grey(archive[f"x_{split}"]) for split in splits},
            labels={split: archive[f"y_{split}"].astype(np.int64) for split in splits},
            extra={split: {"age": archive[f"age_{split}"], "race": archive[f"race_{split}"]} for split in splits},
        )


FERPLUS_TO_FER2013 = {"anger": 0, "disgust": 1, "fear": 2, "happiness": 3, "sadness": 4, "surprise": 5, "neutral": 6}
"""FER+ vote columns with a FER-2013 class; contempt, unknown and NF (not a face) have none."""


def load_ferplus_votes(path: str | Path, splits: LabelledSplits) -> LabelledSplits:
    """``splits`` (FER-2013) with the FER+ crowd votes (Barsoum et al., 2016) of each image.

    Votes are kept for rows whose pixels are the original ones (``aligned_*``) and whose
    most voted FER+ column has a FER-2013 class; other rows get zero votes, and training
    falls back to their FER-2013 label.
    """
    with np.load(path) as archive:
        columns = [str(name) for name in archive["columns"]]
        votes = {}
        for split in splits.images:
            raw = archive[f"votes_{split}"].astype(np.float32)
            if len(raw) != len(splits.images[split]):
                raise ValueError(f"{path}: {len(raw)} {split} rows, the images have {len(splits.images[split])}")
            mapped = np.zeros((len(raw), len(splits.class_names)), np.float32)
            for column, name in enumerate(columns):
                if name in FERPLUS_TO_FER2013:
                    mapped[:, FERPLUS_TO_FER2013[name]] = raw[:, column]
            usable = archive[f"aligned_{split}"] & (mapped.max(axis=1) >= raw.max(axis=1)) & (mapped.sum(axis=1) > 0)
            mapped[~usable] = 0
            votes[split] = mapped
    return LabelledSplits(splits.class_names, splits.images, splits.labels, splits.extra, votes)


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """The crowd's majority class per row, -1 where there are no votes (FER+ majority-vote accuracy)."""
    return np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), -1)


def with_extra_training_faces(
    path: str | Path, splits: LabelledSplits, place: Callable[[np.ndarray], np.ndarray] | None = None
) -> LabelledSplits:
    """``splits`` with the faces of a training-only archive (``gender_utkface_extra.npz``) added to ``train``.

    ``place`` puts the archive's images in the data set's framing (``face_affect.training.framing``).
    ``extra["train"]["source"]`` numbers where each training face came from: 0 the data set, then
    one number per archive added.
    """
    with np.load(path) as archive:
        names = tuple(str(name) for name in archive["class_names"])
        if names != splits.class_names:
            raise ValueError(f"{path}: classes {names}, the data set has {splits.class_names}")
        images, labels = rgb_to_grey(archive["x"]), archive["y"].astype(np.int64)
        extra_train = {key: archive[key] for key in ("age", "race") if key in archive.files}
    if images.shape[1:] != splits.images["train"].shape[1:]:
        raise ValueError(f"{path}: images {images.shape[1:]}, the data set has {splits.images['train'].shape[1:]}")
    if place is not None:
        images = place(images)
    sources = splits.extra.get("train", {}).get("source", np.zeros(len(splits.labels["train"]), np.int64))
    extra_train["source"] = np.full(len(labels), sources.max(initial=0) + 1, np.int64)
    merged_images = dict(splits.images, train=np.concatenate([splits.images["train"], images]))
    merged_labels = dict(splits.labels, train=np.concatenate([splits.labels["train"], labels]))
    merged_extra = dict(splits.extra)
    merged_extra["train"] = {
        key: np.concatenate([value, extra_train[key]])
        for key, value in {**splits.extra.get("train", {}), "source": sources}.items()
        if key in extra_train
    }
    return LabelledSplits(splits.class_names, merged_images, merged_labels, merged_extra, splits.votes)


def utkface_gender_to_ours(utkface_gender: int) -> int:
    """UTKFace codes 0 = male, 1 = female; we use 0 = woman, 1 = man."""
    return 1 - utkface_gender


def load_utkface_folder(
    folder: str | Path,
    size: int = 64,
    minimum_age: int = 13,
    seed: int = 0,
    fractions: tuple[float, float] = (0.8, 0.1),
) -> LabelledSplits:
    """A folder of UTKFace images named ``age_gender_race_datetime.jpg``.

    Files whose names do not parse are skipped; the images are shuffled with
    ``seed`` and split into train/val/test by ``fractions``.
    """
    records = []
    for path in sorted(Path(folder).iterdir()):
        match = UTKFACE_NAME.match(path.name)
        if match is None:
            continue
        age, gender, race = (int(match.group(index)) for index in (1, 2, 3))
        if age < minimum_age:
            continue
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            continue
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        records.append((image, utkface_gender_to_ours(gender), age, race))
    if not records:
        raise ValueError(f"{folder}: no readable UTKFace images (age_gender_race_date.jpg)")
    order = np.random.default_rng(seed).permutation(len(records))
    train_end = int(round(fractions[0] * len(records)))
    val_end = train_end + int(round(fractions[1] * len(records)))
    bounds = {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, len(records))}
    images, labels, extra = {}, {}, {}
    for split, (start, end) in bounds.items():
        chosen = [records[index] for index in order[start:end]]
        images[split] = np.array([r[0] for r in chosen], dtype=np.uint8).reshape(-1, size, size)
        labels[split] = np.array([r[1] for r in chosen], dtype=np.int64)
        extra[split] = {
            "age": np.array([r[2] for r in chosen], dtype=np.int16),
            "race": np.array([r[3] for r in chosen], dtype=np.int8),
        }
    return LabelledSplits(GENDER_CLASSES, images, labels, extra)


def load_dataset(path: str | Path) -> LabelledSplits:
    """Picks the reader by what ``path`` is: an npz archive, a Kaggle csv or an image folder."""
    path = Path(path)
    if path.is_dir():
        return load_utkface_folder(path)
    if path.suffix == ".csv":
        return load_fer2013_csv(path)
    if path.suffix == ".npz":
        with np.load(path) as archive:
            is_gender = "race_train" in archive.files
        return load_gender_npz(path) if is_gender else load_fer2013_npz(path)
    raise ValueError(f"{path}: expected an .npz archive, a fer2013.csv or a UTKFace folder")
