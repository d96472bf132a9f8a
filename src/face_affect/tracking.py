"""Tracking by detection: each frame's face boxes joined to the people already seen.

A :class:`Track` is one person's face over time. Each frame, :meth:`FaceTracker.update`

1. predicts every track's box to the frame's time with a constant-velocity Kalman filter
   (:class:`BoxFilter`), so a face keeps its track through short misses and camera pans;
2. scores each (track, box) pair by overlap, or failing that by centre distance gated by
   the two sizes, and solves the assignment optimally (``scipy.optimize.linear_sum_assignment``);
3. updates the matched tracks, starts a track for each unmatched box, and ends tracks.

Its lifecycle is in seconds or frames, whichever is longer, so it behaves the same at 0.5 Hz and
60 Hz: a track is *confirmed* (REP-155's "tracked") once seen in ``confirm_hits`` frames, a track
not yet confirmed ends at its first miss, and any track ends once unseen for ``timeout`` seconds
and for ``timeout_frames`` of the camera's frame intervals (the median of the recent ones, so one
camera gap does not stretch it). Without the frame count, a still scene published below 0.7 Hz
never kept a track from one frame to the next, and so never yielded a face. Ids are strings
(as REP-155 asks), never reused, even across :meth:`FaceTracker.reset` or a restarted process (:func:`new_track_id`).

Bad input never crashes it and never lets one id point to two people: boxes that are
empty, not finite or outside the frame are dropped (counted in ``rejected_boxes``), and
time that goes backwards (a replayed bag) ends every track, so no id continues across
the jump.
"""

from __future__ import annotations

import itertools
import logging
import math
import secrets
import statistics
import string
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from face_affect.geometry import clip_to_frame, iou_matrix
from face_affect.settings import DEFAULTS, Settings
from face_affect.types import FaceBox

LOGGER = logging.getLogger(__name__)
FRAME_INTERVALS = 3
"""Recent frame intervals whose median is the camera's frame interval: one gap does not stretch it,
and a camera that turns slow is followed from its second slow frame."""
UNMATCHABLE = 1e6
"""Assignment cost of a pair outside the gates; such pairs are never kept."""
_IDS = itertools.count(1)
"""Process-wide, so two trackers (or one reset) never hand out the same id."""
_PROCESS = "".join(secrets.choice(string.ascii_lowercase) for _ in range(5))
"""Random per process, so a respawned detector never hands out an id its predecessor used."""


def new_track_id() -> str:
    """``<process>_<n>``, e.g. ``qkzfa_12``: unique across processes and never reused within one."""
    return f"{_PROCESS}_{next(_IDS)}"


