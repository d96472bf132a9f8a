"""Camera messages to BGR arrays and back, with one CvBridge per node.

Raw images are read here, not by cv_bridge: its ``imgmsg_to_cv2`` returns
shifted rows, without an error, for an image whose ``step`` has padding
(measured with Debian's cv_bridge 1.16). Reading the buffer in place is also a
copy cheaper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import cv2
import numpy as np
import rospy
from cv_bridge import CvBridge, CvBridgeError
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header


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


class ImageConverter:
    def __init__(self) -> None:
        self.bridge = CvBridge()

    def to_bgr(self, message: Image | CompressedImage) -> np.ndarray:
        """Decodes a raw or compressed image into a BGR uint8 array; raises ImageError."""
        if isinstance(message, CompressedImage):
            return self._decode_compressed(message)
        pixels = raw_pixels(message)
        conversion = SUPPORTED_ENCODINGS[message.encoding].to_bgr
        return pixels if conversion is None else cv2.cvtColor(pixels, conversion)

    def to_mono8(self, message: Image) -> np.ndarray:
        """A grey crop from the detector (mono8); other encodings are an ImageError."""
        if message.encoding != "mono8":
            raise ImageError(f"expected a mono8 crop, got {message.encoding!r}")
        return raw_pixels(message)

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


def raw_pixels(message: Image) -> np.ndarray:
    """The message's pixels as an ``H x W (x C)`` uint8 view of its buffer, row padding skipped."""
    check_raw_image(message)
    channels = SUPPORTED_ENCODINGS[message.encoding].channels
    rows = np.frombuffer(message.data, dtype=np.uint8, count=message.step * message.height)
    pixels = rows.reshape(message.height, message.step)[:, : message.width * channels]
    if channels == 1:
        return pixels
    return pixels.reshape(message.height, message.width, channels)


def image_topic(compressed: bool) -> str:
    """The camera topic a node reads: ``image`` as remapped, or its ``/compressed`` sibling."""
    topic = rospy.resolve_name("image")
    return f"{topic}/compressed" if compressed else topic


BUFF_SIZE = 2**26
"""rospy's receive buffer for every large message (camera frames, face crops, overlays): 64 MB holds a
4K BGRA frame (33 MB); a smaller buffer makes rospy keep reading stale messages."""


def subscribe_image(compressed: bool, callback: Callable[[Image | CompressedImage], None]) -> rospy.Subscriber:
    """Subscribes the camera (see :func:`image_topic`), newest frame only.

    ``buff_size`` is :data:`BUFF_SIZE`.
    """
    message_type = CompressedImage if compressed else Image
    return rospy.Subscriber(image_topic(compressed), message_type, callback, queue_size=1, buff_size=BUFF_SIZE)
