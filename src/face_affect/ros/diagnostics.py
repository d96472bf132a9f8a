"""``/diagnostics`` from each node: the first thing an operator checks when the robot ignores people.

One ``diagnostic_msgs/DiagnosticStatus`` per node and period: input and processing
rates, time per frame, faces per frame, frames dropped as stale or rejected as
malformed, frames whose processing failed, and the model files in use. The level says
what needs a look: ERROR when most frames of the period failed, WARN for any failure, a
silent camera or bad frames, OK otherwise (also while paused by ``~enable``); a failure's
message is the last error's text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import rospy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from face_affect.ros.latest import WorkerCounts


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


def node_status(
    name: str,
    window: Window,
    enabled: bool,
    input_topic: str,
    model_files: Sequence[str],
    silent_after: float,
    extra_values: dict[str, str] | None = None,
) -> DiagnosticStatus:
    """The status of one node over one window (no master needed, so it is unit-tested)."""
    input_rate, processed_rate = window.received / window.seconds, window.processed / window.seconds
    mean_milliseconds = 1000.0 * window.processing_seconds / window.processed if window.processed else 0.0
    faces_per_frame = window.faces / window.processed if window.processed else 0.0
    summary = (
        f"{input_rate:.1f} Hz in, {processed_rate:.1f} Hz processed, "
        f"{mean_milliseconds:.1f} ms per frame, {faces_per_frame:.2f} faces per frame"
    )
    level, message = DiagnosticStatus.OK, summary
    if not enabled:
        message = "paused (~enable false)"
    elif window.skipped and not window.processed:
        message = f"idle: {window.skipped} frames skipped, nobody subscribes to the output"
    elif window.seconds_since_input is None or window.seconds_since_input > silent_after:
        level = DiagnosticStatus.WARN
        message = (
            f"no input on {input_topic} yet"
            if window.seconds_since_input is None
            else f"no input on {input_topic} for {window.seconds_since_input:.0f} s"
        )
    elif window.errors and window.errors >= window.processed:
        level = DiagnosticStatus.ERROR
        message = f"{window.errors} of {window.errors + window.processed} frames failed: {window.last_error}"
    elif window.errors:
        level = DiagnosticStatus.WARN
        message = f"{window.errors} of {window.errors + window.processed} frames failed: {window.last_error}; {summary}"
    elif window.rejected:
        level = DiagnosticStatus.WARN
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
    return DiagnosticStatus(
        level=level,
        name=f"face_affect: {name}",
        message=message,
        hardware_id="",
        values=[KeyValue(key=key, value=value) for key, value in values.items()],
    )


class NodeDiagnostics:
    """Publishes :func:`node_status` on ``/diagnostics`` every ``period`` seconds."""

    def __init__(
        self,
        counts: WorkerCounts,
        input_topic: str,
        model_files: Sequence[str],
        is_enabled: Callable[[], bool],
        period: float,
        silent_after: float,
        extra_values: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        if period <= 0:
            raise ValueError(f"diagnostics_period must be positive, got {period}")
        self.counts = counts
        self.input_topic = input_topic
        self.model_files = list(model_files)
        self.is_enabled = is_enabled
        self.silent_after = silent_after
        self.extra_values = extra_values
        self.previous = replace(counts)
        self.previous_time = time.monotonic()
        self.publisher = rospy.Publisher("/diagnostics", DiagnosticArray, queue_size=2)
        self.timer = rospy.Timer(rospy.Duration(period), self.publish)

    def publish(self, _event: rospy.timer.TimerEvent | None = None) -> None:
        now = time.monotonic()
        current = replace(self.counts)
        window = window_between(
            self.previous, current, max(now - self.previous_time, 1e-6), self.counts.take_longest(), now
        )
        self.previous, self.previous_time = current, now
        status = node_status(
            rospy.get_name(),
            window,
            self.is_enabled(),
            self.input_topic,
            self.model_files,
            self.silent_after,
            self.extra_values() if self.extra_values else None,
        )
        array = DiagnosticArray(status=[status])
        array.header.stamp = rospy.Time.now()
        self.publisher.publish(array)

    def stop(self) -> None:
        self.timer.shutdown()
