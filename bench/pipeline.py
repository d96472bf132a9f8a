"""Per-stage cost of the library pipeline on one core: p50 and p99 in ms, as a table and JSON.

Frames are moving 640x480 windows over the photos in ../shared/data/photos (a pan,
not one photo repeated), chosen to hold 0, 1 or 4 faces, and 1280x960 windows. The
same frames at 30 Hz also go through ``face_affect.video.VideoPipeline`` (tracking,
detection and classification on their schedules) with the default settings or
``--set KEY=VALUE``: its mean cost per frame is what a camera's stream costs.
Run on a quiet machine: ``PYTHONPATH=src .venv/bin/python bench/pipeline.py``.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import cv2
import numpy as np
from scenes import SCENES, moving_windows, percentiles
from std_msgs.msg import Header

from face_affect.classifiers import model_crops
from face_affect.cropping import to_model_input
from face_affect.drawing import draw_results
from face_affect.node_core.messages import affect_array
from face_affect.pipeline import FaceAffectPipeline
from face_affect.ros.images import ImageConverter
from face_affect.ros.messages import ROS1_KIT
from face_affect.saliency import GuidedBackpropagation
from face_affect.settings import SOURCE_ROOT, load_settings, parse_assignment
from face_affect.video import VideoPipeline

WARM_UP_FRAMES = 5


class Stopwatch:
    """``with Stopwatch() as watch: ...`` leaves the elapsed wall time in ``watch.seconds``."""

    def __init__(self) -> None:
        self.start = 0.0
        self.seconds = 0.0  # a stage skipped (no faces) costs nothing

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exception: object) -> None:
        self.seconds = time.perf_counter() - self.start


STAGES = ("conversion", "detection", "preprocessing", "emotion", "gender", "results message", "saliency", "drawing")
# The pipeline a robot runs on every frame; saliency and drawing only run while someone watches.
PIPELINE_STAGES = ("conversion", "detection", "preprocessing", "emotion", "gender", "results message")


def camera_message(frame: np.ndarray, converter: ImageConverter):
    """The frame as a camera driver would publish it (bgr8), to time the conversion back."""
    message = converter.to_message(frame, "bgr8", Header())
    message.data = bytes(message.data)  # what rospy hands a callback
    return message


def measure_scene(
    pipeline: FaceAffectPipeline, explainer: GuidedBackpropagation, frames: list[np.ndarray]
) -> dict[str, object]:
    stages: dict[str, list[float]] = {name: [] for name in (*STAGES, "total")}
    face_counts = []
    margin = pipeline.crop_margin
    converter = ImageConverter()
    messages = [camera_message(frame, converter) for frame in frames]
    for frame in frames[:WARM_UP_FRAMES]:  # first runs allocate onnxruntime and OpenCV buffers
        pipeline.process(frame)
    for message in messages:
        watches = {name: Stopwatch() for name in STAGES}
        with watches["conversion"]:
            frame = converter.to_bgr(message)
        with watches["detection"]:
            boxes = pipeline.detect(frame)
        with watches["preprocessing"]:
            crops = pipeline.face_crops(frame, boxes)
            batches = {}
            for classifier in (pipeline.classifiers["emotion"], pipeline.classifiers["gender"]):
                batches[classifier.task] = to_model_input(
                    model_crops(classifier, crops, boxes, margin), classifier.input_width, classifier.input_height
                )
        if boxes:
            with watches["emotion"]:
                pipeline.classifiers["emotion"].predict_batch(batches["emotion"])
            with watches["gender"]:
                pipeline.classifiers["gender"].predict_batch(batches["gender"])
            with watches["saliency"]:
                explainer.explain(model_crops(pipeline.classifiers["emotion"], crops, boxes, margin))
        results = pipeline.classify(frame, boxes)
        with watches["results message"]:
            affect_array(
                ROS1_KIT, message.header, results, pipeline.labels("gender"), pipeline.labels("emotion")
            ).serialize(io.BytesIO())
        with watches["drawing"]:
            draw_results(frame, results)
        for name, watch in watches.items():
            stages[name].append(watch.seconds)
        stages["total"].append(sum(watches[name].seconds for name in PIPELINE_STAGES))
        face_counts.append(len(boxes))
    report: dict[str, object] = {name: percentiles(samples) for name, samples in stages.items()}
    report["faces_per_frame"] = round(float(np.mean(face_counts)), 2)
    return report


def measure_per_face(pipeline: FaceAffectPipeline, repeats: int) -> dict[str, object]:
    """Both classifiers' cost per face, one face per run and eight faces per run."""
    rng = np.random.default_rng(0)
    report = {}
    for batch_size in (1, 8):
        samples = []
        emotion = rng.uniform(0, 255, (batch_size, 1, 48, 48)).astype(np.float32)
        gender = rng.uniform(0, 255, (batch_size, 1, 64, 64)).astype(np.float32)
        for _ in range(repeats):
            with Stopwatch() as watch:
                pipeline.classifiers["emotion"].predict_batch(emotion)
                pipeline.classifiers["gender"].predict_batch(gender)
            samples.append(watch.seconds / batch_size)
        report[f"both_models_per_face_batch_{batch_size}"] = percentiles(samples)
    return report


