"""Image messages of one ROS version to BGR arrays and back, for ROS 1 and ROS 2 alike.

The pixels are read by :mod:`face_affect.image_messages` (not cv_bridge, which returns shifted rows
for padded images), which a bag reader without ROS shares. ROS 2 has no cv_bridge wheel, so its
nodes also decode compressed images and build image messages here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from face_affect.image_messages import ImageError, compressed_to_bgr, raw_pixels, raw_to_bgr


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
        return raw_to_bgr(message)

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
        return compressed_to_bgr(bytes(message.data), message.format)
