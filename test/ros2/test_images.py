"""ROS 2 camera messages to BGR with numpy and OpenCV (no cv_bridge wheel): every encoding ROS 1 accepts,
compressed frames, and what is refused. The raw path is the core's, checked in ROS 1 by test_ros_adapters."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_affect.image_messages import SUPPORTED_ENCODINGS, ImageError
from face_affect.ros2.node import ROS2_KIT

BGR = cv2.resize(np.random.default_rng(0).integers(0, 256, (12, 14, 3), dtype=np.uint8), (34, 24))
LOSSLESS = {
    "bgr8": BGR,
    "rgb8": cv2.cvtColor(BGR, cv2.COLOR_BGR2RGB),
    "bgra8": cv2.cvtColor(BGR, cv2.COLOR_BGR2BGRA),
    "rgba8": cv2.cvtColor(BGR, cv2.COLOR_BGR2RGBA),
}


def over_the_wire(message):
    return deserialize_message(serialize_message(message), type(message))


def raw(pixels: np.ndarray, encoding: str, padding: int = 0) -> Image:
    """An Image as a driver sends it, each row padded with ``padding`` bytes."""
    rows = pixels.reshape(pixels.shape[0], -1)
    padded = np.pad(rows, ((0, 0), (0, padding)))
    return Image(
        height=pixels.shape[0], width=pixels.shape[1], encoding=encoding, step=padded.shape[1], data=padded.tobytes()
    )


@pytest.mark.parametrize("encoding", sorted(SUPPORTED_ENCODINGS))
def test_every_encoding_that_ros1_accepts_becomes_bgr(encoding: str) -> None:
    channels = SUPPORTED_ENCODINGS[encoding].channels
    pixels = LOSSLESS.get(encoding)
    if pixels is None:  # mono, Bayer and 4:2:2 frames: the right size and type, values from the core's table
        pixels = np.random.default_rng(1).integers(0, 256, (24, 34, channels), dtype=np.uint8).squeeze()
    image = ROS2_KIT.images.to_bgr(over_the_wire(raw(pixels, encoding, padding=3)))
    assert image.shape == (24, 34, 3) and image.dtype == np.uint8
    if encoding in LOSSLESS:
        np.testing.assert_array_equal(image, BGR)


def test_outgoing_images_come_back_the_same() -> None:
    message = ROS2_KIT.images.to_message(BGR, "bgr8", Header(frame_id="camera"))
    np.testing.assert_array_equal(ROS2_KIT.images.to_bgr(over_the_wire(message)), BGR)
    grey = cv2.cvtColor(BGR, cv2.COLOR_BGR2GRAY)
    np.testing.assert_array_equal(
        ROS2_KIT.images.to_mono8(over_the_wire(ROS2_KIT.images.to_message(grey, "mono8", Header()))), grey
    )


def test_compressed_frames_are_decoded_without_cv_bridge() -> None:
    png = CompressedImage(format="png", data=cv2.imencode(".png", BGR)[1].tobytes())
    np.testing.assert_array_equal(ROS2_KIT.images.to_bgr(over_the_wire(png)), BGR)
    encoded = cv2.imencode(".jpg", BGR, [cv2.IMWRITE_JPEG_QUALITY, 95])[1]
    jpeg = CompressedImage(format="jpeg", data=encoded.tobytes())
    # What cv_bridge gives in ROS 1: OpenCV's decoding of the bytes, as BGR.
    np.testing.assert_array_equal(ROS2_KIT.images.to_bgr(over_the_wire(jpeg)), cv2.imdecode(encoded, cv2.IMREAD_COLOR))


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (CompressedImage(format="jpeg", data=b"not a jpeg"), "cannot decode 'jpeg' compressed image"),
        (CompressedImage(format="jpeg", data=b""), "cannot decode 'jpeg' compressed image"),
        (Image(height=4, width=4, encoding="32FC1", step=16, data=bytes(64)), "unsupported encoding '32FC1'"),
        (Image(height=0, width=0, encoding="bgr8", step=0, data=b""), "empty 0x0 image"),
        (Image(height=4, width=4, encoding="bgr8", step=12, data=bytes(10)), "malformed bgr8 image"),
        (Image(height=2, width=3, encoding="yuv422", step=6, data=bytes(12)), "width 3 is odd"),
    ],
)
def test_bad_frames_are_an_image_error_naming_the_problem(message, problem: str) -> None:
    with pytest.raises(ImageError, match=problem):
        ROS2_KIT.images.to_bgr(over_the_wire(message))
