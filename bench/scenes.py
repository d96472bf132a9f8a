"""The frames the benchmarks publish: moving windows over the shared photos, chosen to hold 0 to 7 faces
(ROS-free, so the ROS 1 and ROS 2 benchmarks and bench/pipeline.py share them).

A scene's name gives the faces it was chosen for; BlazeFace finds 5 in every frame of ``vga_4_faces``,
and 7 in ``vga_7_faces`` on 87% of the frames of its pan, 6 on the rest (issue 32's seven-face bar)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos"
"""Beside the checkout (also where the ROS 2 benchmark imports face_affect from an install space)."""
# (photo, scale, window centre in scaled pixels) giving the face counts named.
SCENES = {
    "vga_0_faces": ("face_recognition_two_people.jpg", 1.0, (560, 540), (640, 480)),
    "vga_1_face": ("face_recognition_two_people.jpg", 1.2, (390, 300), (640, 480)),
    "vga_4_faces": ("facenet_pytorch_multiface.jpg", 1.0, (690, 300), (640, 480)),
    "vga_7_faces": ("retinaface_img3_team.jpg", 1.7, (1250, 410), (640, 480)),
    "sxga_2_faces": ("face_recognition_two_people.jpg", 1.9, (1070, 560), (1280, 960)),
}
PAN_PIXELS = 40


def moving_windows(photo: str, scale: float, centre: tuple[int, int], size: tuple[int, int], count: int):
    """``count`` frames panning +-PAN_PIXELS around ``centre`` of the scaled photo."""
    image = cv2.imread(str(PHOTOS / photo))
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    width, height = size
    padded = cv2.copyMakeBorder(image, height, height, width, width, cv2.BORDER_REFLECT)
    frames = []
    for index in range(count):
        shift = round(PAN_PIXELS * np.sin(2 * np.pi * index / count))
        x = centre[0] + width - width // 2 + shift
        y = centre[1] + height - height // 2
        frames.append(np.ascontiguousarray(padded[y : y + height, x : x + width]))
    return frames


def percentiles(samples: list[float]) -> dict[str, float]:
    milliseconds = np.array(samples) * 1e3
    return {
        "p50": round(float(np.percentile(milliseconds, 50)), 3),
        "p99": round(float(np.percentile(milliseconds, 99)), 3),
    }