class BoxFilter:
    """A Kalman filter on a box: its centre moves at a constant velocity, its size drifts.

    The four coordinates are filtered apart (the model and the measurement couple none of
    them), as two constant-velocity filters for the centre and two random walks for the size,
    in plain floats: a 4x4 matrix inverse through LAPACK cost milliseconds per frame here.
    Time steps are in seconds and the process noise grows with them, so a track that was
    not seen for a while has a wide uncertainty. The size has no velocity: a partly hidden
    face gives a box too small for a frame or two, and a size velocity learnt from it would
    shrink the prediction further while the face is hidden. A detection counts less the
    lower its score (a partial face scores low).
    """

    # Standard deviations, as fractions of the box width: of a measured box at score 1, of the
    # acceleration (per second squared) that the constant-velocity model does not explain, and of
    # the size's drift per square root of a second.
    MEASUREMENT_NOISE = 0.05
    ACCELERATION_NOISE = 2.0
    SIZE_DRIFT = 0.3

    def __init__(self, box: FaceBox) -> None:
        centre_x, centre_y, width, height = box_centre_size(box)
        size = max(box.width, 1)
        # Per centre coordinate: position, velocity and their covariance [pp, pv, vv].
        self.centres = [
            [centre_x, 0.0, 0.1 * size**2, 0.0, 1.0 * size**2],
            [centre_y, 0.0, 0.1 * size**2, 0.0, size**2],
        ]
        # Per size dimension: value and variance.
        self.sizes = [[width, 0.1 * size**2], [height, 0.1 * size**2]]

    @property
    def state(self) -> np.ndarray:
        """``[cx, cy, w, h, vx, vy]``."""
        (x, vx, *_), (y, vy, *_) = self.centres
        return np.array([x, y, self.sizes[0][0], self.sizes[1][0], vx, vy])

    def predicted(self, seconds: float) -> np.ndarray:
        """The state ``seconds`` ahead, without changing the filter."""
        state = self.state
        state[0:2] += seconds * state[4:6]
        return state

    def predict(self, seconds: float) -> None:
        size = max(self.sizes[0][0], 1.0)
        acceleration = (self.ACCELERATION_NOISE * size) ** 2
        for centre in self.centres:  # piecewise-constant white acceleration
            position, velocity, pp, pv, vv = centre
            centre[0] = position + seconds * velocity
            centre[2] = pp + 2 * seconds * pv + seconds**2 * vv + seconds**4 / 4 * acceleration
            centre[3] = pv + seconds * vv + seconds**3 / 2 * acceleration
            centre[4] = vv + seconds**2 * acceleration
        for dimension in self.sizes:
            dimension[1] += seconds * (self.SIZE_DRIFT * size) ** 2

    def correct(self, box: FaceBox) -> None:
        confidence = min(1.0, max(0.1, box.score)) if 0.0 < box.score <= 1.0 else 1.0
        noise = (self.MEASUREMENT_NOISE * max(box.width, 1) / confidence) ** 2
        measured = box_centre_size(box)
        for centre, value in zip(self.centres, measured[:2]):
            position, velocity, pp, pv, vv = centre
            innovation, spread = value - position, pp + noise
            gain_position, gain_velocity = pp / spread, pv / spread
            centre[0] = position + gain_position * innovation
            centre[1] = velocity + gain_velocity * innovation
            centre[2] = (1 - gain_position) * pp
            centre[3] = (1 - gain_position) * pv
            centre[4] = vv - gain_velocity * pv
        for dimension, value in zip(self.sizes, measured[2:]):
            estimate, variance = dimension
            gain = variance / (variance + noise)
            dimension[0] = max(1.0, estimate + gain * (value - estimate))
            dimension[1] = (1 - gain) * variance


def box_centre_size(box: FaceBox) -> tuple[float, float, float, float]:
    return (box.x + box.width / 2, box.y + box.height / 2, float(box.width), float(box.height))


def box_from_state(state: np.ndarray, score: float) -> FaceBox:
    centre_x, centre_y, width, height = (float(value) for value in state[:4])
    width, height = max(width, 1.0), max(height, 1.0)
    return FaceBox(round(centre_x - width / 2), round(centre_y - height / 2), round(width), round(height), score)


@dataclass
class Track:
    """One person's face over time."""

    track_id: str
    box: FaceBox
    """The box of the last frame: measured when :attr:`detected`, else predicted."""
    first_seen: float
    last_seen: float
    hits: int = 1
    confirmed: bool = False
    detected: bool = True
    """Whether a detection matched this track in the last update (false while it coasts)."""
    filter: BoxFilter = field(repr=False, default=None)  # type: ignore[assignment]
    last_update: float = 0.0

    def __post_init__(self) -> None:
        if self.filter is None:
            self.filter = BoxFilter(self.box)
        self.last_update = self.last_seen

    def predicted_box(self, timestamp: float) -> FaceBox:
        return box_from_state(self.filter.predicted(max(0.0, timestamp - self.last_update)), self.box.score)


