"""What both ROS 1 nodes share: private parameters, the ready topic, ``~enable``, diagnostics, the log."""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable

import rospy
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, SetBoolRequest, SetBoolResponse

from face_affect.errors import MissingPackageError, ModelError, SettingsError
from face_affect.node_core.latest import WorkerCounts
from face_affect.node_core.memory import keep_large_blocks_in_heap, release_free_memory
from face_affect.ros.diagnostics import NodeDiagnostics, NodeStatus
from face_affect.settings import Settings, load_settings


class RospyHost:
    """The node core's :class:`~face_affect.node_core.host.NodeHost`: rospy's name, clock and log."""

    @property
    def name(self) -> str:
        return rospy.get_name()

    def now(self) -> float:
        return rospy.get_time()

    def info(self, text: str) -> None:
        rospy.loginfo(text)

    def warn(self, text: str) -> None:
        rospy.logwarn(text)

    def error(self, text: str) -> None:
        rospy.logerr(text)


ROSPY_HOST = RospyHost()


class TopicOutput:
    """A rospy publisher as the core's :class:`~face_affect.node_core.host.Output`."""

    def __init__(self, publisher: rospy.Publisher) -> None:
        self.publisher = publisher
        self.name = publisher.resolved_name

    def publish(self, message: Any) -> None:
        self.publisher.publish(message)

    def subscribed(self) -> bool:
        return self.publisher.get_num_connections() > 0


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
        rospy.loginfo(f"{rospy.get_name()}: glibc's allocation left as it is (see face_affect.node_core.memory)")
    try:
        node_factory()  # its subscribers keep it alive while rospy spins
    except (ModelError, SettingsError, MissingPackageError) as error:
        rospy.logfatal(f"{rospy.get_name()}: cannot start: {error}")
        sys.exit(1)
    rospy.spin()
