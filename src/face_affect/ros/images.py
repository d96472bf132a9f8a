"""ROS 1 camera messages to BGR arrays and back: raw images read by the core
(:mod:`face_affect.node_core.images`), compressed ones and outgoing images by one CvBridge per node."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import rospy
from cv_bridge import CvBridge, CvBridgeError
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from face_affect.image_messages import ImageError
from face_affect.node_core import images


class ImageConverter(images.ImageConverter):
    """The core's converter, with cv_bridge for compressed images and outgoing messages (as ROS 1 always had)."""

    def __init__(self) -> None:
        super().__init__(Image, CompressedImage)
        self.bridge = CvBridge()

    def to_message(self, image: np.ndarray, encoding: str, header: Header) -> Image:
        message = self.bridge.cv2_to_imgmsg(image, encoding=encoding)
        message.header = header
        return message

    def decode_compressed(self, message: CompressedImage) -> np.ndarray:
        try:
            image = self.bridge.compressed_imgmsg_to_cv2(message, desired_encoding="bgr8")
        except (CvBridgeError, TypeError, ValueError) as error:
            raise ImageError(f"cannot decode {message.format!r} compressed image: {error}") from error
        if image is None or image.size == 0:
            raise ImageError(f"cannot decode {message.format!r} compressed image ({len(message.data)} bytes)")
        return image


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
