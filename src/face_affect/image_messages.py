"""Camera messages' pixels as BGR arrays, without ROS: the nodes' messages and a bag's alike.

A raw image is any object with ``sensor_msgs/Image``'s fields (``encoding``, ``width``,
``height``, ``step``, ``data``): a rospy message or one that ``rosbags`` read from a
recording. The buffer is read in place, not through cv_bridge, whose ``imgmsg_to_cv2``
returns shifted rows, without an error, for an image whose ``step`` has padding (measured
with Debian's cv_bridge 1.16).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import cv2
import numpy as np


class Encoding(NamedTuple):
    channels: int  # bytes per pixel
    to_bgr: int | None  # the cv2.cvtColor code to BGR; None: already BGR
    pixel_pairs: bool = False  # 4:2:2: two pixels share their chroma, so the width must be even


# Bayer is what the Care-O-bot 3 Kinect publishes. OpenCV names a Bayer pattern by its
# second row, so ROS's rggb is OpenCV's BG (as in cv_bridge).
SUPPORTED_ENCODINGS = {
    "bgr8": Encoding(3, None),
    "rgb8": Encoding(3, cv2.COLOR_RGB2BGR),
    "bgra8": Encoding(4, cv2.COLOR_BGRA2BGR),
    "rgba8": Encoding(4, cv2.COLOR_RGBA2BGR),
    "mono8": Encoding(1, cv2.COLOR_GRAY2BGR),
    "bayer_rggb8": Encoding(1, cv2.COLOR_BayerBG2BGR),
    "bayer_bggr8": Encoding(1, cv2.COLOR_BayerRG2BGR),
    "bayer_gbrg8": Encoding(1, cv2.COLOR_BayerGR2BGR),
    "bayer_grbg8": Encoding(1, cv2.COLOR_BayerGB2BGR),
    # USB (UVC) camera drivers publish 4:2:2 YUV, two bytes a pixel: ROS's yuv422 is UYVY
    # byte order, yuv422_yuy2 is YUYV (as cv_bridge reads them).
    "yuv422": Encoding(2, cv2.COLOR_YUV2BGR_UYVY, pixel_pairs=True),
    "yuv422_yuy2": Encoding(2, cv2.COLOR_YUV2BGR_YUY2, pixel_pairs=True),
}


class RawImage(Protocol):
    """``sensor_msgs/Image``'s fields, as any ROS message class or bag reader has them."""

    encoding: str
    width: int
    height: int
    step: int
    data: bytes | np.ndarray


class ImageError(ValueError):
    """A message that cannot be turned into an image; the text says why."""


def check_raw_image(message: RawImage) -> None:
    """Rejects encodings we do not handle and data that does not fill the declared size."""
    encoding = SUPPORTED_ENCODINGS.get(message.encoding)
    if encoding is None:
        raise ImageError(f"unsupported encoding {message.encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}")
    if message.width == 0 or message.height == 0:
        raise ImageError(f"empty {message.width}x{message.height} image")
    if encoding.pixel_pairs and message.width % 2:
        # Also a guard: OpenCV 4.6 writes past the output of an odd-width 4:2:2 conversion.
        raise ImageError(f"malformed {message.encoding} image: width {message.width} is odd (pixels come in pairs)")
    if message.step < message.width * encoding.channels or len(message.data) < message.step * message.height:
        raise ImageError(
            f"malformed {message.encoding} image: {message.width}x{message.height}, "
            f"step {message.step}, {len(message.data)} bytes of data"
        )


def raw_pixels(message: RawImage) -> np.ndarray:
    """The message's pixels as an ``H x W (x C)`` uint8 view of its buffer, row padding skipped."""
    check_raw_image(message)
    channels = SUPPORTED_ENCODINGS[message.encoding].channels
    rows = np.frombuffer(message.data, dtype=np.uint8, count=message.step * message.height)
    pixels = rows.reshape(message.height, message.step)[:, : message.width * channels]
    if channels == 1:
        return pixels
    return pixels.reshape(message.height, message.width, channels)


def raw_to_bgr(message: RawImage) -> np.ndarray:
    """A raw image in any of :data:`SUPPORTED_ENCODINGS` as ``H x W x 3`` BGR; :class:`ImageError` otherwise."""
    pixels = raw_pixels(message)
    conversion = SUPPORTED_ENCODINGS[message.encoding].to_bgr
    return pixels if conversion is None else cv2.cvtColor(pixels, conversion)


def compressed_to_bgr(data: bytes | np.ndarray, image_format: str) -> np.ndarray:
    """A ``sensor_msgs/CompressedImage``'s data (JPEG, PNG, ...) as BGR; :class:`ImageError` if it is not one."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if len(data) else None
    if image is None or image.size == 0:
        raise ImageError(f"cannot decode {image_format!r} compressed image ({len(data)} bytes)")
    return image
