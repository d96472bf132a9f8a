"""What both nodes share: private parameters, the ready topic, log lines."""

from __future__ import annotations

import sys
import threading
import traceback
from typing import Callable

import rospy
from std_msgs.msg import Bool, Header
from std_srvs.srv import SetBool, SetBoolRequest, SetBoolResponse

from face_affect.errors import MissingPackageError, ModelError, SettingsError
from face_affect.ros.diagnostics import NodeDiagnostics, NodeStatus
from face_affect.ros.latest import WorkerCounts
from face_affect.ros.memory import keep_large_blocks_in_heap, release_free_memory
from face_affect.ros.stamps import StampLimits
from face_affect.ros.throttle import ThrottledLog
from face_affect.settings import Settings, load_settings


def private_settings() -> Settings:
    """The node's private parameters, checked as the library checks them (a typo stops the node)."""
    return load_settings(overrides=rospy.get_param("~", {}))


def publish_ready() -> rospy.Publisher:
    """Latched ``~ready``: tests and launch scripts wait on it instead of sleeping."""
    publisher = rospy.Publisher("~ready", Bool, queue_size=1, latch=True)
    publisher.publish(Bool(data=True))
    return publisher


class EnableService:
    """``~enable`` (std_srvs/SetBool): pause a node to save CPU while nobody is around, resume later.

    Pausing unsubscribes the node's input, so a paused node costs nothing, not
    even the deserialisation of camera frames.
    """

    def __init__(self, pause: Callable[[], None], resume: Callable[[], None]) -> None:
        self.enabled = True
        self._pause = pause
        self._resume = resume
        self._lock = threading.Lock()
        self.service = rospy.Service("~enable", SetBool, self.handle)

    def handle(self, request: SetBoolRequest) -> SetBoolResponse:
        with self._lock:
            if request.data != self.enabled:
                (self._resume if request.data else self._pause)()
                self.enabled = request.data
                rospy.loginfo(f"{rospy.get_name()}: {'resumed' if request.data else 'paused'} by ~enable")
        return SetBoolResponse(success=True, message="processing" if self.enabled else "paused")


def release_memory_periodically(period: float) -> rospy.Timer:
    """Every ``period`` seconds, heap memory freed by large messages goes back to the system (:mod:`memory`)."""
    return rospy.Timer(rospy.Duration(period), lambda _event: release_free_memory())


def start_diagnostics(
    name: str,
    settings: Settings,
    counts: WorkerCounts,
    input_topic: str,
    files: list[str],
    enable: EnableService,
    extra_values: Callable[[], dict[str, str]] | None = None,
) -> NodeDiagnostics:
    status = NodeStatus(
        name,
        counts,
        input_topic,
        files,
        lambda: enable.enabled,
        silent_after=settings.diagnostics_silent_after,
        min_rate=settings.diagnostics_min_rate,
        max_delay=settings.diagnostics_max_delay,
        max_ahead=settings.stamp_max_ahead,
        extra_values=extra_values,
    )
    return NodeDiagnostics(status, settings.diagnostics_period)


def describe_counts(what: str, counts: WorkerCounts) -> str:
    return (
        f"{what}: {counts.processed} processed in {counts.mean_milliseconds:.1f} ms on average, "
        f"{counts.dropped} dropped as stale, of {counts.received} received"
        + (f", {counts.skipped} skipped with nobody subscribed" if counts.skipped else "")
    )


class WorkerErrorLog:
    """Logs a worker's failures: the first with its traceback, the rest as throttled one-line errors."""

    def __init__(self) -> None:
        self.logged_traceback = False
        self.errors = ThrottledLog(rospy.logerr)

    def __call__(self, error: Exception) -> None:
        if not self.logged_traceback:
            self.logged_traceback = True
            text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            rospy.logerr(f"{rospy.get_name()}: failed on a message (later failures in one line):\n{text}")
            return
        self.errors(f"{rospy.get_name()}: {type(error).__name__}: {error}")


def run_node(name: str, node_factory: Callable[[], object]) -> None:
    """Starts a node; a bad model or setting, or a package a setting needs, ends it with one fatal
    line and exit status 1.

    A traceback as the only message would leave an integrator guessing which file is wrong;
    any other error is a bug and keeps its traceback. Large messages are received into
    heap memory that is reused (:mod:`memory`).
    """
    heap_tuned = keep_large_blocks_in_heap()
    rospy.init_node(name)
    if not heap_tuned:
        rospy.loginfo(f"{rospy.get_name()}: glibc's allocation left as it is (see face_affect.ros.memory)")
    try:
        node_factory()  # its subscribers keep it alive while rospy spins
    except (ModelError, SettingsError, MissingPackageError) as error:
        rospy.logfatal(f"{rospy.get_name()}: cannot start: {error}")
        sys.exit(1)
    rospy.spin()


def frame_seconds(header: Header, limits: StampLimits) -> float:
    """The frame's time for tracking: its stamp checked against the clock (:class:`StampError` if far off),
    or the time of arrival for an unstamped frame."""
    return limits.frame_seconds(header.stamp.to_sec(), rospy.get_time())
