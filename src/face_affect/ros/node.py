"""What both ROS 1 nodes share: private parameters, the ready topic, ``~enable``, diagnostics, the log."""

from __future__ import annotations

import sys
from typing import Callable

import rospy
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, SetBoolResponse

from face_affect.errors import MissingPackageError, ModelError, SettingsError
from face_affect.node_core.diagnostics import DiagnosedWork
from face_affect.node_core.host import EnableSwitch, NodeHost, Output
from face_affect.node_core.memory import keep_large_blocks_in_heap, release_free_memory
from face_affect.ros.diagnostics import NodeDiagnostics, NodeStatus
from face_affect.settings import Settings, load_settings


def rospy_host() -> NodeHost:
    """The node core's host: rospy's node name (after ``init_node``), clock and log."""
    return NodeHost(rospy.get_name(), rospy.get_time, rospy.loginfo, rospy.logwarn, rospy.logerr)


def topic_output(publisher: rospy.Publisher) -> Output:
    return Output(publisher.resolved_name, publisher.publish, publisher.get_num_connections)


def private_settings() -> Settings:
    """The node's private parameters, checked as the library checks them (a typo stops the node)."""
    return load_settings(overrides=rospy.get_param("~", {}))


def publish_ready() -> rospy.Publisher:
    """Latched ``~ready``: tests and launch scripts wait on it instead of sleeping."""
    publisher = rospy.Publisher("~ready", Bool, queue_size=1, latch=True)
    publisher.publish(Bool(data=True))
    return publisher


def enable_service(switch: EnableSwitch) -> rospy.Service:
    """``~enable`` (std_srvs/SetBool) for the core's :class:`~face_affect.node_core.host.EnableSwitch`."""
    return rospy.Service(
        "~enable", SetBool, lambda request: SetBoolResponse(success=True, message=switch.set(request.data))
    )


def release_memory_periodically(period: float) -> rospy.Timer:
    """Every ``period`` seconds, heap memory freed by large messages goes back to the system (:mod:`memory`)."""
    return rospy.Timer(rospy.Duration(period), lambda _event: release_free_memory())


def start_diagnostics(work: DiagnosedWork, settings: Settings, enable: EnableSwitch) -> NodeDiagnostics:
    status = NodeStatus(
        work.task,
        work.counts,
        work.input_topic,
        work.model_files,
        lambda: enable.enabled,
        silent_after=settings.diagnostics_silent_after,
        min_rate=settings.diagnostics_min_rate,
        max_delay=settings.diagnostics_max_delay,
        max_ahead=settings.stamp_max_ahead,
        extra_values=work.extra_values,
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
