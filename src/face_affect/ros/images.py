"""Camera messages to BGR arrays and back, with one CvBridge per node."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import rospy
from cv_bridge import CvBridge, CvBridgeError
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

# Encoding -> bytes per pixel. Bayer is what the Care-O-bot 3 Kinect publishes.
SUPPORTED_ENCODINGS = {
    "bgr8": 3,
    "rgb8": 3,
    "bgra8": 4,
    "rgba8": 4,
    "mono8": 1,
    "bayer_rggb8": 1,
    "bayer_bggr8": 1,
    "bayer_gbrg8": 1,
    "bayer_grbg8": 1,
}


class ImageError(ValueError):
    """A message that cannot be turned into an image; the text says why."""


class ImageConverter:
    def __init__(self) -> None:
        self.bridge = CvBridge()

    def to_bgr(self, message: Image | CompressedImage) -> np.ndarray:
        """Decodes a raw or compressed image into a BGR uint8 array; raises ImageError."""
        if isinstance(message, CompressedImage):
            return self._decode_compressed(message)
        check_raw_image(message)
        try:
            return self.bridge.imgmsg_to_cv2(message, desired_encoding="bgr8")
        except (CvBridgeError, TypeError, ValueError) as error:
            raise ImageError(f"cannot convert {message.encoding} image: {error}") from error

    def to_mono8(self, message: Image) -> np.ndarray:
        check_raw_image(message)
        try:
            return self.bridge.imgmsg_to_cv2(message, desired_encoding="mono8")
        except (CvBridgeError, TypeError, ValueError) as error:
            raise ImageError(f"cannot convert {message.encoding} image: {error}") from error

    def to_message(self, image: np.ndarray, encoding: str, header: Header) -> Image:
        message = self.bridge.cv2_to_imgmsg(image, encoding=encoding)
        message.header = header
        return message

    def _decode_compressed(self, message: CompressedImage) -> np.ndarray:
        try:
            image = self.bridge.compressed_imgmsg_to_cv2(message, desired_encoding="bgr8")
        except (CvBridgeError, TypeError, ValueError) as error:
            raise ImageError(f"cannot decode {message.format!r} compressed image: {error}") from error
        if image is None or image.size == 0:
            raise ImageError(f"cannot decode {message.format!r} compressed image ({len(message.data)} bytes)")
        return image


def check_raw_image(message: Image) -> None:
    """Rejects encodings we do not handle and data that does not fill the declared size."""
    channels = SUPPORTED_ENCODINGS.get(message.encoding)
    if channels is None:
        raise ImageError(
            f"unsupported encoding {message.encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}"
        )
    if message.width == 0 or message.height == 0:
        raise ImageError(f"empty {message.width}x{message.height} image")
    if message.step < message.width * channels or len(message.data) < message.step * message.height:
        raise ImageError(
            f"malformed {message.encoding} image: {message.width}x{message.height}, "
            f"step {message.step}, {len(message.data)} bytes of data"
        )


def subscribe_image(
    compressed: bool, callback: Callable[[Image | CompressedImage], None]
) -> rospy.Subscriber:
    """Subscribes ``image`` (or its ``/compressed`` sibling), newest frame only.

    ``buff_size`` must hold a whole frame, or rospy keeps reading stale ones.
    """
    topic = rospy.resolve_name("image")
    if compressed:
        return rospy.Subscriber(
            f"{topic}/compressed", CompressedImage, callback, queue_size=1, buff_size=2**24
        )
    return rospy.Subscriber(topic, Image, callback, queue_size=1, buff_size=2**24)