@dataclass(frozen=True)
class TrackerParameters:
    """The tracker's settings (see the README's parameter table), taken from :class:`Settings`."""

    confirm_hits: int = DEFAULTS.track_confirm_hits
    timeout: float = DEFAULTS.track_timeout
    timeout_frames: int = DEFAULTS.track_timeout_frames
    max_centre_distance: float = DEFAULTS.track_max_centre_distance
    max_size_ratio: float = DEFAULTS.track_max_size_ratio
    max_tracks: int = DEFAULTS.track_max_tracks

    @classmethod
    def from_settings(cls, settings: Settings) -> TrackerParameters:
        return cls(
            confirm_hits=settings.track_confirm_hits,
            timeout=settings.track_timeout,
            timeout_frames=settings.track_timeout_frames,
            max_centre_distance=settings.track_max_centre_distance,
            max_size_ratio=settings.track_max_size_ratio,
            max_tracks=settings.track_max_tracks,
        )


class FaceTracker:
    """Keeps :class:`Track` objects from frame to frame (see the module's docstring)."""

    def __init__(self, parameters: TrackerParameters | None = None) -> None:
        self.parameters = parameters or TrackerParameters()
        self.tracks: list[Track] = []
        self.last_timestamp: float | None = None
        self.frame_intervals: deque[float] = deque(maxlen=FRAME_INTERVALS)
        self.rejected_boxes = 0
        self.resets = 0

    def reset(self) -> None:
        """Ends every track; ids stay unique (new tracks get new ids)."""
        self.tracks = []
        self.last_timestamp = None
        self.frame_intervals.clear()
        self.resets += 1

    @property
    def timeout(self) -> float:
        """Seconds a track survives unseen: ``timeout``, or ``timeout_frames`` frame intervals if longer."""
        if not self.frame_intervals:
            return self.parameters.timeout
        frame_interval = statistics.median(self.frame_intervals)  # of 3 values: numpy's dispatch costs more
        return max(self.parameters.timeout, self.parameters.timeout_frames * frame_interval)

    def predicted_boxes(self, timestamp: float) -> list[tuple[Track, FaceBox]]:
        """Each track's box predicted to ``timestamp``: where to look for it again."""
        return [(track, track.predicted_box(timestamp)) for track in self.tracks]

    def valid_boxes(self, boxes: Sequence[FaceBox], frame_size: tuple[int, int] | None) -> list[FaceBox]:
        """``boxes`` without empty, non-finite or outside-the-frame ones, clipped to the frame."""
        kept = []
        for box in boxes:
            values = (box.x, box.y, box.width, box.height, box.score)
            if not all(math.isfinite(value) for value in values) or box.width <= 0 or box.height <= 0:
                self.rejected_boxes += 1
                continue
            if frame_size is not None:
                box = clip_to_frame(box, frame_size)
                if box is None:
                    self.rejected_boxes += 1
                    continue
            kept.append(box)
        return kept

    def update(
        self, boxes: Sequence[FaceBox], timestamp: float, frame_size: tuple[int, int] | None = None
    ) -> list[Track]:
        """Joins the frame's ``boxes`` (any order) to the tracks at ``timestamp`` (seconds); returns the
        tracks alive after it, confirmed or not, oldest first.

        ``frame_size`` (width, height) clips boxes to the frame and drops those outside it.
        """
        if not math.isfinite(timestamp):
            raise ValueError(f"timestamp must be finite, got {timestamp}")
        if self.last_timestamp is not None and timestamp < self.last_timestamp:
            LOGGER.warning(
                "time went back from %.3f to %.3f s (a replayed bag?): every track ends", self.last_timestamp, timestamp
            )
            self.reset()
        boxes = self.valid_boxes(boxes, frame_size)
        if self.last_timestamp is not None:
            self.frame_intervals.append(timestamp - self.last_timestamp)
        # Tracks past their timeout end before they can take a box: after a jump in time, the person
        # at the same place may be someone else.
        timeout = self.timeout
        self.tracks = [track for track in self.tracks if timestamp - track.last_seen <= timeout]
        for track in self.tracks:
            track.filter.predict(timestamp - track.last_update)
            track.last_update = timestamp
            track.detected = False
        matches, unmatched_boxes = self.associate(boxes)
        for track, box in matches:
            track.filter.correct(box)
            track.box = box
            track.last_seen = timestamp
            track.hits += 1
            track.detected = True
            track.confirmed = track.confirmed or track.hits >= self.parameters.confirm_hits
        for box in unmatched_boxes:
            if len(self.tracks) >= self.parameters.max_tracks:
                self.rejected_boxes += 1
                continue
            track = Track(new_track_id(), box, first_seen=timestamp, last_seen=timestamp)
            track.confirmed = self.parameters.confirm_hits <= 1
            self.tracks.append(track)
        for track in self.tracks:
            if not track.detected:
                track.box = self.coasting_box(track, frame_size)
        self.tracks = [track for track in self.tracks if self.alive(track, timestamp, timeout)]
        self.last_timestamp = timestamp
        return list(self.tracks)

    @staticmethod
    def coasting_box(track: Track, frame_size: tuple[int, int] | None) -> FaceBox | None:
        """The predicted box of a track that was not detected, clipped to the frame; ``None`` once it has left."""
        box = box_from_state(track.filter.state, track.box.score)
        return box if frame_size is None else clip_to_frame(box, frame_size)

    @staticmethod
    def alive(track: Track, timestamp: float, timeout: float) -> bool:
        if track.detected:
            return True
        if not track.confirmed or track.box is None:
            return False
        return timestamp - track.last_seen <= timeout

    def associate(self, boxes: list[FaceBox]) -> tuple[list[tuple[Track, FaceBox]], list[FaceBox]]:
        """Optimal pairs of (track, box) inside the gates, and the boxes left over."""
        if not self.tracks or not boxes:
            return [], list(boxes)
        cost = self.costs([box_from_state(track.filter.state, 1.0) for track in self.tracks], boxes)
        rows, columns = linear_sum_assignment(cost)
        matches = [(self.tracks[row], boxes[column]) for row, column in zip(rows, columns) if cost[row, column] < 1.0]
        matched = {id(box) for _, box in matches}
        return matches, [box for box in boxes if id(box) not in matched]

    def costs(self, predicted: list[FaceBox], boxes: list[FaceBox]) -> np.ndarray:
        """``[tracks, boxes]``: half ``1 - IoU``, half the centre distance in box sizes over
        ``max_centre_distance``; pairs farther apart than that, or whose sizes differ by more than
        ``max_size_ratio``, are :data:`UNMATCHABLE`. Overlap decides between near boxes, distance
        still pairs a fast face whose boxes no longer overlap."""
        parameters = self.parameters
        overlap = iou_matrix(np.array([box.corners() for box in predicted]), np.array([box.corners() for box in boxes]))
        tracked = np.array([box_centre_size(box) for box in predicted])
        found = np.array([box_centre_size(box) for box in boxes])
        tracked_size = np.sqrt(tracked[:, 2] * tracked[:, 3])[:, None]
        found_size = np.sqrt(found[:, 2] * found[:, 3])[None, :]
        ratio = np.maximum(tracked_size, found_size) / np.maximum(np.minimum(tracked_size, found_size), 1e-6)
        distance = np.hypot(tracked[:, None, 0] - found[None, :, 0], tracked[:, None, 1] - found[None, :, 1])
        relative_distance = distance / np.maximum((tracked_size + found_size) / 2, 1e-6)
        gate = max(parameters.max_centre_distance, 1e-6)
        cost = 0.5 * (1.0 - overlap) + 0.5 * np.minimum(relative_distance / gate, 1.0)
        feasible = (ratio <= parameters.max_size_ratio) & (relative_distance < gate)
        return np.where(feasible, cost, UNMATCHABLE)
