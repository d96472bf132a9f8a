"""What both nodes share: private parameters, the ready topic, log lines."""

from __future__ import annotations

import os
import sys
from typing import Callable

import rospkg
import rospy
from std_msgs.msg import Bool

from face_affect.classifier import ModelError
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


def describe_counts(what: str, counts: WorkerCounts) -> str:
    return (
        f"{what}: {counts.processed} processed in {counts.mean_milliseconds:.1f} ms on average, "
        f"{counts.dropped} dropped as stale, of {counts.received} received"
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
