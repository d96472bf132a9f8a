"""``face-affect bag`` and ``face_affect.recordings`` on real bags of the bundled photos, ROS 1 and ROS 2
(sqlite3 and MCAP), written here with ``rosbags``: every image answered once, in order, with its stamp;
the output bag read back; each kind of bad recording named, with exit status 1."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import struct
import tempfile
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from conftest import run_cli
from face_affect import recordings
from face_affect.bag_salvage import DamagedBagError, SalvagedBag
from face_affect.errors import RecordingError
from face_affect.pipeline import FaceAffectPipeline
from face_affect.recordings import (
    ANNOTATED_TOPIC,
    RESULTS_TOPIC,
    RESULTS_TYPE,
    Recording,
    RecordingWriter,
    analyse_recording,
)
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
            assert face.first_seen.sec + face.first_seen.nanosec * 1e-9 == pytest.approx(answer["first_seen"])
            probabilities = dict(zip(message.emotion_labels, face.emotion_probabilities))
            assert probabilities == pytest.approx(answer["emotion_probabilities"], abs=1e-6)
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


# Corrupted, not cut short: a bit flipped by a failing disk, a record half overwritten.


def ros1_fields(fields: dict[str, bytes | None]) -> bytes:
    """A record's header or a connection's data; a field that is ``None`` is left out."""
    return b"".join(
        struct.pack("<I", len(name) + 1 + len(value)) + name.encode() + b"=" + value
        for name, value in fields.items()
        if value is not None
    )


def ros1_record(header: dict[str, bytes], data: bytes = b"") -> bytes:
    """One record of https://wiki.ros.org/Bags/Format/2.0: header length, header fields, data length, data."""
    block = ros1_fields(header)
    return struct.pack("<I", len(block)) + block + struct.pack("<I", len(data)) + data


CHATTER_CONNECTION = {"op": b"\x07", "conn": struct.pack("<I", 0), "topic": b"/chatter"}
CHATTER_TYPE = {
    "topic": b"/chatter",
    "type": b"std_msgs/String",
    "md5sum": b"992ce8a1687cec8c8bd883ec73ca41d1",
    "message_definition": b"string data\n",
}


def chatter_bag(path: Path, connection: dict | None = None, kind: dict | None = None, **second: dict) -> Path:
    """A ROS 1 bag's records, built by hand: two ``/chatter`` messages, each in its chunk, the first with the
    connection. ``connection`` and ``kind`` replace fields of the connection record's header and data; ``second``
    those of the second message's record (``message``) and its chunk (``chunk``). No index, as a killed recorder."""

    def message(seconds: int, fields: dict) -> bytes:
        text = f"hello {seconds}".encode()
        header = {"op": b"\x02", "conn": struct.pack("<I", 0), "time": struct.pack("<II", seconds, 0), **fields}
        return ros1_record(header, struct.pack("<I", len(text)) + text)

    def chunk(records: bytes, fields: dict) -> bytes:
        header = {"op": b"\x05", "compression": b"none", "size": struct.pack("<I", len(records)), **fields}
        return ros1_record(header, records)

    first = ros1_record({**CHATTER_CONNECTION, **(connection or {})}, ros1_fields({**CHATTER_TYPE, **(kind or {})}))
    first += message(1, {})
    path.write_bytes(
        b"#ROSBAG V2.0\n" + chunk(first, {}) + chunk(message(2, second.get("message", {})), second.get("chunk", {}))
    )
    return path


def read_all(path: Path) -> list[int]:
    with Recording(path) as recording:
        return [message.time_ns for message in recording.messages([], everything=True)]


def test_a_hand_built_ros1_bag_is_read_without_its_index(tmp_path: Path):
    """The records the corruptions below damage, read whole when undamaged (so those tests test the damage)."""
    assert read_all(chatter_bag(tmp_path / "chatter.bag.active")) == [1_000_000_000, 2_000_000_000]


