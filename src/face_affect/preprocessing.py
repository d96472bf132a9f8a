"""The crop that training and run time share, and conversion to a model's input.

A face crop is the detector's box grown on each side by a fraction of the box's
size: :data:`Margins` ``(left, top, right, bottom)``; a negative side cuts into
the box. Each model stores the margins that reproduce its training framing from
a detector box (measured by ``face_affect.training.framing``). Parts of the crop
outside the image are filled by replicating the edge pixels, so a face at the
border keeps the framing the classifier was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from face_affect.detection import FaceBox

Margins = tuple[float, float, float, float]
"""Growth of a detector box (left, top, right, bottom) as fractions of its width and height."""


def as_margins(margin: float | Sequence[float]) -> Margins:
    """One number for all four sides, or four numbers (left, top, right, bottom)."""
    if isinstance(margin, (int, float)):
        return (float(margin),) * 4
    values = tuple(float(value) for value in margin)
    if len(values) != 4:
        raise ValueError(f"expected one margin or four (left, top, right, bottom), got {margin!r}")
    return values  # type: ignore[return-value]


class FrameError(ValueError):
    """A frame the detectors and classifiers cannot take (see :func:`check_frame`)."""


def check_frame(image: np.ndarray) -> np.ndarray:
    """``image`` unchanged if it is a frame, else :class:`FrameError` naming what is wrong.

    A frame is a ``uint8`` numpy array of at least 1x1 pixels: ``H x W`` grey, or
    ``H x W x C`` with 1 (grey), 3 (BGR) or 4 (BGRA) channels, in any memory
    layout (slices, negative strides). Other dtypes are refused, not rescaled: a
    16-bit or float image has no single meaning of white.
    """
    if not isinstance(image, np.ndarray):
        raise FrameError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise FrameError(f"expected dtype uint8, got {image.dtype}")
    if image.ndim not in (2, 3):
        raise FrameError(f"expected H x W or H x W x C dimensions, got shape {image.shape}")
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise FrameError(f"expected 1, 3 or 4 channels (grey, BGR, BGRA), got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise FrameError(f"expected at least 1x1 pixels, got shape {image.shape}")
    return image


def to_grey(image: np.ndarray) -> np.ndarray:
    """A frame (:func:`check_frame`: grey, BGR or BGRA uint8) as a 2-D grey image."""
    check_frame(image)
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)


def crop_region(box: FaceBox, margin: float | Sequence[float]) -> tuple[int, int, int, int]:
    """``(x, y, width, height)`` of the box grown by the margins; may leave the image."""
    left, top, right, bottom = as_margins(margin)
    x0, y0 = round(box.x - left * box.width), round(box.y - top * box.height)
    x1 = round(box.x + box.width + right * box.width)
    y1 = round(box.y + box.height + bottom * box.height)
    return (x0, y0, max(1, x1 - x0), max(1, y1 - y0))


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
    if max(as_margins(margin)) > crop_margin + 1e-6:
        raise ValueError(f"cannot cut margin {margin} out of a crop with margin {crop_margin}")
    from face_affect.detection import FaceBox

    inner = FaceBox(
        x=round(crop_margin * box_width),
        y=round(crop_margin * box_height),
        width=box_width,
        height=box_height,
    )
    return crop_face(crop, inner, margin)


def to_model_input(grey_crops: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """Grey crops to the ``float32 [N, 1, H, W]`` batch of raw 0..255 pixels the models take."""
    batch = np.empty((len(grey_crops), 1, height, width), dtype=np.float32)
    for index, crop in enumerate(grey_crops):
        interpolation = cv2.INTER_AREA if crop.shape[1] > width else cv2.INTER_LINEAR
        batch[index, 0] = cv2.resize(crop, (width, height), interpolation=interpolation)
    return batch
