"""``record_results`` (ROS 2): what ``make demo-ros2`` keeps, written by the core's
:class:`~face_affect.node_core.recorder.ResultRecorder`.

Once it has recorded ``duration`` seconds it writes the summary and exits 0; ``demo.launch.py`` ends the
launch when it exits (its ``on_exit``), as ROS 1's recorder ends its roslaunch.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image

from face_affect.msg import FaceAffectArray
from face_affect.node_core.recorder import ResultRecorder
from face_affect.ros2.node import ROS2_KIT, end_spin_on_signals


class RecordingNode:
    """The recorder's parameters (as ROS 1's ``~output_dir``, ``~duration``, ``~image_interval``,
    ``~startup_timeout``) and subscriptions."""

    def __init__(self, node: Node) -> None:
        self.node = node
        output_directory = Path(node.declare_parameter("output_dir", "demo_output").value).resolve()
        self.duration = float(node.declare_parameter("duration", 0.0).value)
        self.startup_timeout = float(node.declare_parameter("startup_timeout", 120.0).value)
        image_interval = float(node.declare_parameter("image_interval", 1.0).value)
        self.recorder = ResultRecorder(output_directory, image_interval, ROS2_KIT, node.get_logger().warning)
        self.subscriptions = [
            node.create_subscription(FaceAffectArray, "results", self.recorder.receive_results, QoSProfile(depth=30)),
            node.create_subscription(Image, "annotated", self.recorder.receive_annotated, QoSProfile(depth=2)),
        ]

    def record(self, executor: SingleThreadedExecutor) -> int:
        """Records for ``duration`` seconds after the first result (0: until Ctrl-C); returns the exit
        status: 1 when no result came within ``startup_timeout`` seconds."""
        name = self.node.get_fully_qualified_name()
        logger = self.node.get_logger()
        if not spin_until(executor, lambda: self.recorder.has_results, self.startup_timeout):
            logger.error(f"{name}: no results within {self.startup_timeout:g} s")
            self.recorder.close()
            return 1
        spin_until(executor, lambda: False, self.duration if self.duration > 0 else math.inf)
        for subscription in self.subscriptions:
            self.node.destroy_subscription(subscription)
        summary = self.recorder.finish()
        logger.info(f"{name}: recording done\n{summary}")
        return 0


def spin_until(executor: SingleThreadedExecutor, done: Callable[[], bool], seconds: float) -> bool:
    """Spins until ``done()``, ``seconds`` have passed or Ctrl-C; returns ``done()``."""
    deadline = time.monotonic() + seconds
    try:
        while not done() and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=min(0.1, max(0.0, deadline - time.monotonic())))
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    return done()


def main() -> None:
    # Ctrl-C ends the recording (and writes the summary), not the context under it.
    end_spin_on_signals()
    rclpy.init(args=sys.argv, signal_handler_options=SignalHandlerOptions.NO)
    node = Node("record_results")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    status = RecordingNode(node).record(executor)
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown()
    sys.exit(status)
