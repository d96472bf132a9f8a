"""Real bags of the bundled photos, written with ``rosbags`` as a robot's recorder would: ROS 1 and ROS 2.

Each photo is a camera's view for :data:`FRAMES_PER_PHOTO` frames at 15 Hz, on a bgr8 topic and a
mono8 one (rows padded, as some drivers send them), with a ``std_msgs/String`` topic between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag1 import Writer as Ros1Writer
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Ros2Writer
from rosbags.typesys import Stores, get_typestore

REPOSITORY = Path(__file__).resolve().parents[1]
PHOTOS = sorted((REPOSITORY / "data" / "frames").glob("*.jpg"))
FRAMES_PER_PHOTO = 3
COLOUR_TOPIC, GREY_TOPIC, TEXT_TOPIC = "/camera/color/image_raw", "/camera/mono/image_raw", "/chatter"
DEPTH_TOPIC = "/camera/depth/image_raw"
COMPRESSED_TOPIC = "/camera/color/image_raw/compressed"
START_NS = 1_700_000_000_123_456_789
PERIOD_NS = 1_000_000_000 // 15
GREY_PADDING = 3
"""Bytes of padding at the end of each mono8 row."""


@dataclass(frozen=True)
class WrittenImage:
    topic: str
    stamp_ns: int
    photo: Path
    pixels: np.ndarray
    """What the message holds, as a frame (BGR or grey)."""


def photo_frames() -> list[tuple[Path, np.ndarray, np.ndarray]]:
    return [
        (path, colour, cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY))
        for path in PHOTOS
        for colour in [cv2.imread(str(path))]
    ]


def write_bag(
    path: Path, ros1: bool, storage: str = "sqlite3", depth: bool = False, compressed: bool = False
) -> list[WrittenImage]:
    """A bag at ``path`` (``.bag`` for ROS 1, else a rosbag2 folder with ``storage``); returns its images in bag order.

    ``depth`` adds :data:`DEPTH_TOPIC`, a 16UC1 image per frame (an encoding we refuse), not among those returned;
    ``compressed`` adds :data:`COMPRESSED_TOPIC`, each colour frame as a JPEG (returned with the decoded pixels).
    """
    typestore = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.ROS2_HUMBLE)
    types = typestore.types
    if ros1:
        writer = Ros1Writer(path)
    else:
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        writer = Ros2Writer(path, version=8, storage_plugin=plugin)
    written = []
    with writer:
        colour_topic = writer.add_connection(COLOUR_TOPIC, "sensor_msgs/msg/Image", typestore=typestore)
        grey_topic = writer.add_connection(GREY_TOPIC, "sensor_msgs/msg/Image", typestore=typestore)
        text_topic = writer.add_connection(TEXT_TOPIC, "std_msgs/msg/String", typestore=typestore)
        compressed_topic = (
            writer.add_connection(COMPRESSED_TOPIC, "sensor_msgs/msg/CompressedImage", typestore=typestore)
            if compressed
            else None
        )
        depth_topic = (
            writer.add_connection(DEPTH_TOPIC, "sensor_msgs/msg/Image", typestore=typestore) if depth else None
        )
        serialize = typestore.serialize_ros1 if ros1 else typestore.serialize_cdr
        index = 0
        for photo, colour, grey in photo_frames():
            height, width = grey.shape
            padded = np.zeros((height, width + GREY_PADDING), np.uint8)
            padded[:, :width] = grey
            for _ in range(FRAMES_PER_PHOTO):
                stamp_ns = START_NS + index * PERIOD_NS
                stamp = types["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
                header_fields = {"seq": index} if ros1 else {}
                for connection, pixels, encoding, rows in (
                    (colour_topic, colour, "bgr8", colour.reshape(height, -1)),
                    (grey_topic, grey, "mono8", padded),
                ):
                    header = types["std_msgs/msg/Header"](stamp=stamp, frame_id="camera", **header_fields)
                    message = types["sensor_msgs/msg/Image"](
                        header=header,
                        height=height,
                        width=width,
                        encoding=encoding,
                        is_bigendian=0,
                        step=rows.shape[1],
                        data=rows.reshape(-1),
                    )
                    # Recorded 5 ms after the stamp, the colour camera's message first.
                    writer.write(connection, stamp_ns + 5_000_000, serialize(message, "sensor_msgs/msg/Image"))
                    written.append(WrittenImage(connection.topic, stamp_ns, photo, pixels))
                if compressed_topic is not None:
                    jpeg = cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].reshape(-1)
                    message = types["sensor_msgs/msg/CompressedImage"](
                        header=types["std_msgs/msg/Header"](stamp=stamp, frame_id="camera", **header_fields),
                        format="jpeg",
                        data=jpeg,
                    )
                    writer.write(
                        compressed_topic, stamp_ns + 5_200_000, serialize(message, "sensor_msgs/msg/CompressedImage")
                    )
                    written.append(
                        WrittenImage(COMPRESSED_TOPIC, stamp_ns, photo, cv2.imdecode(jpeg, cv2.IMREAD_COLOR))
                    )
                if depth_topic is not None:
                    message = types["sensor_msgs/msg/Image"](
                        header=types["std_msgs/msg/Header"](stamp=stamp, frame_id="depth", **header_fields),
                        height=height,
                        width=width,
                        encoding="16UC1",
                        is_bigendian=0,
                        step=width * 2,
                        data=np.full(height * width * 2, 7, np.uint8),
                    )
                    writer.write(depth_topic, stamp_ns + 5_500_000, serialize(message, "sensor_msgs/msg/Image"))
                text = types["std_msgs/msg/String"](data=f"frame {index}")
                writer.write(text_topic, stamp_ns + 6_000_000, serialize(text, "std_msgs/msg/String"))
                index += 1
    return written
