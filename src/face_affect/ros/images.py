"""Camera messages to BGR arrays and back, with one CvBridge per node.

The pixels are read by the library (:mod:`face_affect.image_messages`, which a bag reader uses
too); cv_bridge only builds outgoing messages.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import rospy
from cv_bridge import CvBridge
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_affect.image_messages import ImageError, compressed_to_bgr, raw_pixels, raw_to_bgr


class ImageConverter:
    def __init__(self) -> None:
        self.bridge = CvBridge()

    def to_bgr(self, message: Image | CompressedImage) -> np.ndarray:
        """Decodes a raw or compressed image into a BGR uint8 array; raises ImageError."""
        if isinstance(message, CompressedImage):
            return compressed_to_bgr(message.data, message.format)
        return raw_to_bgr(message)

    def to_mono8(self, message: Image) -> np.ndarray:
        """A grey crop from the detector (mono8); other encodings are an ImageError."""
        if message.encoding != "mono8":
            raise ImageError(f"expected a mono8 crop, got {message.encoding!r}")
        return raw_pixels(message)

    def to_message(self, image: np.ndarray, encoding: str, header: Header) -> Image:
        message = self.bridge.cv2_to_imgmsg(image, encoding=encoding)
        message.header = header
        return message


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
