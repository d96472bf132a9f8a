"""What the node core needs of a running node: its name, its clock and its log, and its outputs."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from face_affect.node_core.latest import WorkerCounts
from face_affect.node_core.throttle import ThrottledLog


@dataclass(frozen=True)
class NodeHost:
    """A rospy or rclpy node as the core sees it: its name, its clock (seconds) and its log."""

    name: str
    now: Callable[[], float]
    info: Callable[[str], None]
    warn: Callable[[str], None]
    error: Callable[[str], None]


@dataclass(frozen=True)
class Output:
    """A publisher as the core sees it: its topic, its ``publish`` and its count of subscribers."""

    name: str
    publish: Callable[[Any], None]
    subscriber_count: Callable[[], int]

    def subscribed(self) -> bool:
        return self.subscriber_count() > 0


class EnableSwitch:
    """``~enable``: pause a node to save CPU while nobody is around, resume later (the adapters' SetBool service).

    Pausing drops the node's input subscription, so a paused node costs nothing, not even the
    deserialisation of camera frames.
    """

    def __init__(self, host: NodeHost, pause: Callable[[], None], resume: Callable[[], None]) -> None:
        self.enabled = True
        self.host = host
        self._pause = pause
        self._resume = resume
        self._lock = threading.Lock()

    def set(self, enabled: bool) -> str:
        """Pauses or resumes (once: a repeated request changes nothing); the service's answer."""
        with self._lock:
            if enabled != self.enabled:
                (self._resume if enabled else self._pause)()
                self.enabled = enabled
                self.host.info(f"{self.host.name}: {'resumed' if enabled else 'paused'} by ~enable")
        return "processing" if self.enabled else "paused"


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
