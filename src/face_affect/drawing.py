"""The annotated frame: a box per face with its gender and emotion, readable at VGA."""

from __future__ import annotations

import cv2
import numpy as np

from face_affect.pipeline import FaceResult

EMOTION_COLORS_BGR = {
    "angry": (40, 40, 230),
    "disgust": (40, 140, 40),
    "fear": (160, 60, 160),
    "happy": (40, 200, 240),
    "sad": (200, 120, 40),
    "surprise": (230, 160, 230),
    "neutral": (200, 200, 200),
}
DEFAULT_COLOR_BGR = (0, 220, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_results(image: np.ndarray, results: list[FaceResult]) -> np.ndarray:
    """A BGR copy of ``image`` with each face boxed and labelled above (or below) its box."""
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[:, :, :3].copy()
    # Text scales with the frame so labels stay readable from VGA to 4K.
    font_scale = max(0.45, canvas.shape[1] / 1280)
    thickness = max(1, round(font_scale * 2))
    for result in results:
        box = result.box
        color = EMOTION_COLORS_BGR.get(result.emotion.label, DEFAULT_COLOR_BGR)
        cv2.rectangle(canvas, (box.x, box.y), (box.x + box.width, box.y + box.height), color, thickness)
        lines = [
            f"{result.gender.label} {result.gender.confidence:.0%}",
            f"{result.emotion.label} {result.emotion.confidence:.0%}",
        ]
        (text_width, text_height), baseline = cv2.getTextSize(max(lines, key=len), FONT, font_scale, thickness)
        line_height = text_height + baseline + 2
        block_height = line_height * len(lines)
        top = box.y - block_height if box.y >= block_height else box.y + box.height
        cv2.rectangle(canvas, (box.x, top), (box.x + text_width + 4, top + block_height), color, cv2.FILLED)
        for index, line in enumerate(lines):
            origin = (box.x + 2, top + (index + 1) * line_height - baseline - 1)
            cv2.putText(canvas, line, origin, FONT, font_scale, (0, 0, 0), thickness, cv2.LINE_AA)
    return canvas
