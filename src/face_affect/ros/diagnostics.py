"""``/diagnostics`` from each node: the first thing an operator checks when the robot ignores people.

One status per node and period, published by ``diagnostic_updater``'s ``Updater`` as
``<node name>: <task>`` (``face_affect/detector: face detection``). Our own counters give
input and processing rates, time per frame, faces per frame, frames dropped as stale,
rejected as malformed or failed, and the model files in use; ``diagnostic_updater``'s
``FrequencyStatus`` checks the rate of published outputs and its ``TimeStampStatus`` how old
they are (camera stamp to publication), against parameters. The level says what needs a
look: ERROR when most frames of the period failed; WARN for any failure, a silent camera,
bad input, a low output rate or late outputs; OK otherwise (also while paused by
``~enable``). A failure's message is the last error's text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import rospy
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from diagnostic_updater import (
    DiagnosticStatusWrapper,
    DiagnosticTask,
    FrequencyStatus,
    FrequencyStatusParam,
    TimeStampStatus,
    TimeStampStatusParam,
    Updater,
)

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
    window: Window,
    enabled: bool,
    input_topic: str,
    model_files: Sequence[str],
    silent_after: float,
    extra_values: dict[str, str] | None = None,
) -> DiagnosticStatus:
    """The level, message and values of our counters over one window (no master needed, so it is unit-tested)."""
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
        level=level, message=message, values=[KeyValue(key=key, value=value) for key, value in values.items()]
    )


def values_of(status: DiagnosticStatus) -> dict[str, str]:
    return {pair.key: pair.value for pair in status.values}


class OutputRate(FrequencyStatus):
    """``FrequencyStatus`` on published outputs, WARN below ``minimum`` Hz (less its 10% tolerance).

    An empty window is left OK: the counters' status already says why, more precisely
    (paused, idle, no input), where ``FrequencyStatus`` would call it an ERROR.
    """

    def __init__(self, minimum: float) -> None:
        super().__init__(FrequencyStatusParam({"min": minimum}), "output rate")
        self.minimum = minimum

    def run(self, stat: DiagnosticStatusWrapper) -> DiagnosticStatusWrapper:
        stat = super().run(stat)
        if stat.level == DiagnosticStatus.ERROR:  # no events in the window
            stat.summary(DiagnosticStatus.OK, "")
        elif stat.level == DiagnosticStatus.WARN:
            rate = float(values_of(stat)["Actual frequency (Hz)"])
            floor = self.minimum * (1 - self.params.tolerance)
            stat.summary(DiagnosticStatus.WARN, f"publishing at {rate:.1f} Hz, below {floor:.1f} Hz")
        return stat


class OutputDelay(TimeStampStatus):
    """``TimeStampStatus`` on published outputs: WARN when one left more than ``max_delay`` s after its stamp.

    ``TimeStampStatus`` makes late stamps an ERROR and an empty period a WARN; here lateness
    is a WARN (the results still come, only late) and silence is the counters' to report.
    """

    def __init__(self, max_delay: float, max_ahead: float) -> None:
        super().__init__(TimeStampStatusParam(min_acceptable=-max_ahead, max_acceptable=max_delay), "output delay")

    def run(self, stat: DiagnosticStatusWrapper) -> DiagnosticStatusWrapper:
        stat = super().run(stat)
        found = values_of(stat)
        latest, earliest = float(found["Latest timestamp delay:"]), float(found["Earliest timestamp delay:"])
        if latest > self.params.max_acceptable:
            stat.summary(
                DiagnosticStatus.WARN,
                f"outputs up to {latest:.2f} s after their frame's stamp (diagnostics_max_delay "
                f"{self.params.max_acceptable:g} s)",
            )
        elif earliest < self.params.min_acceptable:
            stat.summary(DiagnosticStatus.WARN, f"outputs stamped up to {-earliest:.2f} s ahead of the clock")
        else:
            stat.summary(DiagnosticStatus.OK, "")
        return stat


class NodeStatus(DiagnosticTask):
    """One node's status: our counters over the last period, merged with the output rate and delay checks.

    The node calls :meth:`published` for each output, which feeds both checks.
    """

    def __init__(
        self,
        name: str,
        counts: WorkerCounts,
        input_topic: str,
        model_files: Sequence[str],
        is_enabled: Callable[[], bool],
        silent_after: float,
        min_rate: float,
        max_delay: float,
        max_ahead: float,
        extra_values: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        super().__init__(name)
        self.counts = counts
        self.input_topic = input_topic
        self.model_files = list(model_files)
        self.is_enabled = is_enabled
        self.silent_after = silent_after
        self.rate = OutputRate(min_rate)
        self.delay = OutputDelay(max_delay, max_ahead)
        self.extra_values = extra_values
        self.previous = replace(counts)
        self.previous_time = time.monotonic()

    def published(self, stamp: rospy.Time) -> None:
        """One output left for a frame stamped ``stamp`` (zero: unstamped, no delay to check)."""
        self.rate.tick()
        if not stamp.is_zero():
            self.delay.tick(stamp)

    def run(self, stat: DiagnosticStatusWrapper) -> DiagnosticStatusWrapper:
        now = time.monotonic()
        current = replace(self.counts)
        window = window_between(
            self.previous, current, max(now - self.previous_time, 1e-6), self.counts.take_longest(), now
        )
        self.previous, self.previous_time = current, now
        enabled = self.is_enabled()
        counters = node_status(
            window,
            enabled,
            self.input_topic,
            self.model_files,
            self.silent_after,
            self.extra_values() if self.extra_values else None,
        )
        stat.summary(counters)
        stat.values = list(counters.values)
        for check in (self.rate, self.delay):
            result = check.run(DiagnosticStatusWrapper())
            stat.values.extend(result.values)
            if enabled and result.level > DiagnosticStatus.OK:
                stat.mergeSummary(result)
        return stat


class NodeDiagnostics:
    """Publishes a :class:`NodeStatus` on ``/diagnostics`` every ``period`` seconds through an ``Updater``."""

    def __init__(self, status: NodeStatus, period: float) -> None:
        if period <= 0:
            raise ValueError(f"diagnostics_period must be positive, got {period}")
        self.status = status
        self.updater = Updater()
        self.updater.setHardwareID("none")  # software only; an empty id makes the Updater warn
        self.updater.add(status)
        self.timer = rospy.Timer(rospy.Duration(period), self.publish)

    def published(self, stamp: rospy.Time) -> None:
        self.status.published(stamp)

    def publish(self, _event: rospy.timer.TimerEvent | None = None) -> None:
        self.updater.force_update()

    def stop(self) -> None:
        self.timer.shutdown()
