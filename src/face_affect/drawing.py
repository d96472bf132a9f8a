"""The annotated frame: a box per face, coloured by its gender state, and its attributes where they fit.

One function, :func:`draw_results`, draws for the CLI, the nodes and the demo (a stream keeps an
:class:`Overlay`, which remembers how long each track has been unseen). Labels are laid out so
that they cover no face and no other label (:func:`plan_labels`):

1. largest faces first, each tries its full label (track id, one line per attribute) above, below
   and beside its box, then in the nearest free place outside the crowd with a thin leader line;
2. where no place is free, a compact one-line label (``woman happy 34``) in the same places;
3. else no label: the box colour alone says the gender state (:data:`GENDER_COLORS_BGR`).

A track coasting through missed detections (box predicted, "not seen") is a thin dashed grey box
without a label, fading out over :data:`COASTING_FADE_SECONDS`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from face_affect.types import Attribute, FaceResult

GENDER_COLORS_BGR = {"woman": (40, 150, 255), "man": (255, 170, 40)}
"""Orange for a stated woman, blue for a stated man; :data:`UNSURE_COLOR_BGR` (yellow) while unsure."""
UNSURE_COLOR_BGR = (0, 220, 255)
DEFAULT_COLOR_BGR = (0, 220, 0)
"""No gender model: green."""
COASTING_COLOR_BGR = (150, 150, 150)
TEXT_COLOR_BGR = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX
MINIMUM_FONT_SCALE = 0.4
FACE_PIXELS_PER_FONT_SCALE = 100
COMPACT_FONT_FACTOR = 0.85
"""A compact label's text, relative to the full label's."""
COASTING_FADE_SECONDS = 1.0
"""A coasting track's dashed box fades from full to nothing over this long unseen."""
DASH_PIXELS = 6
FACE_MARGIN = 0.1
"""Room kept free around each face box for labels, as a fraction of the box's size."""
LEADER_REACH = 2.0
"""How far a label may go from its face, in face sizes (or label heights, if larger)."""
AWAY_SEARCHES = 20
"""Searches for a place away from the face (the costly part) per frame at most: a crowd's last faces
get only the places beside their boxes, so the drawing stays fast."""
LEADER_CHOICES = 50
"""The nearest free places tried for a leader line that crosses nothing."""

Rectangle = tuple[int, int, int, int]
"""``(x0, y0, x1, y1)`` in pixels."""
Point = tuple[int, int]


@dataclass(frozen=True)
class Label:
    """A label's text and where it goes: ``leader`` joins it to its face when it is not beside it."""

    face: int
    """Index of its face in the results."""
    lines: tuple[str, ...]
    font_scale: float
    rectangle: Rectangle
    leader: tuple[Point, Point] | None = None

    @property
    def compact(self) -> bool:
        return len(self.lines) == 1


def overlap(a: Rectangle, b: Rectangle) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def overlaps_any(rectangles: np.ndarray, obstacles: np.ndarray) -> np.ndarray:
    """For each of ``rectangles [M, 4]``, whether it overlaps any of ``obstacles [N, 4]``."""
    if len(obstacles) == 0:
        return np.zeros(len(rectangles), bool)
    r, o = rectangles[:, None, :], obstacles[None, :, :]
    return ((r[..., 0] < o[..., 2]) & (o[..., 0] < r[..., 2]) & (r[..., 1] < o[..., 3]) & (o[..., 1] < r[..., 3])).any(
        1
    )


def box_rectangle(result: FaceResult) -> Rectangle:
    box = result.box
    return (box.x, box.y, box.x + box.width, box.y + box.height)


def box_color(result: FaceResult) -> tuple[int, int, int]:
    """Grey while a track coasts; else the gender state: orange (woman), blue (man), yellow (unsure)."""
    if not result.detected:
        return COASTING_COLOR_BGR
    gender = result.attributes.get("gender")
    if gender is None:
        return DEFAULT_COLOR_BGR
    return GENDER_COLORS_BGR.get(gender.label, UNSURE_COLOR_BGR) if gender.is_stated else UNSURE_COLOR_BGR


def label_lines(result: FaceResult) -> list[str]:
    """``id <track>`` for a tracked face, then ``<label> <confidence>`` per task."""
    lines = [f"id {result.track_id}"] if result.track_id is not None else []
    return lines + [attribute_text(task, attribute) for task, attribute in result.attributes.items()]


