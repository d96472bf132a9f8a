"""Command line: ``python -m face_affect image PATH...``, ``video SOURCE`` and ``bag RECORDING``.

``--config FILE``, ``--set KEY=VALUE``, ``--json`` and ``--quiet`` go before or after the subcommand.
``image`` prints one JSON object per image (JSON lines), each image on its own: no
tracking across unrelated photos. A file that cannot be read (missing, empty,
truncated, not an image) is named on stderr with the reason, the others are still
processed, and the exit status is 1. ``video`` tracks people across frames and prints
their smoothed estimates (:mod:`face_affect.video`). ``bag`` does the same for each image topic
of a ROS 1 or ROS 2 bag (:mod:`face_affect.recordings`). On a terminal, stderr shows their progress
(:mod:`face_affect.progress`); every command ends with a one-line summary there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from face_affect.drawing import Overlay, draw_results
from face_affect.errors import ModelError, RecordingError, SettingsError
from face_affect.pipeline import FaceAffectPipeline
from face_affect.progress import Progress
from face_affect.recordings import (
    ANNOTATED_TOPIC,
    RESULTS_TOPIC,
    RecordedFaces,
    Recording,
    RecordingAnalyser,
    RecordingWriter,
)
from face_affect.saliency import GuidedBackpropagation, explain_faces, face_panel
from face_affect.settings import Settings, load_settings, parse_assignment
from face_affect.types import FaceResult
from face_affect.video import VideoPipeline

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}
JPEG_START, JPEG_END, JPEG_SCAN = b"\xff\xd8", b"\xff\xd9", 0xDA


AFTER_COMMAND = "_after_command"
"""Suffix of the destinations of the shared options when given after the subcommand."""


def add_shared_options(parser: argparse.ArgumentParser, suffix: str = "") -> None:
    """``--config``, ``--set``, ``--json`` and ``--quiet``: accepted before and after the subcommand alike.

    argparse lets a subcommand's parser overwrite what the main parser read, so the copies
    after the subcommand write to their own destinations and :func:`parse_arguments` merges them.
    """
    parser.add_argument(
        "--config", dest=f"config{suffix}", help="settings file in the nodes' YAML format (default: built-in defaults)"
    )
    parser.add_argument(
        "--set",
        dest=f"set{suffix}",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one setting (repeatable), over --config",
    )
    parser.add_argument(
        "--json",
        dest=f"json{suffix}",
        action="store_true",
        help="JSON lines on stdout: the default and only format (accepted for older scripts)",
    )
    parser.add_argument(
        "--quiet",
        dest=f"quiet{suffix}",
        action="store_true",
        help="no progress bar and no summary on stderr (errors only)",
    )


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m face_affect", description=__doc__.splitlines()[0])
    add_shared_options(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    image = commands.add_parser("image", help="classify the faces in image files or folders")
    image.add_argument("paths", nargs="+", type=Path)
    image.add_argument("--annotate", type=Path, metavar="DIR", help="write annotated copies here")
    image.add_argument(
        "--saliency", type=Path, metavar="DIR", help="write a guided back-propagation image per face here"
    )
    image.add_argument(
        "--saliency-tasks",
        nargs="+",
        default=["emotion"],
        help="tasks whose predicted class --saliency explains (default: emotion)",
    )
    video = commands.add_parser("video", help="classify the faces in a video file or camera")
    video.add_argument("source", help="a video file, or a camera index such as 0")
    video.add_argument("--output", type=Path, help="write the annotated video here")
    video.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0: all)")
    bag = commands.add_parser("bag", help="classify the faces in the image topics of a ROS 1 or ROS 2 bag")
    bag.add_argument("recording", type=Path, help="a ROS 1 .bag file, or a ROS 2 bag (its folder, .db3 or .mcap)")
    bag.add_argument(
        "--topic",
        action="append",
        default=[],
        help="an image topic to analyse (repeatable; default: every sensor_msgs/Image and CompressedImage topic)",
    )
    bag.add_argument(
        "--output",
        type=Path,
        help=f"write a new bag here: the input's messages plus {RESULTS_TOPIC} (face_affect/FaceAffectArray)",
    )
    bag.add_argument(
        "--annotate-topic",
        metavar="TOPIC",
        help=f"with --output, also write this image topic's frames with the overlay as {ANNOTATED_TOPIC}",
    )
    for command in (image, video, bag):
        add_shared_options(command, AFTER_COMMAND)
    arguments = parser.parse_args(argv)
    after = {name: getattr(arguments, name + AFTER_COMMAND) for name in ("config", "set", "json", "quiet")}
    for name in after:
        delattr(arguments, name + AFTER_COMMAND)
    if arguments.config is not None and after["config"] is not None:
        parser.error("--config given twice (before and after the command)")
    arguments.config = arguments.config if after["config"] is None else after["config"]
    arguments.set = arguments.set + after["set"]  # in command-line order: later ones win
    arguments.json = arguments.json or after["json"]
    arguments.quiet = arguments.quiet or after["quiet"]
    if arguments.command == "bag" and arguments.annotate_topic and not arguments.output:
        parser.error("--annotate-topic needs --output")
    return arguments


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given; folders replaced by the image files inside them, sorted."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            expanded.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            expanded.append(path)
    return expanded


def jpeg_is_complete(data: bytes) -> bool:
    """Whether JPEG ``data`` reaches its end-of-image marker.

    The segments before the first scan are skipped by their lengths (an EXIF
    thumbnail inside them has an end marker of its own); after that, the
    compressed data stuffs every ``FF`` byte, so ``FF D9`` can only be the end.
    Bytes after the end marker (a motion photo's video) are allowed.
    """
    position = len(JPEG_START)
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return True  # a malformed header: left to the decoder
        marker = data[position + 1]
        if marker == JPEG_SCAN:
            return data.find(JPEG_END, position) >= 0
        if marker == 0xFF:  # fill byte before a marker
            position += 1
        elif 0xD0 <= marker <= 0xD9 or marker == 0x01:  # markers without a length
            position += 2
        else:
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return False  # cut short before the first scan


def read_image(path: Path) -> tuple[np.ndarray | None, str]:
    """The image file as a BGR frame, or ``None`` and why it cannot be read.

    OpenCV decodes a truncated JPEG without an error (libjpeg greys out the
    missing rows and prints a warning), which would classify half a picture as a
    whole one, so a JPEG must reach its end marker (:func:`jpeg_is_complete`). The
    other formats OpenCV reads fail to decode when truncated.
    """
    if not path.exists():
        return None, "not found"
    if not path.is_file():
        return None, "not a file"
    try:
        data = path.read_bytes()
    except OSError as error:
        return None, f"cannot read ({error.strerror})"
    if not data:
        return None, "empty file"
    if data.startswith(JPEG_START) and not jpeg_is_complete(data):
        return None, "truncated JPEG (no end-of-image marker)"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # EXIF orientation applied, as imread
    if image is None:
        return None, "not a readable image"
    return image, ""


def run_images(pipeline: FaceAffectPipeline, arguments: argparse.Namespace) -> int:
    failures = 0
    explainers: list[GuidedBackpropagation] = []
    if arguments.saliency:
        arguments.saliency.mkdir(parents=True, exist_ok=True)
        explainers = [
            GuidedBackpropagation(pipeline.classifiers[task]) for task in dict.fromkeys(arguments.saliency_tasks)
        ]
    if arguments.annotate:
        arguments.annotate.mkdir(parents=True, exist_ok=True)
    paths = expand_paths(arguments.paths)
    progress = Progress(len(paths), "image", arguments.quiet, tracked=False)
    try:
        for path in paths:
            failures += not process_image(pipeline, path, arguments, explainers, progress)
    finally:
        progress.close()
    return 1 if failures else 0


def process_image(
    pipeline: FaceAffectPipeline,
    path: Path,
    arguments: argparse.Namespace,
    explainers: list[GuidedBackpropagation],
    progress: Progress,
) -> bool:
    """One image file: its JSON line, annotated copy and saliency maps; ``False`` if it cannot be read."""
    image, problem = read_image(path)
    if image is None:
        progress.note(f"face_affect: {path}: {problem}")
        progress.skip()
        return False
    results = pipeline.process(image)
    record = {
        "image": str(path),
        "width": image.shape[1],
        "height": image.shape[0],
        "faces": [result.to_json() for result in results],
    }
    print(json.dumps(record), flush=True)
    if arguments.annotate:
        cv2.imwrite(str(arguments.annotate / f"{path.stem}_annotated.jpg"), draw_results(image, results))
    if explainers:
        crops = pipeline.face_crops(image, [result.box for result in results])
        for explainer in explainers:
            write_saliency(explainer, crops, results, pipeline.crop_margin, arguments.saliency, path.stem)
    progress.update(results)
    return True


def write_saliency(
    explainer: GuidedBackpropagation,
    crops: list[np.ndarray],
    results: list[FaceResult],
    crop_margin: float,
    directory: Path,
    stem: str,
) -> None:
    """``<stem>_face<i>_<task>_<class>.png``: the face, its guided map and the overlay."""
    own_crops, maps = explain_faces(explainer, crops, [result.box for result in results], crop_margin)
    for index, (crop, gradient, name) in enumerate(zip(own_crops, maps.gradients, maps.class_names)):
        panel = face_panel(crop, gradient)
        cv2.imwrite(str(directory / f"{stem}_face{index}_{explainer.task}_{name}.png"), panel)


def frame_time(capture: cv2.VideoCapture, frame_index: int, fps: float, camera: bool, started: float) -> float:
    """Seconds since the start: the wall clock for a camera, else the file's position (or frames / fps)."""
    if camera:
        return time.monotonic() - started
    position = capture.get(cv2.CAP_PROP_POS_MSEC)
    return position / 1000 if position > 0 else frame_index / fps


def run_video(pipeline: FaceAffectPipeline, settings: Settings, arguments: argparse.Namespace) -> int:
    """One JSON object per frame; each face is a track with its smoothed estimates (per-frame ones under ``frame``)."""
    camera = arguments.source.isdigit()
    capture = cv2.VideoCapture(int(arguments.source) if camera else arguments.source)
    if not capture.isOpened():
        print(f"face_affect: {arguments.source}: cannot open video source", file=sys.stderr)
        return 1
    video = VideoPipeline(pipeline, settings)
    fps = capture.get(cv2.CAP_PROP_FPS) or 15.0
    frames = 0 if camera else max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    if arguments.max_frames > 0:
        frames = min(frames, arguments.max_frames) if frames else arguments.max_frames
    progress = Progress(frames, "frame", arguments.quiet)
    writer = None
    overlay = Overlay()
    frame_index = 0
    started = time.monotonic()
    try:
        while arguments.max_frames <= 0 or frame_index < arguments.max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            timestamp = frame_time(capture, frame_index, fps, camera, started)
            results = video.process(frame, timestamp)
            record = {"frame": frame_index, "time": round(timestamp, 4), "faces": [r.to_json() for r in results]}
            print(json.dumps(record), flush=True)
            if arguments.output:
                if writer is None:
                    fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                    writer = cv2.VideoWriter(str(arguments.output), fourcc, fps, (frame.shape[1], frame.shape[0]))
                writer.write(overlay.draw(frame, results, timestamp))
            progress.update(results)
            frame_index += 1
    finally:
        capture.release()
        if writer is not None:
            writer.release()
        progress.close()
    return 0


def run_bag(pipeline: FaceAffectPipeline, settings: Settings, arguments: argparse.Namespace) -> int:
    """One JSON line per image message, in bag order (:func:`face_affect.recordings.analyse_recording`), and with
    ``--output`` a copy of the bag with the results. A damaged bag is answered up to the damage, then exit 1."""
    try:
        recording = Recording(arguments.recording)
    except RecordingError as error:
        print(f"face_affect: {error}", file=sys.stderr)
        return 1
    with recording:
        try:
            topics = recording.select(arguments.topic)
            if arguments.annotate_topic and arguments.annotate_topic not in topics:
                raise RecordingError(f"--annotate-topic {arguments.annotate_topic} is not among {', '.join(topics)}")
            writer = (
                RecordingWriter(arguments.output, recording, bool(arguments.annotate_topic))
                if arguments.output
                else None
            )
        except RecordingError as error:
            print(f"face_affect: {error}", file=sys.stderr)
            return 1
        if recording.salvaged:
            print(
                f"face_affect: {recording.path}: {recording.damage}; reading its records from the start",
                file=sys.stderr,
            )
        if not arguments.topic:
            print(f"face_affect: {recording.path}: image topics {', '.join(topics)}", file=sys.stderr)
        progress = Progress(recording.image_count(topics), "image", arguments.quiet)
        try:
            return analyse_bag(pipeline, settings, recording, topics, writer, arguments, progress)
        finally:
            if writer is not None:
                writer.close()
            progress.close()


def analyse_bag(
    pipeline: FaceAffectPipeline,
    settings: Settings,
    recording: Recording,
    topics: list[str],
    writer: RecordingWriter | None,
    arguments: argparse.Namespace,
    progress: Progress,
) -> int:
    analyser = RecordingAnalyser(pipeline, settings)
    labels = {task: classifier.labels for task, classifier in pipeline.classifiers.items()}
    skipped: Counter[str] = Counter()
    overlay = Overlay()  # of --annotate-topic: one camera
    try:
        for message, faces in analyser.messages(recording, topics, everything=writer is not None):
            if writer is not None:
                writer.copy(message)
            image = message.image
            if image is None:
                continue
            if image.frame is None:
                if not skipped[image.topic]:
                    progress.note(
                        f"face_affect: {image.topic}: image at {image.time_ns / 1e9:.3f} s skipped: {image.problem}"
                    )
                skipped[image.topic] += 1
                progress.skip()
                continue
            print(json.dumps(RecordedFaces(image, faces).to_json()), flush=True)
            if writer is not None:
                writer.write_results(image, faces, labels)
                if image.topic == arguments.annotate_topic:
                    writer.write_annotated(image, overlay.draw(image.frame, faces, image.seconds))
            progress.update(faces, image.topic)
    except RecordingError as error:
        progress.note(f"face_affect: {error}")
        return 1
    finally:
        for topic, count in skipped.items():
            if count > 1:
                progress.note(f"face_affect: {topic}: {count} images skipped")
    return 1 if skipped else 0


def cli_settings(arguments: argparse.Namespace) -> Settings:
    """``--config``, then each ``--set``, checked as the nodes check their parameters."""
    return load_settings(arguments.config, dict(parse_assignment(text) for text in arguments.set))


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        settings = cli_settings(arguments)
        pipeline = FaceAffectPipeline.from_settings(settings)
        unknown = [task for task in getattr(arguments, "saliency_tasks", []) if task not in pipeline.classifiers]
        if unknown:
            raise SettingsError(f"--saliency-tasks: no model for {', '.join(unknown)}; tasks: {pipeline.tasks}")
    except (ModelError, SettingsError) as error:
        print(f"face_affect: {error}", file=sys.stderr)
        return 2
    if arguments.command == "image":
        return run_images(pipeline, arguments)
    if arguments.command == "bag":
        return run_bag(pipeline, settings, arguments)
    return run_video(pipeline, settings, arguments)
