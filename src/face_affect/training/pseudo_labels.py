"""Cross-dataset pseudo-labels: teachers label each training face for the tasks its source lacks.

FER-2013 has faces of every age, pose, light and expression but no gender or age; UTKFace and LFW
have gender (and age) but no emotion. Teacher files (the runtime's ONNX files: a single-task file
contributes its task, a multi-head file each of its heads; several teachers of a task are averaged,
an ensemble) label every face of ``train-heads``' training set as the trunk sees it. Only confident
labels are kept, and the three-headed student learns them beside the real labels under its strong
augmentation (noisy student: Xie, Luong, Hovy and Le, 2020).

Each teacher sees a face the way the runtime shows it a detector crop: cut to the teacher's own
``crop_margin`` from the face's framing (:func:`~face_affect.training.framing.reframed`, edges
replicated as :func:`~face_affect.cropping.crop_face` replicates them), then resized to its input by
:func:`~face_affect.cropping.to_model_input`. The probabilities are the files' own, calibration
included, so a confidence threshold means what the runtime's ``<task>_min_confidence`` means.

What is kept: emotion and gender where the ensemble's largest probability reaches a threshold
(gender on adults only, below); age where the ensemble is sure whether the face is a child (its
probability of an age under 13 is at least ``min_confidence_child`` or at most one minus it), and
optionally where the spread (standard deviation) of its age distribution is at most
``max_age_spread`` years. Not the spread by default:
the spread grows with the age, so a limit on it keeps children rather than adults. With the shipped
age file at 10 years, 25.8% of the FER-2013 faces kept were children under 13 against 14.7% by the
child rule alone (the file estimates 15.7% of all FER-2013 faces under 13): a prior moved towards
children, against the age head's child rule (adults estimated under 13 at most 3%).

No child gets a gender label: the gender files learnt from adults only (UTKFace's children have no
gender), and the shipped one calls children women. Of the 1,961 UTKFace children it labelled at 0.9,
96.3% were "woman"; of the FER-2013 faces the age file takes for children, 88.6% (52.7% of those it
takes for adults). A child is a face whose own age is under 13 or, without one, whose teachers give
an age under 13 a probability of one half or more (no age teacher: only the faces' own ages count).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from face_affect.classifiers import OnnxClassifier, run_heads
from face_affect.cropping import to_model_input
from face_affect.training.age import CHILD_AGE
from face_affect.training.framing import reframed
from face_affect.types import Margins, expectation_and_spread, numeric_labels

TEACHER_BATCH = 512


@dataclass(frozen=True)
class PseudoThresholds:
    """Which teacher labels are kept (defaults measured on the shipped files' validation splits)."""

    min_confidence_emotion: float = 0.6
    """The shipped emotion file keeps 53% of FER-2013 validation at 0.6, 80.8% of them right (62.7% of all)."""
    min_confidence_gender: float = 0.9
    """The runtime's ``gender_min_confidence``: the shipped gender file keeps 88% of UTKFace validation, 98.5% right."""
    min_confidence_child: float = 0.9
    """Age: how sure the teachers must be that a face is a child (under 13), or an adult. The shipped age file,
    on UTKFace's training faces as the trunk sees them, estimates 0.38% of the adults under 13, 0.06% of those it
    is this sure of (78% of the FER-2013 faces)."""
    max_age_spread: float | None = None
    """Age: years of spread (standard deviation) at most; None: no limit. At 10 the shipped age file keeps 85% of
    UTKFace validation (MAE 4.11 against 4.92 for all), but mostly its young faces (module docstring)."""


@dataclass
class PseudoLabels:
    """Per task, the teachers' mean probabilities ``[N, K]`` of every training face and which are kept."""

    probabilities: dict[str, np.ndarray]
    kept: dict[str, np.ndarray]
    fingerprint: dict
    teachers: list[str]
    thresholds: PseudoThresholds

    def counts(self) -> dict[str, dict[str, int]]:
        """Per task, the faces kept in each source of the training set (its blocks, in order)."""
        counts = {}
        for task, kept in self.kept.items():
            start, per_source = 0, {}
            for source, count in self.fingerprint["sources"].items():
                per_source[source] = int(kept[start : start + count].sum())
                start += count
            counts[task] = per_source
        return counts

    def description(self) -> dict:
        """What a run and its exported file record of the labels it learnt from."""
        return {
            "teachers": self.teachers,
            "thresholds": asdict(self.thresholds),
            "kept": {task: int(kept.sum()) for task, kept in self.kept.items()},
            "faces": self.fingerprint["count"],
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"probabilities_{task}": values for task, values in self.probabilities.items()}
        arrays.update({f"kept_{task}": values for task, values in self.kept.items()})
        with open(path, "wb") as file:  # np.savez would append .npz to another suffix
            np.savez_compressed(
                file,
                fingerprint=json.dumps(self.fingerprint),
                teachers=json.dumps(self.teachers),
                thresholds=json.dumps(asdict(self.thresholds)),
                **arrays,
            )


def training_fingerprint(images: np.ndarray, sources: dict[str, int]) -> dict:
    """What identifies a training set: its size, each source's count, the images' shape and a hash of their pixels."""
    return {
        "count": len(images),
        "sources": dict(sources),
        "image_shape": list(images.shape[1:]),
        "sha256": hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest(),
    }


def load_pseudo_labels(path: Path, images: np.ndarray, sources: dict[str, int]) -> PseudoLabels:
    """The labels of ``path``, checked to be of these training faces in this order (else ValueError)."""
    with np.load(path) as archive:
        fingerprint = json.loads(str(archive["fingerprint"]))
        tasks = [key.removeprefix("kept_") for key in archive.files if key.startswith("kept_")]
        labels = PseudoLabels(
            {task: archive[f"probabilities_{task}"] for task in tasks},
            {task: archive[f"kept_{task}"].astype(bool) for task in tasks},
            fingerprint,
            json.loads(str(archive["teachers"])),
            PseudoThresholds(**json.loads(str(archive["thresholds"]))),
        )
    expected = training_fingerprint(images, sources)
    if fingerprint != expected:
        differ = [key for key in expected if fingerprint.get(key) != expected[key]]
        raise ValueError(
            f"{path} labels other training faces ({', '.join(differ)} differ: the file has "
            f"{fingerprint['count']} faces {fingerprint['sources']} of {fingerprint['image_shape']}, these are "
            f"{expected['count']} {expected['sources']} of {expected['image_shape']}); run pseudo-label again "
            "with train-heads' data arguments and input size"
        )
    return labels


def same_classes(labels: tuple[str, ...], classes: tuple[str, ...]) -> bool:
    """Class names alike, ages compared as numbers (a file stores ``12.0`` for the class ``12``)."""
    numbers = numeric_labels(tuple(labels))
    return labels == classes if numbers is None else numbers == numeric_labels(tuple(classes))


def teacher_heads(path: Path, task_classes: dict[str, tuple[str, ...]], threads: int = 1) -> list[OnnxClassifier]:
    """The heads of a teacher file for the tasks in ``task_classes``, their classes checked to be the tasks'."""
    heads = [head for head in OnnxClassifier.heads(path, threads) if head.task in task_classes]
    if not heads:
        tasks = [head.task for head in OnnxClassifier.heads(path, threads)]
        raise ValueError(f"{path}: tasks {tasks}, none of {list(task_classes)}")
    for head in heads:
        if not same_classes(head.labels, task_classes[head.task]):
            raise ValueError(f"{path}: {head.task} classes {head.labels}, expected {task_classes[head.task]}")
    return heads


def teacher_probabilities(
    teachers: list[Path], images: np.ndarray, framing: Margins, task_classes: dict[str, tuple[str, ...]], threads: int
) -> dict[str, np.ndarray]:
    """Per task, the mean probabilities ``[N, K]`` of the teachers that have it, for grey ``images`` framed by
    ``framing``: each file sees them cut to its own ``crop_margin`` and resized to its input, as at run time."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for path in teachers:
        heads = teacher_heads(path, task_classes, threads)
        first = heads[0]  # the heads of one file share its input and crop
        moved = not np.allclose(first.crop_margin, framing, atol=1e-6)
        outputs: list[list[np.ndarray]] = [[] for _ in heads]
        for start in range(0, len(images), TEACHER_BATCH):
            crops = images[start : start + TEACHER_BATCH]
            if moved:
                crops = reframed(crops, framing, first.crop_margin)
            batch = to_model_input(list(crops), first.input_width, first.input_height)
            for values, output in zip(run_heads(heads, batch), outputs):
                output.append(values)
        for head, output in zip(heads, outputs):
            values = np.concatenate(output).astype(np.float64)
            sums[head.task] = sums.get(head.task, 0.0) + values
            counts[head.task] = counts.get(head.task, 0) + 1
    return {task: (sums[task] / counts[task]).astype(np.float32) for task in task_classes if task in sums}


def confident(
    task: str, probabilities: np.ndarray, classes: tuple[str, ...], thresholds: PseudoThresholds
) -> np.ndarray:
    """Which faces' teacher labels are kept (module docstring): the largest probability, or for age the
    child rule's certainty and the spread."""
    if task == "age":
        child = child_probability(probabilities, classes)
        sure = (child >= thresholds.min_confidence_child) | (child <= 1 - thresholds.min_confidence_child)
        if thresholds.max_age_spread is not None:
            ages = np.asarray(numeric_labels(tuple(classes)), np.float64)
            sure &= expectation_and_spread(probabilities, ages)[1] <= thresholds.max_age_spread
        return sure
    threshold = {"emotion": thresholds.min_confidence_emotion, "gender": thresholds.min_confidence_gender}[task]
    return probabilities.max(axis=1) >= threshold


def child_probability(probabilities: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """Per face, the probability of an age under :data:`~face_affect.training.age.CHILD_AGE`."""
    ages = np.asarray(numeric_labels(tuple(classes)), np.float64)
    return probabilities[:, ages < CHILD_AGE].sum(axis=1)


def pseudo_labels(
    images: np.ndarray,
    framing: Margins,
    sources: dict[str, int],
    lacking: dict[str, np.ndarray],
    children: np.ndarray,
    teachers: list[Path],
    thresholds: PseudoThresholds,
    task_classes: dict[str, tuple[str, ...]],
    threads: int = 1,
) -> PseudoLabels:
    """Teacher labels of the training ``images`` for each task of ``task_classes``, kept where the face is
    ``lacking`` the task's label and the teachers are confident (:func:`confident`); gender not on children
    (``children``: faces whose own age is under 13; without an age, the teachers' age decides)."""
    probabilities = teacher_probabilities(teachers, images, framing, task_classes, threads)
    kept = {
        task: lacking[task] & confident(task, values, task_classes[task], thresholds)
        for task, values in probabilities.items()
    }
    if "gender" in kept:
        if "age" in probabilities:
            estimated = child_probability(probabilities["age"], task_classes["age"]) >= 0.5
            children = np.where(lacking["age"], estimated, children)
        kept["gender"] &= ~children
    return PseudoLabels(
        probabilities, kept, training_fingerprint(images, sources), [str(path) for path in teachers], thresholds
    )