def compact_line(result: FaceResult) -> str:
    """The stated labels on one line, ``?`` for an unsure one (``woman happy 34``, ``? neutral 21``)."""
    words = []
    for attribute in result.attributes.values():
        if attribute.value is not None:
            words.append(f"{attribute.value:.0f}")
        else:
            words.append(attribute.label if attribute.is_stated else "?")
    return " ".join(words) or "face"


def attribute_text(task: str, attribute: Attribute) -> str:
    """``<label> <confidence>``, ``<task> unsure`` while the estimate is unsure; a quantity
    ``<task> <value> +-<std>`` (``age 34 +-6``)."""
    if attribute.value is not None:
        return f"{task} {attribute.value:.0f} +-{attribute.spread or 0.0:.0f}"
    if not attribute.is_stated:
        return f"{task} unsure"
    return f"{attribute.label} {attribute.confidence:.0%}"


def frame_font_scale(frame_width: int) -> float:
    """Text grows with the frame (readable from VGA to 4K)."""
    return max(0.45, frame_width / 1280)


def line_thickness(frame_width: int) -> int:
    return max(1, round(frame_font_scale(frame_width) * 2))


def text_thickness(font_scale: float) -> int:
    return max(1, round(font_scale * 2))


def block_size(lines: Sequence[str], font_scale: float) -> tuple[int, int, int]:
    """Width and height of a label block holding ``lines``, and the height of one line."""
    thickness = text_thickness(font_scale)
    sizes = [cv2.getTextSize(line, FONT, font_scale, thickness) for line in lines]
    line_height = max(height + baseline for (_, height), baseline in sizes) + 2
    return max(width for (width, _), _ in sizes) + 4, line_height * len(lines), line_height


def face_margin(result: FaceResult, gap: int) -> int:
    """Room kept free around a face: the box line, and :data:`FACE_MARGIN` of its size (a detector's box
    is tighter than the face people see)."""
    return gap + round(FACE_MARGIN * max(result.box.width, result.box.height))


def grow(rectangle: Rectangle, margin: int) -> Rectangle:
    return (rectangle[0] - margin, rectangle[1] - margin, rectangle[2] + margin, rectangle[3] + margin)


