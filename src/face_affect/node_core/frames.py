"""The frames ``publish_frames`` sends: a folder of photos, so the graph runs without a camera."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def read_frames(folder: Path, warn: Callable[[str], None]) -> list[tuple[str, np.ndarray]]:
    """Every readable image of ``folder`` in name order, as ``(name, BGR array)``; ``warn`` is told of the others."""
    frames = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            warn(f"cannot read {path}, skipped")
            continue
        frames.append((path.name, image))
    return frames
