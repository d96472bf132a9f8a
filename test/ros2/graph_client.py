"""What the ROS 2 launch tests share: a ROS domain of their own, the real launch file, and an rclpy client.

Every test launches the installed ``face_affect.launch.py`` (as ``ros2 launch`` would) in a ROS domain
that no other run on this machine holds (a lock file per domain id), with discovery kept on this
machine (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``) and the logs under the build folder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rclpy
from ament_index_python.packages import get_package_share_directory
from launch.actions import IncludeLaunchDescription, RegisterEventHandler
from launch.event_handlers import OnProcessStart
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch_testing.actions import ReadyToTest
from rcl_interfaces.msg import Log, ParameterValue
from rcl_interfaces.srv import GetParameters
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Header

from face_affect.ros2.domains import isolate
from face_affect.ros2.node import ROS2_KIT
from face_affect.ros2.spin_thread import SpinThread
from launch import LaunchDescription

TIMEOUT = 60.0
SHARE = Path(get_package_share_directory("face_affect"))
REPOSITORY = Path(__file__).resolve().parents[2]
CAMERA = "/test_camera/image"
STATUS_NAMES = {
    "detector": "face_affect/detector: face detection",
    "classifier": "face_affect/classifier: face classification",
}


def graph_launch(arguments: dict[str, str], started: list[tuple[str, int]]) -> LaunchDescription:
    """The installed face_affect.launch.py with ``arguments``; ``started`` gets (name, pid) of each process start."""
    isolate()
    return LaunchDescription(
        [
            RegisterEventHandler(
                OnProcessStart(on_start=lambda event, context: started.append((event.action.name, event.pid)))
            ),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(str(SHARE / "launch" / "face_affect.launch.py")),
                launch_arguments={"image": CAMERA, **arguments}.items(),
            ),
            ReadyToTest(),
        ]
    )


class Client:
    """An rclpy node of the test, spun in a thread of its own."""

    def __init__(self, name: str) -> None:
        rclpy.init()
        self.node = Node(name)
        self.spinning = SpinThread(self.node)
        self.camera = self.node.create_publisher(Image, CAMERA, 5)
        self.logs = Collector(self.node, Log, "/rosout", key=None, qos=QoSProfile(depth=1000))

    def close(self) -> None:
        self.spinning.stop()
        self.node.destroy_node()
        rclpy.shutdown()

    def wait_ready(self, node: str) -> None:
        """``~/ready`` (transient-local) of a node of the graph."""
        ready = Collector(self.node, Bool, f"/face_affect/{node}/ready", key=None, qos=latched())
        ready.wait_until(lambda messages: any(message.data for message in messages), f"{node} ready")
        self.node.destroy_subscription(ready.subscription)

    def publish_frame(self, image: np.ndarray, encoding: str = "bgr8", stamp: float | None = None) -> float:
        """Publishes a frame stamped now (or ``stamp``); returns its stamp in seconds."""
        stamp = time.time() if stamp is None else stamp
        header = Header(stamp=ROS2_KIT.time_of(stamp), frame_id="test_camera")
        message = ROS2_KIT.images.to_message(image, encoding, header)
        self.camera.publish(message)
        return ROS2_KIT.seconds_of(message.header.stamp)

    def publish_until(self, message_for: Callable[[], float], collector: Collector, what: str) -> object:
        """Publishes (a frame a second at most) until ``collector`` holds a message with the frame's stamp: the
        camera topic is best effort, and the nodes drop frames that arrive while they work."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            stamp = message_for()
            found = collector.wait_for(stamp, timeout=1.0, required=False)
            if found is not None:
                return found
        raise AssertionError(f"no answer for {what} within {TIMEOUT:g} s")

    def parameters(self, node: str, names: list[str]) -> list[ParameterValue]:
        """The values of a node of the graph's parameters, through its ``get_parameters`` service."""
        service = self.node.create_client(GetParameters, f"/face_affect/{node}/get_parameters")
        try:
            assert service.wait_for_service(timeout_sec=TIMEOUT), f"{node} offers no get_parameters"
            future = service.call_async(GetParameters.Request(names=names))
            deadline = time.monotonic() + TIMEOUT
            while not future.done() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert future.done(), f"{node} did not answer get_parameters"
            return list(future.result().values)
        finally:
            self.node.destroy_client(service)

    def logged(self, node: str, text: str, timeout: float = TIMEOUT) -> None:
        self.logs.wait_until(
            lambda messages: any(message.name == node and text in message.msg for message in messages),
            f"{node} logging {text!r}",
            timeout,
        )


def latched() -> QoSProfile:
    return QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class Collector:
    """The messages of one topic, by their header stamp (``key`` seconds) or in a list (``key`` None)."""

    def __init__(self, node: Node, message_type: type, topic: str, key: str | None = "stamp", qos=10) -> None:
        self.condition = threading.Condition()
        self.by_stamp: dict[float, object] = {}
        self.messages: list = []
        self.key = key
        self.subscription = node.create_subscription(message_type, topic, self.receive, qos)

    def receive(self, message) -> None:
        with self.condition:
            self.messages.append(message)
            if self.key:
                self.by_stamp[ROS2_KIT.stamp_seconds(message.header)] = message
            self.condition.notify_all()

    def wait_for(self, stamp: float, timeout: float = TIMEOUT, required: bool = True):
        with self.condition:
            found = self.condition.wait_for(lambda: stamp in self.by_stamp, timeout)
            if not found and required:
                raise AssertionError(f"no message on {self.subscription.topic_name} stamped {stamp}")
            return self.by_stamp.get(stamp)

    def wait_until(self, condition: Callable[[list], bool], what: str, timeout: float = TIMEOUT) -> list:
        with self.condition:
            if not self.condition.wait_for(lambda: condition(self.messages), timeout):
                raise AssertionError(f"timed out waiting for {what}")
            return list(self.messages)
