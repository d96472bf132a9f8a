"""The statuses each node publishes on ``/diagnostics``, computed without ROS.

One status per node and period, named ``<node name>: <task>`` (``face_affect/detector: face detection``).
Our own counters give input and processing rates, time per frame, faces per frame, frames dropped as
stale, rejected as malformed or failed, and the model files in use; the output rate and the delay of
outputs (camera stamp to publication) are checked against parameters. The level says what needs a
look: ERROR when most frames of the period failed; WARN for any failure, a silent camera, bad input,
a low output rate or late outputs; OK otherwise (also while paused by ``~enable``). A failure's
message is the last error's text.

ROS 1 checks the output rate and delay with ``diagnostic_updater``'s ``FrequencyStatus`` and
``TimeStampStatus`` (:mod:`face_affect.ros.diagnostics`); ROS 2 has no ``diagnostic_updater`` wheel, so
:class:`OutputChecks` does it there, with the same texts (:func:`rate_warning`, :func:`delay_warning`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from face_affect.node_core.latest import WorkerCounts

OK, WARN, ERROR = 0, 1, 2
"""``diagnostic_msgs/DiagnosticStatus`` levels, the same bytes in ROS 1 and ROS 2."""


@dataclass
class Status:
    """One ``DiagnosticStatus`` before it becomes a message: level, message and key-value pairs in order."""

    level: int
    message: str
    values: dict[str, str]

    def merge(self, other: Status) -> None:
        """``diagnostic_updater``'s ``mergeSummary``: the worse level wins, messages are joined."""
        if other.level > self.level:
            self.level = other.level
        if other.level > OK:
            self.message = f"{self.message}; {other.message}" if self.message else other.message


@dataclass(frozen=True)
class Window:
    """What happened between two diagnostics publications."""

    seconds: float
    received: int
    processed: int
    dropped: int
    skipped: int
    rejected: int
    errors: int
    last_error: str
    faces: int
    processing_seconds: float
    longest_seconds: float
    seconds_since_input: float | None  # None: nothing received yet


def window_between(
    previous: WorkerCounts, current: WorkerCounts, seconds: float, longest_seconds: float, now: float
) -> Window:
    return Window(
        seconds=seconds,
        received=current.received - previous.received,
        processed=current.processed - previous.processed,
        dropped=current.dropped - previous.dropped,
        skipped=current.skipped - previous.skipped,
        rejected=current.rejected - previous.rejected,
        errors=current.errors - previous.errors,
        last_error=current.last_error,
        faces=current.faces - previous.faces,
        processing_seconds=current.processing_seconds - previous.processing_seconds,
        longest_seconds=longest_seconds,
        seconds_since_input=None if current.last_received is None else now - current.last_received,
    )


@dataclass(frozen=True)
class DiagnosedWork:
    """What a node's status describes: its task, its worker's counts, its input, its models, and extra values."""

    task: str
    counts: WorkerCounts
    input_topic: str
    model_files: Sequence[str]
    extra_values: Callable[[], dict[str, str]]


class CounterWindows:
    """Cuts a worker's running counts into one :class:`Window` per diagnostics period."""

    def __init__(self, counts: WorkerCounts) -> None:
        self.counts = counts
        self.previous = replace(counts)
        self.previous_time = time.monotonic()

    def next(self) -> Window:
        now = time.monotonic()
        current = replace(self.counts)
        seconds = max(now - self.previous_time, 1e-6)
        window = window_between(self.previous, current, seconds, self.counts.take_longest(), now)
        self.previous, self.previous_time = current, now
        return window


