"""``face-affect bag`` and ``face_affect.recordings`` on real bags of the bundled photos, ROS 1 and ROS 2
(sqlite3 and MCAP), written here with ``rosbags``: every image answered once, in order, with its stamp;
the output bag read back; each kind of bad recording named, with exit status 1."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from conftest import run_cli
from face_affect.pipeline import FaceAffectPipeline
from face_affect.recordings import ANNOTATED_TOPIC, RESULTS_TOPIC, RESULTS_TYPE, analyse_recording
from recorded_bags import (
    COLOUR_TOPIC,
    COMPRESSED_TOPIC,
    DEPTH_TOPIC,
    GREY_TOPIC,
    PHOTOS,
    TEXT_TOPIC,
    WrittenImage,
    write_bag,
)

KINDS = ["ros1", "ros2-sqlite3", "ros2-mcap"]
EVERY_FRAME = ["--set", "track_confirm_hits=1", "--set", "detection_interval=0"]
"""Tracks confirmed at once and a full detection in every frame: each frame's faces are then image mode's."""


def bag_name(kind: str) -> str:
    return "trial.bag" if kind == "ros1" else f"trial_{kind}"


def make_bag(directory: Path, kind: str, depth: bool = False) -> tuple[Path, list[WrittenImage]]:
    path = directory / bag_name(kind)
    storage = kind.rsplit("-", 1)[-1]
    return path, write_bag(path, ros1=kind == "ros1", storage=storage, depth=depth)


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[WrittenImage]]]:
    directory = tmp_path_factory.mktemp("bags")
    return {kind: make_bag(directory, kind) for kind in KINDS}


def storage_file(path: Path) -> Path:
    """The file that holds a bag's messages: the .bag itself, or the .db3/.mcap in a ROS 2 bag's folder."""
    return path if path.is_file() else next(p for p in path.iterdir() if p.suffix in (".db3", ".mcap"))


def image_mode_boxes(pipeline: FaceAffectPipeline, pixels: np.ndarray) -> list[list[int]]:
    """The boxes ``image`` mode finds in these pixels (a grey frame as a file's decoder gives it: BGR)."""
    frame = cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR) if pixels.ndim == 2 else pixels
    return [face.box.as_list() for face in pipeline.process(frame)]


@pytest.mark.parametrize("kind", KINDS)
def test_every_image_message_is_answered_once_in_order_with_its_stamp(bags, kind: str):
    path, written = bags[kind]
    completed = run_cli("bag", str(path), *EVERY_FRAME)
    assert completed.returncode == 0, completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [(record["topic"], record["stamp_ns"]) for record in records] == [
        (image.topic, image.stamp_ns) for image in written
    ]
    assert f"image topics {COLOUR_TOPIC}, {GREY_TOPIC}" in completed.stderr  # said which, /chatter is not one
    pipeline = FaceAffectPipeline.from_settings({})
    for record, image in zip(records, written):
        assert (record["width"], record["height"]) == (image.pixels.shape[1], image.pixels.shape[0])
        seen = sorted(face["box"] for face in record["faces"] if face["detected"])  # not the coasting tracks
        assert seen == sorted(image_mode_boxes(pipeline, image.pixels)), image
    assert {sum(face["detected"] for face in record["faces"]) for record in records} == {2, 6}  # the photos' faces


def test_compressed_images_are_answered_as_image_mode_answers_the_file(tmp_path: Path):
    path = tmp_path / "compressed"
    written = [image for image in write_bag(path, ros1=False, compressed=True) if image.topic == COMPRESSED_TOPIC]
    completed = run_cli("bag", str(path), "--topic", COMPRESSED_TOPIC, *EVERY_FRAME)
    assert completed.returncode == 0, completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [record["stamp_ns"] for record in records] == [image.stamp_ns for image in written]
    pipeline = FaceAffectPipeline.from_settings({})
    for record, image in zip(records, written):
        seen = sorted(face["box"] for face in record["faces"] if face["detected"])
        assert seen == sorted(image_mode_boxes(pipeline, image.pixels))
        assert seen


def test_tracks_run_per_topic_in_message_time(bags):
    """The library call a notebook makes: each topic has its own tracks, confirmed on their third frame."""
    path, written = bags["ros1"]
    answers = list(analyse_recording(path, [GREY_TOPIC]))
    assert [answer.image.stamp_ns for answer in answers] == [i.stamp_ns for i in written if i.topic == GREY_TOPIC]
    faces = [len(answer.faces) for answer in answers]
    assert faces[:3] == [0, 0, 2]  # track_confirm_hits: 3 frames
    first_face = answers[2].faces[0]
    assert first_face.first_seen == pytest.approx(answers[0].image.stamp_ns / 1e9)  # message time, not wall time


