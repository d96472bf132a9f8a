"""The crop that training and run time share, and conversion to a model's input.

A face crop is the detector's box grown on each side by a fraction of the box's
size: :data:`face_affect.types.Margins` ``(left, top, right, bottom)``; a negative side cuts into
the box. Each model stores the margins that reproduce its training framing from
a detector box (measured by ``face_affect.training.framing``). Parts of the crop
outside the image are filled by replicating the edge pixels, so a face at the
border keeps the framing the classifier was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from face_affect.types import FaceBox, as_margins


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