def node_status(
    window: Window,
    enabled: bool,
    input_topic: str,
    model_files: Sequence[str],
    silent_after: float,
    extra_values: dict[str, str] | None = None,
) -> Status:
    """The level, message and values of our counters over one window (no middleware needed, so it is unit-tested)."""
    input_rate, processed_rate = window.received / window.seconds, window.processed / window.seconds
    mean_milliseconds = 1000.0 * window.processing_seconds / window.processed if window.processed else 0.0
    faces_per_frame = window.faces / window.processed if window.processed else 0.0
    summary = (
        f"{input_rate:.1f} Hz in, {processed_rate:.1f} Hz processed, "
        f"{mean_milliseconds:.1f} ms per frame, {faces_per_frame:.2f} faces per frame"
    )
    level, message = OK, summary
    if not enabled:
        message = "paused (~enable false)"
    elif window.skipped and not window.processed:
        message = f"idle: {window.skipped} frames skipped, nobody subscribes to the output"
    elif window.seconds_since_input is None or window.seconds_since_input > silent_after:
        level = WARN
        message = (
            f"no input on {input_topic} yet"
            if window.seconds_since_input is None
            else f"no input on {input_topic} for {window.seconds_since_input:.0f} s"
        )
    elif window.errors and window.errors >= window.processed:
        level = ERROR
        message = f"{window.errors} of {window.errors + window.processed} frames failed: {window.last_error}"
    elif window.errors:
        level = WARN
        message = f"{window.errors} of {window.errors + window.processed} frames failed: {window.last_error}; {summary}"
    elif window.rejected:
        level = WARN
        message = f"{window.rejected} bad input messages in {window.seconds:.0f} s (see the log); {summary}"
    values = {
        "enabled": str(enabled).lower(),
        "input topic": input_topic,
        "input rate (Hz)": f"{input_rate:.2f}",
        "processed rate (Hz)": f"{processed_rate:.2f}",
        "processing time mean (ms)": f"{mean_milliseconds:.2f}",
        "processing time max (ms)": f"{1000.0 * window.longest_seconds:.2f}",
        "faces per frame": f"{faces_per_frame:.2f}",
        "dropped as stale": str(window.dropped),
        "skipped (no subscriber)": str(window.skipped),
        "rejected as malformed": str(window.rejected),
        "failed (errors)": str(window.errors),
        "last error": window.last_error or "none",
        "seconds since input": "never" if window.seconds_since_input is None else f"{window.seconds_since_input:.1f}",
    }
    values.update(extra_values or {})
    values.update({f"model {index}": path for index, path in enumerate(model_files)})
    return Status(level, message, values)


def rate_warning(rate: float, floor: float) -> str:
    return f"publishing at {rate:.1f} Hz, below {floor:.1f} Hz"


def delay_warning(latest: float, max_delay: float) -> str:
    return f"outputs up to {latest:.2f} s after their frame's stamp (diagnostics_max_delay {max_delay:g} s)"


def ahead_warning(earliest: float) -> str:
    return f"outputs stamped up to {-earliest:.2f} s ahead of the clock"


RATE_TOLERANCE = 0.1
"""A rate this fraction below ``diagnostics_min_rate`` still passes (``FrequencyStatusParam``'s default)."""


class OutputChecks:
    """The output rate and delay over one period, for a ROS without ``diagnostic_updater``.

    :meth:`published` is called for each output with its frame's stamp and the clock (seconds);
    :meth:`take` gives the period's status and starts the next. As in ROS 1, an empty period is
    left OK (the counters say why), a low rate or a late output is a WARN.
    """

    def __init__(self, min_rate: float, max_delay: float, max_ahead: float) -> None:
        self.min_rate = min_rate
        self.max_delay = max_delay
        self.max_ahead = max_ahead
        self.lock = threading.Lock()
        self.events = 0
        self.total = 0
        self.latest: float | None = None
        self.earliest: float | None = None

    def published(self, stamp: float, now: float) -> None:
        """One output for a frame stamped ``stamp`` (zero: unstamped, no delay to check)."""
        with self.lock:
            self.events += 1
            self.total += 1
            if stamp:
                delay = now - stamp
                self.latest = delay if self.latest is None else max(self.latest, delay)
                self.earliest = delay if self.earliest is None else min(self.earliest, delay)

    def take(self, seconds: float) -> Status:
        with self.lock:
            events, latest, earliest = self.events, self.latest, self.earliest
            self.events, self.latest, self.earliest = 0, None, None
            total = self.total
        rate = events / seconds
        status = Status(
            OK,
            "",
            {
                "Events in window": str(events),
                "Events since startup": str(total),
                "Duration of window (s)": f"{seconds:.6f}",
                "Actual frequency (Hz)": f"{rate:.6f}",
                "Minimum acceptable frequency (Hz)": f"{self.min_rate:.6f}",
                "Earliest timestamp delay:": "nan" if earliest is None else f"{earliest:.6f}",
                "Latest timestamp delay:": "nan" if latest is None else f"{latest:.6f}",
                "Earliest acceptable timestamp delay:": f"{-self.max_ahead:.6f}",
                "Latest acceptable timestamp delay:": f"{self.max_delay:.6f}",
            },
        )
        floor = self.min_rate * (1 - RATE_TOLERANCE)
        if events and rate < floor:
            status.merge(Status(WARN, rate_warning(rate, floor), {}))
        if latest is not None and latest > self.max_delay:
            status.merge(Status(WARN, delay_warning(latest, self.max_delay), {}))
        elif earliest is not None and earliest < -self.max_ahead:
            status.merge(Status(WARN, ahead_warning(earliest), {}))
        return status
