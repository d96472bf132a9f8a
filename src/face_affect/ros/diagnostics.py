"""``/diagnostics`` from each ROS 1 node: the first thing an operator checks when the robot ignores people.

The statuses are the core's (:mod:`face_affect.node_core.diagnostics`), published by
``diagnostic_updater``'s ``Updater``; its ``FrequencyStatus`` checks the rate of published
outputs and its ``TimeStampStatus`` how old they are (camera stamp to publication).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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

from face_affect.node_core.diagnostics import (
    CounterWindows,
    Status,
    ahead_warning,
    delay_warning,
    node_status,
    rate_warning,
)
from face_affect.node_core.latest import WorkerCounts


def status_message(status: Status) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=status.level,
        message=status.message,
        values=[KeyValue(key=key, value=value) for key, value in status.values.items()],
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
            stat.summary(DiagnosticStatus.WARN, rate_warning(rate, floor))
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
            stat.summary(DiagnosticStatus.WARN, delay_warning(latest, self.params.max_acceptable))
        elif earliest < self.params.min_acceptable:
            stat.summary(DiagnosticStatus.WARN, ahead_warning(earliest))
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
        self.windows = CounterWindows(counts)

    def published(self, stamp: rospy.Time) -> None:
        """One output left for a frame stamped ``stamp`` (zero: unstamped, no delay to check)."""
        self.rate.tick()
        if not stamp.is_zero():
            self.delay.tick(stamp)

    def run(self, stat: DiagnosticStatusWrapper) -> DiagnosticStatusWrapper:
        window = self.windows.next()
        enabled = self.is_enabled()
        counters = status_message(
            node_status(
                window,
                enabled,
                self.input_topic,
                self.model_files,
                self.silent_after,
                self.extra_values() if self.extra_values else None,
            )
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