@pytest.mark.parametrize("kind", KINDS)
def test_output_bag_holds_the_input_and_results_for_every_image(bags, kind: str, tmp_path: Path):
    path, written = bags[kind]
    output = tmp_path / ("out.bag" if kind == "ros1" else "out")
    completed = run_cli("bag", str(path), "--output", str(output), "--annotate-topic", COLOUR_TOPIC, "--quiet")
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.strip() == f"face_affect: {path}: image topics {COLOUR_TOPIC}, {GREY_TOPIC}"
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    if kind != "ros1":
        assert storage_file(output).suffix == storage_file(path).suffix  # the same storage
    with AnyReader([path]) as reader:
        original = [(c.topic, time, bytes(data)) for c, time, data in reader.messages()]
    with AnyReader([output]) as reader:
        assert reader.topics[RESULTS_TOPIC].msgtype == RESULTS_TYPE
        copied, results, annotated = [], [], []
        for connection, time, data in reader.messages():
            if connection.topic == RESULTS_TOPIC:
                results.append(reader.deserialize(data, connection.msgtype))
            elif connection.topic == ANNOTATED_TOPIC:
                annotated.append(reader.deserialize(data, connection.msgtype))
            else:
                copied.append((connection.topic, time, bytes(data)))
    assert copied == original
    stamps = [message.header.stamp.sec * 10**9 + message.header.stamp.nanosec for message in results]
    assert stamps == [image.stamp_ns for image in written]
    for message, record in zip(results, records):
        assert list(message.gender_labels) == ["woman", "man"]
        assert [face.track_id for face in message.faces] == [face["track_id"] for face in record["faces"]]
        assert [[f.roi.x_offset, f.roi.y_offset, f.roi.width, f.roi.height] for f in message.faces] == [
            face["box"] for face in record["faces"]
        ]
        for face, answer in zip(message.faces, record["faces"]):
            assert face.gender == (answer["gender"] or "")
            assert face.age == pytest.approx(answer["age"], abs=0.05)
    assert sum(len(message.faces) for message in results) > 0
    assert len(annotated) == sum(image.topic == COLOUR_TOPIC for image in written)
    assert all((m.encoding, m.width, m.height) == ("bgr8", 640, m.height) for m in annotated)


@pytest.mark.ros
def test_rosbag_of_ros1_reads_the_results_as_our_message(bags, tmp_path: Path):
    """Any reader decodes them: ROS 1's own rosbag, with the md5 of the message the nodes publish."""
    rosbag = pytest.importorskip("rosbag", reason="ROS 1's rosbag is not installed")
    messages = pytest.importorskip("face_affect.msg", reason="the generated messages are not built")
    output = tmp_path / "out.bag"
    assert run_cli("bag", str(bags["ros1"][0]), "--output", str(output), "--quiet").returncode == 0
    with rosbag.Bag(str(output)) as bag:
        connection = next(c for c in bag._connections.values() if c.topic == RESULTS_TOPIC)
        assert connection.datatype == "face_affect/FaceAffectArray"
        assert connection.md5sum == messages.FaceAffectArray._md5sum
        counts = [len(message.faces) for _, message, _ in bag.read_messages(topics=[RESULTS_TOPIC])]
    assert len(counts) == len(bags["ros1"][1]) and max(counts) >= 6


def test_without_a_bag_the_error_names_the_path(tmp_path: Path):
    jpeg = tmp_path / "photo.bag"
    shutil.copy(PHOTOS[0], jpeg)
    folder = tmp_path / "folder"
    folder.mkdir()
    cases = {
        tmp_path / "missing.bag": "not found",
        jpeg: "not a bag (a ROS 1 bag is a .bag file, a ROS 2 bag a folder with metadata.yaml",
        PHOTOS[0]: "not a bag (a ROS 1 bag is a .bag file, a ROS 2 bag a folder with metadata.yaml",
        folder: "not a ROS 2 bag (no metadata.yaml and no one .db3 or .mcap file)",
    }
    for path, message in cases.items():
        completed = run_cli("bag", str(path))
        assert completed.returncode == 1, path
        assert completed.stdout == ""
        assert completed.stderr.startswith(f"face_affect: {path}: {message}"), completed.stderr
        assert "Traceback" not in completed.stderr