@pytest.mark.parametrize(
    "damage, reason",
    [
        ({"connection": {"conn": None}}, "a record without its conn field"),
        ({"connection": {"conn": b"\x00\x00"}}, "a record whose conn field has 2 bytes, not 4"),
        ({"connection": {"topic": b"/chat\xffter"}}, "a record whose topic is not UTF-8 text"),
        ({"kind": {"type": b"String"}}, "a connection record of type 'String', not PACKAGE/NAME"),
        ({"kind": {"type": b"std_msgs/\xc3"}}, "a record whose type is not UTF-8 text"),
        ({"kind": {"latching": b"yes"}}, "a malformed record (ValueError: "),
        ({"message": {"op": b""}}, "a record without a one-byte op code"),
        ({"message": {"time": b"\x01\x00\x00\x00"}}, "a message record whose time has 4 bytes, not 8"),
        ({"chunk": {"size": b"\x10\x00\x00"}}, "a record whose size field has 3 bytes, not 4"),
        ({"chunk": {"compression": b"\xfe"}}, "a record whose compression is not UTF-8 text"),
    ],
)
def test_a_corrupted_ros1_record_stops_the_reading_with_a_recording_error(tmp_path: Path, damage: dict, reason: str):
    path = chatter_bag(tmp_path / "chatter.bag.active", **damage)
    with pytest.raises(RecordingError) as raised:
        read_all(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: damaged or cut short, stopped "), message
    assert reason in message, message
    if "message" in damage or "chunk" in damage:  # the first message was read
        assert "stopped after 1 messages, at 1.000 s" in message


def test_a_ros1_bag_without_index_whose_connection_lacks_conn_is_not_a_readable_bag(tmp_path: Path):
    """Named .bag: rosbags finds no index, and the records from the start hold no topic."""
    path = chatter_bag(tmp_path / "chatter.bag", connection={"conn": None})
    with pytest.raises(RecordingError, match=rf"^{re.escape(str(path))}: not a readable bag \("):
        Recording(path)


def renamed_header_field(data: bytes, field: str, occurrence: int) -> bytes:
    """``data`` with the ``occurrence``-th record header field ``field`` (a uint32 or time) renamed, same length."""
    size = {"conn": 4, "time": 8}[field]
    marker = struct.pack("<I", len(field) + 1 + size) + field.encode() + b"="
    positions = [match.start() for match in re.finditer(re.escape(marker), data)]
    position = positions[occurrence] + 4
    return data[:position] + b"X" + data[position + 1 :]


def test_a_bit_flip_mid_bag_is_answered_up_to_it_and_the_output_kept(bags, tmp_path: Path):
    """A killed recorder's ROS 1 bag with one message record's header damaged half way: the images before it are
    answered and written, then the error names the bag, where it stopped and why; exit 1, no traceback."""
    source, written = bags["ros1"]
    path = tmp_path / "trial.bag.active"
    data = source.read_bytes()
    messages = len(re.findall(re.escape(struct.pack("<I", 13) + b"time="), data))
    path.write_bytes(renamed_header_field(data, "time", messages // 2))
    output = tmp_path / "out.bag"
    completed = run_cli("bag", str(path), "--output", str(output), "--quiet")
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    answered = [json.loads(line)["stamp_ns"] for line in completed.stdout.splitlines()]
    assert 0 < len(answered) < len(written)
    assert answered == [image.stamp_ns for image in written[: len(answered)]]
    assert re.search(
        rf"face_affect: {re.escape(str(path))}: damaged or cut short, stopped after \d+ messages, at [\d.]+ s "
        r"\(bag time\): a record without its time field",
        completed.stderr,
    ), completed.stderr
    with AnyReader([output]) as reader:
        assert reader.topics[RESULTS_TOPIC].msgcount == len(answered)


def test_an_mcap_channel_whose_topic_is_not_text_is_a_clear_error(bags, tmp_path: Path):
    """Its summary cut off too, so the records are read from the start: the first channel is unreadable."""
    source, _ = bags["ros2-mcap"]
    data = storage_file(source).read_bytes()
    topic = COLOUR_TOPIC.encode()
    position = data.index(struct.pack("<I", len(topic)) + topic) + 4
    path = tmp_path / "trial.mcap"
    path.write_bytes(data[:position] + b"\xff" + data[position + 1 : len(data) * 9 // 10])
    completed = run_cli("bag", str(path))
    assert completed.returncode == 1 and completed.stdout == ""
    assert "Traceback" not in completed.stderr
    assert completed.stderr.startswith(f"face_affect: {path}: "), completed.stderr


def test_an_mcap_record_length_with_a_high_bit_flipped_is_a_clear_error(bags, tmp_path: Path):
    """The first record's length asks for 2**62 bytes: not a read that fails for memory."""
    source, _ = bags["ros2-mcap"]
    data = bytearray(storage_file(source).read_bytes())
    data[8 + 1 + 7] |= 0x40  # magic, opcode, the length's top byte
    path = tmp_path / "trial.mcap"
    path.write_bytes(data[: len(data) * 9 // 10])
    with pytest.raises(RecordingError, match=rf"^{re.escape(str(path))}: not a readable bag \("):
        Recording(path)


def test_an_sqlite_message_of_a_topic_the_bag_lacks_is_damage(bags, tmp_path: Path):
    source, written = bags["ros2-sqlite3"]
    path = tmp_path / "bag.db3"
    shutil.copy(storage_file(source), path)
    with sqlite3.connect(path) as database:
        database.execute("UPDATE messages SET topic_id = 99 WHERE id = 5")
    database.close()
    bag = SalvagedBag(path)
    try:
        times = []
        with pytest.raises(DamagedBagError, match="a message of topic id 99, which its topics table lacks"):
            for _, time_ns, _ in bag.messages():
                times.append(time_ns)
        assert len(times) == 4
    finally:
        bag.close()


@pytest.fixture
def salvage_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the SQLite copies of damaged bags go for this test (``tempfile``'s folder)."""
    folder = tmp_path / "temporary"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_damaged_sqlite_bag_is_copied_without_reading_it_into_memory(bags, tmp_path: Path, salvage_folders: Path):
    """Robot bags are gigabytes: the copy that SQLite accepts is made by the file system, not through a bytes
    object (the peak of Python's allocations stays well under the bag's size), and removed when closed."""
    source, written = bags["ros2-sqlite3"]
    path = tmp_path / "bag.db3"
    data = storage_file(source).read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    del data
    largest_message = max(image.pixels.nbytes for image in written)
    tracemalloc.start()
    try:
        bag = SalvagedBag(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    try:
        assert bag.damage and bag.connections
        assert peak < path.stat().st_size / 2, (peak, path.stat().st_size)  # a bytes copy alone is the size
        assert peak < 2 * largest_message  # one row of the messages table at a time
        assert len(list(salvage_folders.iterdir())) == 1
    finally:
        bag.close()
    assert list(salvage_folders.iterdir()) == []


def test_a_damaged_sqlite_bag_without_topics_leaves_no_copy(bags, tmp_path: Path, salvage_folders: Path):
    source, _ = bags["ros2-sqlite3"]
    data = storage_file(source).read_bytes()
    page = int.from_bytes(data[16:18], "big")
    path = tmp_path / "bag.db3"
    path.write_bytes(data[:page] + bytes(len(data) // 2))  # the schema, then zeros: no table is readable
    with pytest.raises(RecordingError, match=rf"^{re.escape(str(path))}: not a readable bag"):
        Recording(path)
    assert list(salvage_folders.iterdir()) == []


@pytest.mark.parametrize("kind", KINDS)
def test_an_output_that_cannot_be_started_is_closed_and_removed(bags, kind: str, tmp_path: Path, monkeypatch):
    """Without our message definitions (a package installed without msg/), the results' connection fails after
    the bag was opened: the error names the output, and no half-written bag is left in its place."""
    empty = tmp_path / "no_definitions"
    empty.mkdir()
    monkeypatch.setattr(recordings, "MESSAGE_DEFINITIONS", empty)
    output = tmp_path / ("out.bag" if kind == "ros1" else "out")
    refused = rf"^{re.escape(str(output))}: cannot start the bag \(Type '{RESULTS_TYPE}' is unknown"
    with Recording(bags[kind][0]) as recording, pytest.raises(RecordingError, match=refused):
        RecordingWriter(output, recording)
    assert not output.exists()
