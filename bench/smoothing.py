"""Smoothing benchmark: per-frame against smoothed estimates on test faces rendered as camera clips.

Each FER-2013 PrivateTest face (emotion) and UTKFace test face (gender) becomes a clip of
1.5 s at 30 Hz: every frame the face moves by a sub-pixel amount and is scaled by up to
10%, with sensor noise, slight blur, brightness flicker and JPEG compression. The
classifier (the committed ONNX file, or ``--emotion-model`` / ``--gender-model``) labels
every frame; :class:`face_affect.smoothing.SmoothedAttribute` smooths them with each
time constant in ``--time-constants``. Reported per task and time constant:

- accuracy of single frames, and of the smoothed estimate at the end of each clip;
- label changes per second within a clip, per frame and smoothed (flicker), and at the default
  time constant and threshold the share of consecutive frame pairs whose stated label changes
  (a change to or from unsure counts);
- responsiveness: clips whose face is replaced halfway by one of another class (both
  labelled right by most of their own frames, so that model errors do not count as
  delay); the median and 90th percentile time until the smoothed label is the new class.

Then the risk-coverage table of each task: clips of validation and of test faces smoothed
with the task's default time constant; at each confidence threshold, the share of clips whose
final estimate is stated (coverage) and the accuracy of those stated. A threshold is chosen on
validation by :data:`THRESHOLD_RULES` (gender: the least threshold whose stated estimates are
98.5% right, so that 98% holds on faces not chosen on; emotion: the greatest that still states
80% of the clips) and reported on test beside the default ``*_min_confidence``.

Last, clips whose views turn poor: 1 s of the clear clip, then 2 s of one kind of poor view
(blurred, dimmed with sensor noise, shrunk to a 16 px face, or the head rolled by 40 degrees with
its keypoints), smoothed with equal weights (size and score only, ``view_weighting: false``) and
with :func:`face_affect.quality.view_quality`. Reported: the accuracy of the final estimate, the
share of clips still stated at the default threshold and how right those are, and label changes
(unsure counted as a label) per consecutive frame pair.

A model may be a single-task file or a multi-head file (the task's head is measured); each file
sees the faces in its own framing and at its input size, before the clips are rendered
(:func:`face_affect.training.framing.model_faces`, as ``evaluate-heads`` shows them).

``python bench/smoothing.py [--faces N]``, results in ``bench/results/smoothing.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "src"))

from face_affect.classifiers import OnnxClassifier  # noqa: E402
from face_affect.quality import view_quality  # noqa: E402
from face_affect.settings import Settings, resolve_model_path  # noqa: E402
from face_affect.smoothing import SmoothedAttribute, as_stated  # noqa: E402
from face_affect.training.datasets import LabelledSplits, load_dataset  # noqa: E402
from face_affect.training.framing import model_faces  # noqa: E402
from face_affect.types import FaceBox  # noqa: E402

SHARED = REPOSITORY.parent / "shared" / "data"
RATE = 30.0
CLIP_SECONDS = 1.5
NEVER = CLIP_SECONDS + 1 / RATE
"""The delay given to a change the smoothed label did not follow within the clip's second half."""
TASKS = {
    "emotion": (resolve_model_path(Settings().emotion_model), SHARED / "fer2013.npz"),
    "gender": (resolve_model_path(Settings().gender_model), SHARED / "gender_utkface.npz"),
}