def measure_stream(pipeline: FaceAffectPipeline, settings, frames: list[np.ndarray]) -> dict[str, float]:
    """Mean and p99 ms per frame of the tracked video pipeline over ``frames`` at 30 Hz (twice: the
    pan and back), and the share of frames with a full-frame detection."""
    video = VideoPipeline(pipeline, settings)
    samples = []
    for index, frame in enumerate(frames + frames[::-1]):
        started = time.perf_counter()
        video.process(frame, index / 30)
        samples.append(time.perf_counter() - started)
    samples = samples[WARM_UP_FRAMES:]
    detection = video.detection
    return {
        "mean": round(1e3 * float(np.mean(samples)), 3),
        **percentiles(samples),
        "full_detection_share": round(
            detection.full_detections / (detection.full_detections + detection.redetections), 3
        ),
        "classified_faces_per_frame": round(video.classified_faces / len(frames) / 2, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="frames per scene")
    parser.add_argument("--detector", default=None, help="override the configured detector")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting for the stream")
    parser.add_argument("--output", type=Path, default=SOURCE_ROOT / "bench" / "results" / "pipeline.json")
    arguments = parser.parse_args()
    cv2.setNumThreads(1)
    overrides = {"onnx_threads": 1, **dict(map(parse_assignment, arguments.set))}
    if arguments.detector:
        overrides["detector"] = arguments.detector
    settings = load_settings(overrides=overrides)
    pipeline = FaceAffectPipeline.from_settings(settings)
    explainer = GuidedBackpropagation(pipeline.classifiers["emotion"])
    report: dict[str, object] = {"detector": type(pipeline.detector).__name__}
    for name, (photo, scale, centre, size) in SCENES.items():
        frames = moving_windows(photo, scale, centre, size, arguments.frames)
        report[name] = measure_scene(pipeline, explainer, frames)
        report[name]["stream"] = measure_stream(pipeline, settings, frames)
    report.update(measure_per_face(pipeline, repeats=arguments.frames * 5))
    print(f"detector: {report['detector']}, one thread, ms p50 / p99; total = {' + '.join(PIPELINE_STAGES)}")
    columns = (*STAGES, "total")
    print(f"{'scene':14} {'faces':>5} " + " ".join(f"{column:>15}" for column in columns))
    for name in SCENES:
        scene = report[name]
        cells = " ".join(f"{scene[column]['p50']:7.2f} / {scene[column]['p99']:5.2f}" for column in columns)
        print(f"{name:14} {scene['faces_per_frame']:5} {cells}")
    print(f"stream (VideoPipeline at 30 Hz, {' '.join(arguments.set) or 'default settings'}): ms per frame")
    for name in SCENES:
        stream = report[name]["stream"]
        print(
            f"{name:14} mean {stream['mean']:6.2f}  p50 {stream['p50']:6.2f}  p99 {stream['p99']:6.2f}  "
            f"full detections {stream['full_detection_share']:.0%}  classified faces/frame "
            f"{stream['classified_faces_per_frame']:.2f}"
        )
    report["stream_settings"] = dict(map(parse_assignment, arguments.set))
    for key in ("both_models_per_face_batch_1", "both_models_per_face_batch_8"):
        print(f"{key}: {report[key]['p50']:.3f} / {report[key]['p99']:.3f} ms")
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
