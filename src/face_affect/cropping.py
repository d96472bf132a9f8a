"""The crop that training and run time share, and conversion to a model's input.

A face crop is the detector's box grown on each side by a fraction of the box's
size: :data:`face_affect.types.Margins` ``(left, top, right, bottom)``; a negative side cuts into
the box. Each model stores the margins that reproduce its training framing from
a detector box (measured by ``face_affect.training.framing``). Parts of the crop
outside the image are filled by replicating the edge pixels, so a face at the
border keeps the framing the classifier was trained on.

The growth of each side is a whole number of pixels that depends on the box's size alone
(:func:`crop_padding`), never on its position, so a crop cut out of a wider crop
(:func:`recrop`) frames the face exactly as cropping the frame would. A margin that crosses
a process boundary is first made a float32 (:func:`transmissible_margin`), the type of
``FaceDetectionArray.crop_margin``: both sides then compute the crop from the same number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from face_affect.types import FaceBox, as_margins


def transmissible_margin(margin: float) -> float:
    """The smallest float32 at least ``margin``: the margin as a float32 message field carries it.

    The detector crops with this value and sends it; the receiver checks and re-crops with
    what it reads, the same number. (Cropping with the float64 0.076 and sending the float32
    0.0759999 made every box side of 125 x an odd number of pixels 1 px off on the other side.)
    Rounding up keeps the crop enclosing every model's framing.
    """
    single = np.float32(margin)
    if float(single) < margin:
        single = np.nextafter(single, np.float32(np.inf))
    return float(single)


def margin_pixels(margin: float, size: int) -> int:
    """Pixels that a margin adds to a side of ``size`` pixels, halves rounded up (negative: cut)."""
    return math.floor(margin * size + 0.5)


def crop_padding(width: int, height: int, margin: float | Sequence[float]) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` pixels by which the margins grow a ``width`` x ``height`` box."""
    left, top, right, bottom = as_margins(margin)
    return (
        margin_pixels(left, width),
        margin_pixels(top, height),
        margin_pixels(right, width),
        margin_pixels(bottom, height),
    )


def crop_region(box: FaceBox, margin: float | Sequence[float]) -> tuple[int, int, int, int]:
    """``(x, y, width, height)`` of the box grown by the margins; may leave the image."""
    left, top, right, bottom = crop_padding(box.width, box.height, margin)
    return (
        box.x - left,
        box.y - top,
        max(1, box.width + left + right),
        max(1, box.height + top + bottom),
    )


def crop_face(image: np.ndarray, box: FaceBox, margin: float | Sequence[float]) -> np.ndarray:
    """The region of :func:`crop_region`, edge-replicated where it leaves the image."""
    x, y, width, height = crop_region(box, margin)
    image_height, image_width = image.shape[:2]
    left, top = max(0, -x), max(0, -y)
    right = max(0, x + width - image_width)
    bottom = max(0, y + height - image_height)
    inside = image[max(0, y) : min(image_height, y + height), max(0, x) : min(image_width, x + width)]
    if inside.size == 0:
        raise ValueError(f"face box {box} lies outside the {image_width}x{image_height} image")
    if left or top or right or bottom:
        inside = cv2.copyMakeBorder(inside, top, bottom, left, right, cv2.BORDER_REPLICATE)
    return inside


def enclosing_margin(margins: Sequence[float | Sequence[float]]) -> float:
    """The smallest non-negative margin on all sides whose crop contains every one of ``margins``."""
    return max([0.0, *(side for margin in margins for side in as_margins(margin))])


def recrop(
    crop: np.ndarray, box_width: int, box_height: int, crop_margin: float, margin: float | Sequence[float]
) -> np.ndarray:
    """The crop at ``margin`` cut out of a crop made at a larger, uniform ``crop_margin``.

    The ROS detector sends one crop per face at the margin that encloses every
    classifier's framing; each classifier cuts its own out of it with this.
    """
    # The tolerance admits a sender that rounded the margin to float32 downwards.
    if max(as_margins(margin)) > crop_margin + 1e-6:
        raise ValueError(f"cannot cut margin {margin} out of a crop with margin {crop_margin}")
    left, top, _, _ = crop_padding(box_width, box_height, crop_margin)
    return crop_face(crop, FaceBox(x=left, y=top, width=box_width, height=box_height), margin)


def to_model_input(grey_crops: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """Grey crops to the ``float32 [N, 1, H, W]`` batch of raw 0..255 pixels the models take."""
    batch = np.empty((len(grey_crops), 1, height, width), dtype=np.float32)
    for index, crop in enumerate(grey_crops):
        interpolation = cv2.INTER_AREA if crop.shape[1] > width else cv2.INTER_LINEAR
        batch[index, 0] = cv2.resize(crop, (width, height), interpolation=interpolation)
    return batch