def camera_frames(face: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` frames of one grey face as a camera sees a person who holds still: ``[count, H, W]`` uint8."""
    height, width = face.shape
    frames = np.empty((count, height, width), np.uint8)
    centre = ((width - 1) / 2, (height - 1) / 2)
    for index in range(count):
        matrix = cv2.getRotationMatrix2D(centre, rng.uniform(-2, 2), 1 + rng.uniform(-0.1, 0.1))
        matrix[:, 2] += rng.uniform(-1.0, 1.0, 2)
        frame = cv2.warpAffine(face, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.3, 1.0))
        frame = frame.astype(np.float32) * rng.uniform(0.85, 1.15) + rng.normal(0, 4, frame.shape)
        frame = np.clip(frame, 0, 255).astype(np.uint8)
        encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 90))])[1]
        frames[index] = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    return frames


def class_names(count: int) -> tuple[str, ...]:
    """Stand-in class names; not numbers, which the library would take for a quantity (ages)."""
    return tuple(f"class {index}" for index in range(count))


def label_changes_per_second(labels: np.ndarray) -> float:
    return float(np.count_nonzero(labels[1:] != labels[:-1]) / (len(labels) / RATE))


def smoothed_labels(probabilities: np.ndarray, time_constant: float, every: int = 1) -> np.ndarray:
    """The smoothed label after each frame, classifying every ``every``-th frame only
    (``classification_interval``); the label stands in between."""
    attribute = SmoothedAttribute(class_names(probabilities.shape[1]), time_constant)
    labels = np.empty(len(probabilities), np.int64)
    for index, values in enumerate(probabilities):
        if index % every == 0:
            attribute.add(values, index / RATE)
        labels[index] = int(np.argmax(attribute.probabilities()))
    return labels


THRESHOLDS = [round(0.05 * step, 2) for step in range(20)]
THRESHOLD_RULES = {"gender": ("accuracy", 0.985), "emotion": ("coverage", 0.80)}
"""How a task's threshold is chosen on validation: the least reaching this stated accuracy, or the
greatest keeping this coverage."""


def final_smoothed(clip: np.ndarray, time_constant: float) -> np.ndarray:
    """The smoothed probabilities after a clip's last frame."""
    attribute = SmoothedAttribute(class_names(clip.shape[1]), time_constant)
    for index, values in enumerate(clip):
        attribute.add(values, index / RATE)
    return attribute.probabilities()


def risk_coverage(confidences: np.ndarray, correct: np.ndarray) -> list[dict]:
    """Per threshold: the share stated (confidence at least the threshold) and their accuracy."""
    rows = []
    for threshold in THRESHOLDS:
        stated = confidences >= threshold
        accuracy = float(correct[stated].mean()) if stated.any() else float("nan")
        coverage = round(float(stated.mean()), 4)
        rows.append({"threshold": threshold, "coverage": coverage, "accuracy": round(accuracy, 4)})
    return rows


def chosen_threshold(task: str, rows: list[dict]) -> float:
    kind, target = THRESHOLD_RULES[task]
    if kind == "accuracy":
        return next((row["threshold"] for row in rows if row["accuracy"] >= target), THRESHOLDS[-1])
    return max(row["threshold"] for row in rows if row["coverage"] >= target)


def split_risk_coverage(
    task: str, classifier: OnnxClassifier, data: LabelledSplits, split: str, faces: int
) -> list[dict]:
    images, labels = data.images[split], data.labels[split]
    order = np.random.default_rng(3).permutation(len(images))[:faces]
    probabilities = clip_probabilities(classifier, images[order], int(CLIP_SECONDS * RATE), seed=4)
    final = np.stack([final_smoothed(clip, Settings().time_constant(task)) for clip in probabilities])
    return risk_coverage(final.max(axis=1), final.argmax(axis=1) == labels[order])


def measure_risk_coverage(task: str, classifier: OnnxClassifier, data: LabelledSplits, faces: int) -> dict:
    """Risk-coverage on validation (where the threshold is chosen) and test (where it is reported)."""
    tables = {split: split_risk_coverage(task, classifier, data, split, faces) for split in ("val", "test")}
    return {
        "rule": list(THRESHOLD_RULES[task]),
        "chosen_on_validation": chosen_threshold(task, tables["val"]),
        "default": Settings().min_confidence(task),
        "by_split": tables,
    }


def print_risk_coverage(task: str, report: dict) -> None:
    chosen, default = report["chosen_on_validation"], report["default"]
    print(f"  risk-coverage of the smoothed {task} (chosen on validation: {chosen}, default: {default}):")
    print(f"  {'threshold':>9} {'val cover':>10} {'val acc':>8} {'test cover':>11} {'test acc':>9}")
    for val, test in zip(report["by_split"]["val"], report["by_split"]["test"]):
        mark = " <- default" if val["threshold"] == default else ""
        print(
            f"  {val['threshold']:>9.2f} {val['coverage']:>10.1%} {val['accuracy']:>8.1%}"
            f" {test['coverage']:>11.1%} {test['accuracy']:>9.1%}{mark}"
        )


CANONICAL_KEYPOINTS = np.array([[0.34, 0.40], [0.66, 0.40], [0.50, 0.58], [0.50, 0.75], [0.15, 0.46], [0.85, 0.46]])
"""An upright frontal face's six keypoints, as fractions of its crop (right eye first, as BlazeFace)."""
CLEAR_SECONDS, POOR_SECONDS = 1.0, 2.0
POOR_VIEWS = ("blurred", "dimmed", "small", "rolled")


def poor_view(frame: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, FaceBox]:
    """One frame turned poor, and the box (size, keypoints) a detector would report for it."""
    height, width = frame.shape
    keypoints = CANONICAL_KEYPOINTS * [width, height]
    box_width = width
    if kind == "blurred":
        frame = cv2.GaussianBlur(frame, (0, 0), 2.5 * width / 48)
    elif kind == "dimmed":
        frame = np.clip(frame * 0.2 + rng.normal(0, 4, frame.shape), 0, 255).astype(np.uint8)
    elif kind == "small":
        frame = cv2.resize(cv2.resize(frame, (16, 16), interpolation=cv2.INTER_AREA), (width, height))
        box_width = 16
    elif kind == "rolled":
        matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), 40, 1.0)
        frame = cv2.warpAffine(frame, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
        keypoints = keypoints @ matrix[:, :2].T + matrix[:, 2]
    return frame, FaceBox(0, 0, box_width, box_width, 1.0, tuple(keypoints.ravel().round(1).tolist()))


def measure_poor_views(task: str, classifier: OnnxClassifier, data: LabelledSplits, faces: int) -> dict:
    """Equal against view-weighted evidence on clips whose views turn poor (see the module's docstring)."""
    images, labels = data.images["test"], data.labels["test"]
    order = np.random.default_rng(5).permutation(len(images))[:faces]
    images, labels = images[order], labels[order]
    settings = Settings()
    threshold, time_constant = settings.min_confidence(task), settings.time_constant(task)
    clear_frames, poor_frames = int(CLEAR_SECONDS * RATE), int(POOR_SECONDS * RATE)
    report = {}
    for kind in POOR_VIEWS:
        rng = np.random.default_rng(6)
        finals = {"equal": [], "weighted": []}
        changes = {"equal": [], "weighted": []}
        for face in images:
            clear = camera_frames(face, clear_frames + poor_frames, rng)
            frames, boxes = [], []
            upright = tuple((CANONICAL_KEYPOINTS * face.shape[::-1]).ravel().tolist())
            for index, frame in enumerate(clear):
                box = FaceBox(0, 0, face.shape[1], face.shape[0], 1.0, upright)
                if index >= clear_frames:
                    frame, box = poor_view(frame, kind, rng)
                frames.append(frame)
                boxes.append(box)
            probabilities = classifier.predict_batch(np.stack(frames)[:, None].astype(np.float32))
            for weighting in finals:
                attribute = SmoothedAttribute(classifier.labels, time_constant)
                qualities = [
                    view_quality(box, frame, settings.full_weight_face_width, weighting == "weighted")
                    for frame, box in zip(frames, boxes)
                ]
                states = stated_states(attribute, probabilities, threshold, qualities)
                finals[weighting].append((int(np.argmax(attribute.probabilities())), states[-1]))
                changes[weighting].append(np.count_nonzero(np.diff(states)) / (len(states) - 1))
        report[kind] = {}
        for weighting, final in finals.items():
            best, said_label = np.array(final).T
            right, said = best == labels, said_label >= 0
            report[kind][weighting] = {
                "final_accuracy": round(float(right.mean()), 4),
                "stated": round(float(said.mean()), 4),
                "stated_accuracy": round(float((said_label == labels)[said].mean()), 4) if said.any() else None,
                "label_changes_per_frame": round(float(np.mean(changes[weighting])), 4),
            }
    return report


def print_poor_views(task: str, report: dict) -> None:
    print(f"  clips whose views turn poor ({task}: 1 s clear, then 2 s poor), equal vs view-weighted evidence:")
    print(f"  {'view':>8} {'weights':>9} {'final acc':>10} {'stated':>7} {'stated acc':>11} {'changes/frame':>14}")
    for kind, rows in report.items():
        for weighting, row in rows.items():
            stated_accuracy = "-" if row["stated_accuracy"] is None else f"{row['stated_accuracy']:.1%}"
            print(
                f"  {kind:>8} {weighting:>9} {row['final_accuracy']:>10.1%} {row['stated']:>7.1%}"
                f" {stated_accuracy:>11} {row['label_changes_per_frame']:>14.2%}"
            )


def stated_states(
    attribute: SmoothedAttribute, probabilities: np.ndarray, threshold: float, qualities: list[float] | None = None
) -> list[int]:
    """Feeds a clip's frames (at :data:`RATE`, weighed by ``qualities``) to ``attribute``; after each, the
    index of the label stated as the library states it (:func:`as_stated`, with its hysteresis), -1 unsure."""
    states, label = [], ""
    for index, values in enumerate(probabilities):
        attribute.add(values, index / RATE, 1.0 if qualities is None else qualities[index])
        label = as_stated(attribute.attribute(), threshold, label).label
        states.append(attribute.labels.index(label) if label else -1)
    return states


def stated_label_changes(probabilities: np.ndarray, time_constant: float, threshold: float) -> tuple[float, float]:
    """The share of consecutive frame pairs whose stated label differs (unsure counts as a label): over the
    whole clip, and from the first stated label on (a young track's first statement is not flicker)."""
    attribute = SmoothedAttribute(class_names(probabilities.shape[1]), time_constant)
    states = stated_states(attribute, probabilities, threshold)
    changes = np.diff(states) != 0
    first = np.flatnonzero(np.array(states) >= 0)
    after = changes[first[0] :] if len(first) and first[0] < len(changes) else changes[:0]
    return float(changes.mean()), float(after.mean()) if len(after) else 0.0


def clip_probabilities(classifier: OnnxClassifier, faces: np.ndarray, frames: int, seed: int) -> np.ndarray:
    """``[faces, frames, classes]`` probabilities of every frame of every face's clip."""
    rng = np.random.default_rng(seed)
    batches = [camera_frames(face, frames, rng)[:, None].astype(np.float32) for face in faces]
    return np.stack([classifier.predict_batch(batch) for batch in batches])


def measure(
    task: str,
    classifier: OnnxClassifier,
    data: LabelledSplits,
    faces: int,
    time_constants: list[float],
    every: int = 1,
) -> dict:
    images, labels = data.images["test"], data.labels["test"]
    order = np.random.default_rng(0).permutation(len(images))[:faces]
    images, labels = images[order], labels[order]
    frames = int(CLIP_SECONDS * RATE)
    probabilities = clip_probabilities(classifier, images, frames, seed=1)
    per_frame = probabilities.argmax(axis=2)
    report = {
        "model": classifier.path.name,
        "classified_every_frames": every,
        "faces": int(faces),
        "frames_per_clip": frames,
        "single_frame_accuracy": round(float((per_frame == labels[:, None]).mean()), 4),
        "single_frame_changes_per_second": round(float(np.mean([label_changes_per_second(p) for p in per_frame])), 3),
        "by_time_constant": {},
    }
    # Halfway changes: face a, then face b of another class, each labelled right by most of its own frames.
    majority = np.array([np.bincount(row, minlength=probabilities.shape[2]).argmax() for row in per_frame])
    right = np.flatnonzero(majority == labels)
    rng = np.random.default_rng(2)
    pairs = []
    for first in rng.permutation(right)[: max(1, faces // 2)]:
        others = right[labels[right] != labels[first]]
        if len(others):
            pairs.append((first, int(rng.choice(others))))
    settings = Settings()
    time_constant, threshold = settings.time_constant(task), settings.min_confidence(task)
    flicker = np.array([stated_label_changes(clip, time_constant, threshold) for clip in probabilities])
    report["stated_label_changes_per_frame_pair"] = round(float(flicker[:, 0].mean()), 4)
    report["stated_label_changes_per_frame_pair_once_stated"] = round(float(flicker[:, 1].mean()), 4)
    for time_constant in time_constants:
        smoothed = np.stack([smoothed_labels(clip, time_constant, every) for clip in probabilities])
        delays = []
        for first, second in pairs:
            joined = np.concatenate([probabilities[first], probabilities[second]])
            after = smoothed_labels(joined, time_constant, every)[frames:]
            hits = np.flatnonzero(after == labels[second])
            delays.append(hits[0] / RATE if len(hits) else NEVER)
        report["by_time_constant"][str(time_constant)] = {
            "end_of_clip_accuracy": round(float((smoothed[:, -1] == labels).mean()), 4),
            "changes_per_second": round(float(np.mean([label_changes_per_second(row) for row in smoothed])), 3),
            "change_delay_median_s": round(float(np.median(delays)), 3),
            "change_delay_p90_s": round(float(np.percentile(delays, 90)), 3),
            "changes_never_followed": int(np.sum(np.array(delays) >= NEVER)),
            "change_pairs": len(pairs),
        }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=600, help="test faces per task")
    parser.add_argument(
        "--emotion-model", type=Path, default=TASKS["emotion"][0], help="or a multi-head file with an emotion head"
    )
    parser.add_argument(
        "--gender-model", type=Path, default=TASKS["gender"][0], help="or a multi-head file with a gender head"
    )
    parser.add_argument("--time-constants", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0])
    parser.add_argument(
        "--classification-interval", type=float, default=0.0, help="s between classifications (0: every frame)"
    )
    parser.add_argument("--poor-view-faces", type=int, default=300, help="test faces per task and kind of poor view")
    parser.add_argument("--output", type=Path, default=REPOSITORY / "bench" / "results" / "smoothing.json")
    arguments = parser.parse_args()
    cv2.setNumThreads(1)
    models = {"emotion": arguments.emotion_model, "gender": arguments.gender_model}
    results = {}
    defaults = Settings()
    for task, (_, data_path) in TASKS.items():
        every = max(1, round(arguments.classification_interval * RATE))
        classifier, data = model_faces(models[task], task, load_dataset(data_path))
        report = measure(task, classifier, data, arguments.faces, arguments.time_constants, every)
        results[task] = report
        print(
            f"{task} ({report['model']}, {report['faces']} clips of {report['frames_per_clip']} frames): single frames "
            f"{report['single_frame_accuracy']:.1%}, {report['single_frame_changes_per_second']:.2f} changes/s; "
            f"default time constant {defaults.time_constant(task)} s; at the defaults the stated label (unsure "
            f"counted) changes on {report['stated_label_changes_per_frame_pair']:.2%} of consecutive frame pairs, "
            f"{report['stated_label_changes_per_frame_pair_once_stated']:.2%} from its first statement on"
        )
        print(f"  {'tau s':>6} {'end acc':>8} {'changes/s':>10} {'delay p50':>10} {'delay p90':>10} {'never':>6}")
        for tau, row in report["by_time_constant"].items():
            print(
                f"  {tau:>6} {row['end_of_clip_accuracy']:>8.1%} {row['changes_per_second']:>10.3f}"
                f" {row['change_delay_median_s']:>10.3f} {row['change_delay_p90_s']:>10.3f}"
                f" {row['changes_never_followed']:>6}"
            )
        report["risk_coverage"] = measure_risk_coverage(task, classifier, data, arguments.faces)
        print_risk_coverage(task, report["risk_coverage"])
        report["poor_views"] = measure_poor_views(task, classifier, data, arguments.poor_view_faces)
        print_poor_views(task, report["poor_views"])
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