def beside_places(face: Rectangle, size: tuple[int, int], gap: int) -> list[Rectangle]:
    """Places touching the box: above and below (left-aligned, centred, right-aligned), then beside it."""
    width, height = size
    x0, y0, x1, y1 = face
    columns = (x0, (x0 + x1 - width) // 2, x1 - width)
    rows = (y0, (y0 + y1 - height) // 2, y1 - height)
    tops = [(x, y0 - gap - height) for x in columns] + [(x, y1 + gap) for x in columns]
    sides = [(x1 + gap, y) for y in rows] + [(x0 - gap - width, y) for y in rows]
    return [(x, y, x + width, y + height) for x, y in tops + sides]


def segments_through_rectangles(start: np.ndarray, end: np.ndarray, rectangles: np.ndarray) -> np.ndarray:
    """``[K, N]``: whether segment ``start[k] -> end[k]`` passes through the inside of ``rectangles[n]``
    (Liang-Barsky clipping)."""
    if len(rectangles) == 0 or len(start) == 0:
        return np.zeros((len(start), len(rectangles)), bool)
    origin, direction = start[:, None, :], (end - start)[:, None, :]
    entering, leaving = np.zeros((len(start), len(rectangles))), np.ones((len(start), len(rectangles)))
    inside = np.ones_like(entering, bool)
    for axis in (0, 1):
        low, high = rectangles[None, :, axis], rectangles[None, :, axis + 2]
        d, o = direction[..., axis], origin[..., axis]
        parallel = d == 0
        safe = np.where(parallel, 1.0, d)
        t_low, t_high = (low - o) / safe, (high - o) / safe
        inside &= ~parallel | ((o > low) & (o < high))
        entering = np.where(parallel, entering, np.maximum(entering, np.minimum(t_low, t_high)))
        leaving = np.where(parallel, leaving, np.minimum(leaving, np.maximum(t_low, t_high)))
    return inside & (entering < leaving)


def segments_intersect(start: np.ndarray, end: np.ndarray, others: np.ndarray) -> np.ndarray:
    """For segments ``start [K, 2] -> end [K, 2]``, whether each crosses any of ``others [L, 4]``
    (``x0, y0, x1, y1``), touching ends excluded."""
    if len(others) == 0 or len(start) == 0:
        return np.zeros(len(start), bool)
    a, b = start[:, None, :], end[:, None, :]
    c, d = others[None, :, :2], others[None, :, 2:]

    def side(p, q, r):
        return np.sign(
            (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0])
        )

    return ((side(a, b, c) * side(a, b, d) < 0) & (side(c, d, a) * side(c, d, b) < 0)).any(axis=1)


def covers_any(places: np.ndarray, obstacles: np.ndarray, area: Rectangle) -> np.ndarray:
    """For each of ``places [M, 4]`` inside ``area``, whether it overlaps any of ``obstacles [N, 4]``
    (whole pixels): one sum over an integral image per place, whatever the number of obstacles."""
    ax0, ay0, ax1, ay1 = area
    occupied = np.zeros((ay1 - ay0, ax1 - ax0), np.uint8)
    for ox0, oy0, ox1, oy1 in obstacles.astype(np.int64):
        occupied[max(0, oy0 - ay0) : max(0, oy1 - ay0), max(0, ox0 - ax0) : max(0, ox1 - ax0)] = 1
    integral = cv2.integral(occupied)
    px0, py0, px1, py1 = (places - np.array([ax0, ay0, ax0, ay0])).T
    total = integral[py1, px1] - integral[py0, px1] - integral[py1, px0] + integral[py0, px0]
    return total > 0


def place_away(
    face: Rectangle,
    size: tuple[int, int],
    frame: tuple[int, int],
    obstacles: np.ndarray,
    leaders: np.ndarray,
    own_obstacle: int,
) -> tuple[Rectangle, tuple[Point, Point]] | None:
    """The nearest free place within :data:`LEADER_REACH` of ``face`` whose leader line crosses no
    face, label or other leader line, and that line; ``None`` where there is none."""
    width, height = size
    frame_width, frame_height = frame
    x0, y0, x1, y1 = face
    reach = LEADER_REACH * max(x1 - x0, y1 - y0, height)
    low_x, high_x = max(0, int(x0 - reach - width)), min(frame_width - width, int(x1 + reach))
    low_y, high_y = max(0, int(y0 - reach - height)), min(frame_height - height, int(y1 + reach))
    if low_x > high_x or low_y > high_y:
        return None
    # Only what lies within reach matters.
    area = (low_x, low_y, high_x + width, high_y + height)
    near = (
        (obstacles[:, 0] < area[2])
        & (obstacles[:, 2] > area[0])
        & (obstacles[:, 1] < area[3])
        & (obstacles[:, 3] > area[1])
    )
    near[own_obstacle] = False
    others, obstacles = obstacles[near], np.vstack([obstacles[own_obstacle : own_obstacle + 1], obstacles[near]])
    # A coarse grid, and the places that touch an obstacle's side (where a crowd leaves a gap).
    xs = np.concatenate([np.arange(low_x, high_x + 1, max(4, width // 4)), obstacles[:, 2], obstacles[:, 0] - width])
    ys = np.concatenate([np.arange(low_y, high_y + 1, max(4, height // 2)), obstacles[:, 3], obstacles[:, 1] - height])
    xs = np.unique(xs[(xs >= low_x) & (xs <= high_x)])
    ys = np.unique(ys[(ys >= low_y) & (ys <= high_y)])
    left, top = (grid.ravel() for grid in np.meshgrid(xs, ys))
    places = np.stack([left, top, left + width, top + height], axis=1).astype(np.int64)
    dx = np.maximum(0, np.maximum(x0 - places[:, 2], places[:, 0] - x1))
    dy = np.maximum(0, np.maximum(y0 - places[:, 3], places[:, 1] - y1))
    distance = np.hypot(dx, dy)
    order = np.argsort(distance, kind="stable")
    order = order[distance[order] <= reach]
    free = order[~covers_any(places[order], obstacles, area)]
    if len(leaders):
        free = free[~segments_through_rectangles(leaders[:, :2], leaders[:, 2:], places[free]).any(axis=0)]
    free = free[:LEADER_CHOICES]
    if len(free) == 0:
        return None
    chosen = places[free].astype(float)
    # The line runs from the label's point nearest the face's centre to the face's point nearest that.
    ends = np.stack(
        [np.clip((x0 + x1) / 2, chosen[:, 0], chosen[:, 2]), np.clip((y0 + y1) / 2, chosen[:, 1], chosen[:, 3])], axis=1
    ).round()
    starts = np.stack([np.clip(ends[:, 0], x0, x1), np.clip(ends[:, 1], y0, y1)], axis=1)
    clear = ~segments_through_rectangles(starts, ends, others).any(axis=1) & ~segments_intersect(starts, ends, leaders)
    if not clear.any():
        return None
    best = int(np.flatnonzero(clear)[0])
    start, end = starts[best], ends[best]
    leader = ((int(start[0]), int(start[1])), (int(end[0]), int(end[1])))
    return tuple(int(value) for value in places[free[best]]), leader  # type: ignore[return-value]


def plan_labels(
    results: Sequence[FaceResult], frame: tuple[int, int], visible: Sequence[bool] | None = None
) -> list[Label]:
    """Where each detected face's label goes in a ``frame`` (width, height), so that no label covers a
    face (of ``results`` where ``visible``), another label or a leader line; a face without room gets none.

    See the module's docstring for the order of places and of faces."""
    frame_width, frame_height = frame
    visible = [True] * len(results) if visible is None else list(visible)
    gap = line_thickness(frame_width) + 1
    shown = [index for index in range(len(results)) if visible[index]]
    grown = [grow(box_rectangle(results[index]), face_margin(results[index], gap)) for index in shown]
    obstacles = np.array(grown, float).reshape(-1, 4)
    leaders = np.zeros((0, 4))
    scale = frame_font_scale(frame_width)
    labels: list[Label] = []
    searches = 0
    order = sorted(
        (index for index, result in enumerate(results) if result.detected),
        key=lambda index: -results[index].box.width * results[index].box.height,
    )
    for index in order:
        result = results[index]
        face = box_rectangle(result)
        margin = face_margin(result, gap)
        full_scale = min(scale, max(MINIMUM_FONT_SCALE, result.box.width / FACE_PIXELS_PER_FONT_SCALE))
        compact_scale = max(MINIMUM_FONT_SCALE, full_scale * COMPACT_FONT_FACTOR)
        for lines, font_scale in ((tuple(label_lines(result)), full_scale), ((compact_line(result),), compact_scale)):
            width, height, _ = block_size(lines, font_scale)
            if width > frame_width or height > frame_height:
                continue
            beside = np.array(
                [
                    place
                    for place in beside_places(face, (width, height), margin)
                    if place[0] >= 0 and place[1] >= 0 and place[2] <= frame_width and place[3] <= frame_height
                ],
                float,
            ).reshape(-1, 4)
            taken = overlaps_any(beside, obstacles) | segments_through_rectangles(
                leaders[:, :2], leaders[:, 2:], beside
            ).any(axis=0)
            label = None
            if not taken.all():
                place = tuple(int(value) for value in beside[int(np.argmin(taken))])
                label = Label(index, lines, font_scale, place)  # type: ignore[arg-type]
            elif visible[index] and searches < AWAY_SEARCHES:
                searches += 1
                away = place_away(face, (width, height), frame, obstacles, leaders, shown.index(index))
                if away is not None:
                    label = Label(index, lines, font_scale, *away)
                    leaders = np.vstack([leaders, np.array(away[1], float).reshape(1, 4)])
            if label is not None:
                labels.append(label)
                obstacles = np.vstack([obstacles, np.array(label.rectangle, float)[None]])
                break
    return labels


def faces_under_labels(faces: Sequence[Rectangle], labels: Sequence[Label], minimum_width: int = 40) -> int:
    """How many of ``faces`` at least ``minimum_width`` wide a label touches: the overlay's measure of harm."""
    rectangles = np.array([label.rectangle for label in labels], np.int64).reshape(-1, 4)
    wide = np.array([face for face in faces if face[2] - face[0] >= minimum_width], np.int64).reshape(-1, 4)
    return int(overlaps_any(wide, rectangles).sum())


def overlapping_labels(labels: Sequence[Label]) -> int:
    """Pairs of labels that overlap (none, by construction)."""
    return sum(overlap(a.rectangle, b.rectangle) for index, a in enumerate(labels) for b in labels[index + 1 :])


def draw_dashed_rectangle(
    canvas: np.ndarray, rectangle: Rectangle, color: tuple[int, int, int], opacity: float
) -> None:
    """A one-pixel dashed outline, blended at ``opacity`` (drawn on the rectangle's region only)."""
    height, width = canvas.shape[:2]
    x0, y0, x1, y1 = (
        max(0, rectangle[0]),
        max(0, rectangle[1]),
        min(width - 1, rectangle[2]),
        min(height - 1, rectangle[3]),
    )
    if x1 <= x0 or y1 <= y0 or opacity <= 0:
        return
    region = canvas[y0 : y1 + 1, x0 : x1 + 1]
    dashed = region.copy()
    w, h = x1 - x0, y1 - y0
    for start in range(0, w + 1, 2 * DASH_PIXELS):
        end = min(w, start + DASH_PIXELS - 1)
        cv2.line(dashed, (start, 0), (end, 0), color, 1)
        cv2.line(dashed, (start, h), (end, h), color, 1)
    for start in range(0, h + 1, 2 * DASH_PIXELS):
        end = min(h, start + DASH_PIXELS - 1)
        cv2.line(dashed, (0, start), (0, end), color, 1)
        cv2.line(dashed, (w, start), (w, end), color, 1)
    cv2.addWeighted(dashed, opacity, region, 1.0 - opacity, 0.0, dst=region)


def coasting_opacity(unseen_seconds: float | None) -> float:
    """1 when just unseen (or unknown), 0 after :data:`COASTING_FADE_SECONDS`."""
    if unseen_seconds is None:
        return 1.0
    return min(1.0, max(0.0, 1.0 - unseen_seconds / COASTING_FADE_SECONDS))


def draw_results(
    image: np.ndarray, results: Sequence[FaceResult], unseen_seconds: Mapping[str, float] | None = None
) -> np.ndarray:
    """A BGR copy of ``image`` with each face boxed and labelled where there is room (:func:`plan_labels`).

    ``unseen_seconds``: for coasting tracks, how long since they were detected (an
    :class:`Overlay` keeps it); a coasting track without an entry is drawn at full opacity."""
    canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image[:, :, :3].copy()
    frame = (canvas.shape[1], canvas.shape[0])
    thickness = line_thickness(frame[0])
    unseen_seconds = unseen_seconds or {}
    opacities = [
        1.0 if result.detected else coasting_opacity(unseen_seconds.get(result.track_id or "")) for result in results
    ]
    colors = [box_color(result) for result in results]
    for result, color, opacity in zip(results, colors, opacities):
        if result.detected:
            x0, y0, x1, y1 = box_rectangle(result)
            cv2.rectangle(canvas, (x0, y0), (x1, y1), color, thickness)
        else:
            draw_dashed_rectangle(canvas, box_rectangle(result), color, opacity)
    labels = plan_labels(results, frame, [opacity > 0 for opacity in opacities])
    for label in labels:
        if label.leader is not None:
            # A dark edge keeps the thin line visible on any background.
            cv2.line(canvas, *label.leader, TEXT_COLOR_BGR, 3, cv2.LINE_AA)
            cv2.line(canvas, *label.leader, colors[label.face], 1, cv2.LINE_AA)
    # Labels after all boxes and leader lines, so no line crosses a label.
    for label in labels:
        x0, y0, x1, y1 = label.rectangle
        cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), colors[label.face], cv2.FILLED)
        _, _, line_height = block_size(label.lines, label.font_scale)
        text = text_thickness(label.font_scale)
        for row, line in enumerate(label.lines):
            (_, _), baseline = cv2.getTextSize(line, FONT, label.font_scale, text)
            origin = (x0 + 2, y0 + (row + 1) * line_height - baseline - 1)
            cv2.putText(canvas, line, origin, FONT, label.font_scale, TEXT_COLOR_BGR, text, cv2.LINE_AA)
    return canvas


class Overlay:
    """:func:`draw_results` for a stream: remembers when each track was last detected, so that a
    coasting track fades out. Time is the frames' clock (seconds); when it goes back (a replayed
    bag), everything is forgotten. Callbacks of several threads may share one."""

    def __init__(self) -> None:
        self.last_detected: dict[str, float] = {}
        self.last_timestamp: float | None = None
        self.lock = threading.Lock()

    def unseen_seconds(self, results: Sequence[FaceResult], timestamp: float) -> dict[str, float]:
        """For each track of ``results``, how long since it was last detected (0 for a detected one)."""
        with self.lock:
            if self.last_timestamp is not None and timestamp < self.last_timestamp:
                self.last_detected.clear()
            self.last_timestamp = timestamp
            tracked = {result.track_id: result for result in results if result.track_id is not None}
            for track_id, result in tracked.items():
                if result.detected or track_id not in self.last_detected:
                    self.last_detected[track_id] = timestamp
            self.last_detected = {track: seen for track, seen in self.last_detected.items() if track in tracked}
            return {track: timestamp - seen for track, seen in self.last_detected.items()}

    def draw(self, image: np.ndarray, results: Sequence[FaceResult], timestamp: float) -> np.ndarray:
        return draw_results(image, results, self.unseen_seconds(results, timestamp))