def test_a_topic_that_is_not_there_names_the_topics_that_are(bags):
    path, _ = bags["ros2-sqlite3"]
    completed = run_cli("bag", str(path), "--topic", "/camera/rgb/image_raw")
    assert completed.returncode == 1 and completed.stdout == ""
    assert completed.stderr.strip() == (
        f"face_affect: {path}: no topic /camera/rgb/image_raw; topics: {COLOUR_TOPIC} (sensor_msgs/msg/Image), "
        f"{GREY_TOPIC} (sensor_msgs/msg/Image), {TEXT_TOPIC} (std_msgs/msg/String)"
    )
    completed = run_cli("bag", str(path), "--topic", TEXT_TOPIC)
    assert completed.returncode == 1
    assert f"{TEXT_TOPIC} is std_msgs/msg/String, not sensor_msgs/Image or CompressedImage" in completed.stderr


def test_a_refused_encoding_is_named_once_and_the_other_images_are_answered(tmp_path: Path):
    path, written = make_bag(tmp_path, "ros1", depth=True)
    completed = run_cli("bag", str(path), "--topic", COLOUR_TOPIC, "--topic", DEPTH_TOPIC)
    assert completed.returncode == 1
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [record["stamp_ns"] for record in records] == [i.stamp_ns for i in written if i.topic == COLOUR_TOPIC]
    errors = [line for line in completed.stderr.splitlines() if line.startswith("face_affect:")]
    assert len(errors) == 2, completed.stderr
    assert re.fullmatch(
        rf"face_affect: {DEPTH_TOPIC}: image at [\d.]+ s skipped: unsupported encoding '16UC1'; supported: bgr8, .*",
        errors[0],
    )
    assert errors[1] == f"face_affect: {DEPTH_TOPIC}: {len(records)} images skipped"


@pytest.mark.parametrize("kind", KINDS)
def test_a_cut_short_bag_is_answered_up_to_the_cut_then_says_where_it_stopped(bags, kind: str, tmp_path: Path):
    source, written = bags[kind]
    path = tmp_path / source.name
    if source.is_dir():
        path.mkdir()
        shutil.copy(source / "metadata.yaml", path)
    data = storage_file(source).read_bytes()
    (path / storage_file(source).name if source.is_dir() else path).write_bytes(data[: len(data) * 6 // 10])
    output = tmp_path / ("out.bag" if kind == "ros1" else "out")
    completed = run_cli("bag", str(path), "--output", str(output))
    assert completed.returncode == 1
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    answered = [(record["topic"], record["stamp_ns"]) for record in records]
    assert 0 < len(answered) < len(written)
    assert answered == [(image.topic, image.stamp_ns) for image in written[: len(answered)]]
    # 60% of the bytes: the images are nearly all of them, so about 60% of the images are readable.
    assert len(answered) >= len(written) // 2 - 1, (len(answered), len(written))
    assert f"face_affect: {path}: its index is unreadable (" in completed.stderr  # then read from the start
    assert re.search(
        rf"face_affect: {path}: damaged or cut short, stopped after \d+ messages, at [\d.]+ s", completed.stderr
    )
    with AnyReader([output]) as reader:  # what was written is kept, as a complete bag
        assert reader.topics[RESULTS_TOPIC].msgcount == len(answered)


def test_recordings_that_did_not_finish_are_read(bags, tmp_path: Path):
    """What a killed recorder leaves: ROS 1's NAME.bag.active (no index), rosbag2's folder without metadata.yaml."""
    source, written = bags["ros1"]
    active = tmp_path / "trial.bag.active"
    data = source.read_bytes()
    active.write_bytes(data[: len(data) * 8 // 10])
    completed = run_cli("bag", str(active), "--quiet")
    assert completed.returncode == 1
    answered = [json.loads(line)["stamp_ns"] for line in completed.stdout.splitlines()]
    assert 0 < len(answered) < len(written)
    assert answered == [image.stamp_ns for image in written[: len(answered)]]
    assert "not named .bag, so read without its index" in completed.stderr
    source, written = bags["ros2-mcap"]
    folder = tmp_path / "unfinished"
    folder.mkdir()
    shutil.copy(storage_file(source), folder)
    completed = run_cli("bag", str(folder), "--quiet")
    assert completed.returncode == 0, completed.stderr
    assert [json.loads(line)["stamp_ns"] for line in completed.stdout.splitlines()] == [i.stamp_ns for i in written]
