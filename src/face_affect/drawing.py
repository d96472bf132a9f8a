"""The annotated frame: a box per face with its track id and attributes, readable at VGA."""

from __future__ import annotations

import cv2
import numpy as np

from face_affect.types import Attribute, FaceBox, FaceResult

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
COASTING_COLOR_BGR = (150, 150, 150)
FONT = cv2.FONT_HERSHEY_SIMPLEX
MINIMUM_FONT_SCALE = 0.4
FACE_PIXELS_PER_FONT_SCALE = 100


Rectangle = tuple[int, int, int, int]
"""``(x0, y0, x1, y1)`` in pixels."""


def overlap(a: Rectangle, b: Rectangle) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def label_position(box: FaceBox, size: tuple[int, int], frame: tuple[int, int], taken: list[Rectangle]) -> Rectangle:
    """Where a label block of ``size`` goes: above the box, else below, else inside its top.

    The first place inside the frame that covers no label already drawn wins, so
    labels of neighbouring faces in a group photo stay readable.
    """
    width, height = size
    frame_width, frame_height = frame
    x0 = min(max(0, box.x), max(0, frame_width - width))
    candidates = [(x0, box.y - height), (x0, box.y + box.height), (x0, box.y)]
    places = [(x, y, x + width, y + height) for x, y in candidates]
    inside = [place for place in places if place[1] >= 0 and place[3] <= frame_height]
    for place in inside:
        if not any(overlap(place, other) for other in taken):
            return place
    return (inside or places)[0]


def box_color(result: FaceResult) -> tuple[int, int, int]:
    """Grey for a track coasting through a miss, else the emotion's colour where there is one, else green."""
    if not result.detected:
        return COASTING_COLOR_BGR
    emotion = result.attributes.get("emotion")
    return EMOTION_COLORS_BGR.get(emotion.label, DEFAULT_COLOR_BGR) if emotion else DEFAULT_COLOR_BGR


def label_lines(result: FaceResult) -> list[str]:
    """``id <track>`` for a tracked face, then ``<label> <confidence>`` per task; a coasting track
    (not found in this frame, its box predicted) shows only ``id <track> (not seen)``."""
    if result.track_id is not None and not result.detected:
        return [f"id {result.track_id} (not seen)"]
    lines = [f"id {result.track_id}"] if result.track_id is not None else []
    return lines + [attribute_text(task, attribute) for task, attribute in result.attributes.items()]


def attribute_text(task: str, attribute: Attribute) -> str:
    """``<label> <confidence>``, ``<task> unsure`` while the estimate is unsure; a quantity
    ``<task> <value> +-<std>`` (``age 34 +-6``)."""
    if attribute.value is not None:
        return f"{task} {attribute.value:.0f} +-{attribute.spread or 0.0:.0f}"
    if not attribute.is_stated:
        return f"{task} unsure"
    return f"{attribute.label} {attribute.confidence:.0%}"


def draw_results(image: np.ndarray, results: list[FaceResult]) -> np.ndarray:
    """A BGR copy of ``image`` with each face boxed, and labelled where no other label is."""
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[:, :, :3].copy()
    # Text grows with the frame (readable from VGA to 4K) but not far beyond its face, so the
    # labels of a crowd of small faces do not bury each other.
    frame_font_scale = max(0.45, canvas.shape[1] / 1280)
    line_thickness = max(1, round(frame_font_scale * 2))
    colors = [box_color(result) for result in results]
    for result, color in zip(results, colors):
        box = result.box
        cv2.rectangle(canvas, (box.x, box.y), (box.x + box.width, box.y + box.height), color, line_thickness)
    # Labels after all boxes, so no box line crosses a label.
    taken: list[Rectangle] = []
    for result, color in zip(results, colors):
        lines = label_lines(result)
        font_scale = min(frame_font_scale, max(MINIMUM_FONT_SCALE, result.box.width / FACE_PIXELS_PER_FONT_SCALE))
        thickness = max(1, round(font_scale * 2))
        sizes = [cv2.getTextSize(line, FONT, font_scale, thickness) for line in lines]
        text_width = max(width for (width, _), _ in sizes)
        line_height = max(height + baseline for (_, height), baseline in sizes) + 2
        block = (text_width + 4, line_height * len(lines))
        x0, y0, x1, y1 = label_position(result.box, block, (canvas.shape[1], canvas.shape[0]), taken)
        taken.append((x0, y0, x1, y1))
        cv2.rectangle(canvas, (x0, y0), (x1, y1), color, cv2.FILLED)
        for index, (line, ((_, _), baseline)) in enumerate(zip(lines, sizes)):
            origin = (x0 + 2, y0 + (index + 1) * line_height - baseline - 1)
            cv2.putText(canvas, line, origin, FONT, font_scale, (0, 0, 0), thickness, cv2.LINE_AA)
    return canvas
