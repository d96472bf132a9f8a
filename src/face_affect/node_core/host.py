"""What the node core needs of a running node: its name, its clock and its log, and its outputs."""

from __future__ import annotations

import traceback
from typing import Any, Protocol

from face_affect.node_core.latest import WorkerCounts
from face_affect.node_core.throttle import ThrottledLog


class NodeHost(Protocol):
    """A rospy or rclpy node as the core sees it."""

    name: str

    def now(self) -> float:
        """The node's clock in seconds (simulated time when the node uses it)."""

    def info(self, text: str) -> None: ...

    def warn(self, text: str) -> None: ...

    def error(self, text: str) -> None: ...


class Output(Protocol):
    """A publisher as the core sees it."""

    name: str

    def publish(self, message: Any) -> None: ...

    def subscribed(self) -> bool:
        """True while anyone subscribes to the topic."""


class WorkerErrorLog:
    """Logs a worker's failures: the first with its traceback, the rest as throttled one-line errors."""

    def __init__(self, host: NodeHost) -> None:
        self.host = host
        self.logged_traceback = False
        self.errors = ThrottledLog(host.error)

    def __call__(self, error: Exception) -> None:
        if not self.logged_traceback:
            self.logged_traceback = True
            text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            self.host.error(f"{self.host.name}: failed on a message (later failures in one line):\n{text}")
            return
        self.errors(f"{self.host.name}: {type(error).__name__}: {error}")


def describe_counts(what: str, counts: WorkerCounts) -> str:
    return (
        f"{what}: {counts.processed} processed in {counts.mean_milliseconds:.1f} ms on average, "
        f"{counts.dropped} dropped as stale, of {counts.received} received"
        + (f", {counts.skipped} skipped with nobody subscribed" if counts.skipped else "")
    )
