"""What both nodes share: private parameters, the ready topic, log lines."""

from __future__ import annotations

import os
import sys
import threading
from typing import Callable

import rospkg
import rospy
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, SetBoolRequest, SetBoolResponse

from face_affect.classifier import ModelError
from face_affect.ros.diagnostics import NodeDiagnostics
from face_affect.ros.latest import WorkerCounts

MODEL_PARAMETERS = ("gender_model", "emotion_model")


def private_config() -> dict:
    """The node's private parameters as the plain dict the library takes."""
    return resolve_model_paths(rospy.get_param("~", {}))


def resolve_model_paths(config: dict) -> dict:
    """Relative model paths are taken from the package, so one config file
    serves the source tree and an installed package alike."""
    config = dict(config)
    package_path = rospkg.RosPack().get_path("face_affect")
    for key in MODEL_PARAMETERS:
        path = config.get(key)
        if path and not os.path.isabs(path):
            config[key] = os.path.join(package_path, path)
    return config


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


def start_diagnostics(
    config: dict,
    counts: WorkerCounts,
    input_topic: str,
    files: list[str],
    enable: EnableService,
) -> NodeDiagnostics:
    return NodeDiagnostics(
        counts,
        input_topic,
        files,
        lambda: enable.enabled,
        period=float(config.get("diagnostics_period", 1.0)),
        silent_after=float(config.get("diagnostics_silent_after", 5.0)),
    )


def describe_counts(what: str, counts: WorkerCounts) -> str:
    return (
        f"{what}: {counts.processed} processed in {counts.mean_milliseconds:.1f} ms on average, "
        f"{counts.dropped} dropped as stale, of {counts.received} received"
        + (f", {counts.skipped} skipped with nobody subscribed" if counts.skipped else "")
    )


def log_worker_error(error: Exception) -> None:
    rospy.logerr_throttle_identical(10.0, f"{rospy.get_name()}: {type(error).__name__}: {error}")


def run_node(name: str, node_factory: Callable[[], object]) -> None:
    """Starts a node; a bad model or parameter ends it with one fatal line and exit status 1.

    A traceback as the only message would leave an integrator guessing which file is wrong.
    """
    rospy.init_node(name)
    try:
        node_factory()  # its subscribers keep it alive while rospy spins
    except (ModelError, FileNotFoundError, ValueError) as error:
        rospy.logfatal(f"{rospy.get_name()}: cannot start: {error}")
        sys.exit(1)
    rospy.spin()
