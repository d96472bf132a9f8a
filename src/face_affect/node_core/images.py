"""Camera messages to BGR arrays and back with numpy and OpenCV, for ROS 1 and ROS 2 messages alike.

Raw images are read here, not by cv_bridge: its ``imgmsg_to_cv2`` returns
shifted rows, without an error, for an image whose ``step`` has padding
(measured with Debian's cv_bridge 1.16). Reading the buffer in place is also a
copy cheaper. ROS 2 has no cv_bridge wheel, so its nodes also decode compressed
images and build image messages here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

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


class ImageError(ValueError):
    """A message that cannot be turned into an image; the text says why."""


def check_raw_image(message: Any) -> None:
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


def raw_pixels(message: Any) -> np.ndarray:
    """The message's pixels as an ``H x W (x C)`` uint8 view of its buffer, row padding skipped."""
    check_raw_image(message)
    channels = SUPPORTED_ENCODINGS[message.encoding].channels
    rows = np.frombuffer(message.data, dtype=np.uint8, count=message.step * message.height)
    pixels = rows.reshape(message.height, message.step)[:, : message.width * channels]
    if channels == 1:
        return pixels
    return pixels.reshape(message.height, message.width, channels)


class ImageConverter:
    """Image messages of one ROS version (``image_type``, ``compressed_type``) to arrays and back.

    ``pixel_data`` turns the bytes of an array into what the message's ``data`` field holds.
    """

    def __init__(self, image_type: type, compressed_type: type, pixel_data: Callable[[bytes], Any] = bytes) -> None:
        self.image_type = image_type
        self.compressed_type = compressed_type
        self.pixel_data = pixel_data

    def to_bgr(self, message: Any) -> np.ndarray:
        """Decodes a raw or compressed image into a BGR uint8 array; raises ImageError."""
        if isinstance(message, self.compressed_type):
            return self.decode_compressed(message)
        pixels = raw_pixels(message)
        conversion = SUPPORTED_ENCODINGS[message.encoding].to_bgr
        return pixels if conversion is None else cv2.cvtColor(pixels, conversion)

    def to_mono8(self, message: Any) -> np.ndarray:
        """A grey crop from the detector (mono8); other encodings are an ImageError."""
        if message.encoding != "mono8":
            raise ImageError(f"expected a mono8 crop, got {message.encoding!r}")
        return raw_pixels(message)

    def to_message(self, image: np.ndarray, encoding: str, header: Any) -> Any:
        """A raw image message of a uint8 array (mono8: H x W, bgr8: H x W x 3), rows unpadded."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        height, width = image.shape[:2]
        return self.image_type(
            header=header,
            height=height,
            width=width,
            encoding=encoding,
            is_bigendian=0,
            step=image.strides[0],
            data=self.pixel_data(image.tobytes()),
        )

    def decode_compressed(self, message: Any) -> np.ndarray:
        """Whatever OpenCV reads (JPEG, PNG, ...) as BGR; an ImageError when it cannot."""
        data = np.frombuffer(bytes(message.data), np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if image is None or image.size == 0:
            raise ImageError(f"cannot decode {message.format!r} compressed image ({data.size} bytes)")
        return image
