"""Batched random affine augmentation on the CPU, the paper's recipe.

Rotation within +-10 degrees, shifts of up to 10 %, zoom of up to 10 % and
horizontal flips, applied to a whole batch at once with one ``grid_sample``
call: per-image OpenCV warps would cost more than the network on 2 cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as functional


@dataclass(frozen=True)
class AugmentationRanges:
    rotation_degrees: float = 10.0
    shift_fraction: float = 0.1
    zoom_fraction: float = 0.1
    horizontal_flip: bool = True


def random_affine(images: torch.Tensor, ranges: AugmentationRanges, generator: torch.Generator) -> torch.Tensor:
    """Warps float images ``[N, C, H, W]``; borders are filled by replicating edge pixels."""
    count = images.shape[0]

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(count, generator=generator) * 2 - 1) * limit

    angle = uniform(math.radians(ranges.rotation_degrees))
    scale = 1 + uniform(ranges.zoom_fraction)
    flip = torch.ones(count)
    if ranges.horizontal_flip:
        flip = torch.where(torch.rand(count, generator=generator) < 0.5, -1.0, 1.0)
    # affine_grid maps output coordinates in [-1, 1] to input coordinates.
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0] = cos * flip
    theta[:, 0, 1] = -sin
    theta[:, 1, 0] = sin * flip
    theta[:, 1, 1] = cos
    theta[:, 0, 2] = uniform(2 * ranges.shift_fraction)
    theta[:, 1, 2] = uniform(2 * ranges.shift_fraction)
    grid = functional.affine_grid(theta, list(images.shape), align_corners=False)
    return functional.grid_sample(images, grid, padding_mode="border", align_corners=False)
