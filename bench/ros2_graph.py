"""What the ROS 2 graph costs beside ROS 1: one face at 30 Hz VGA through face_affect.launch.py (Jazzy).

The ROS 2 twin of ``make bench-ros``: the installed launch file under launch's ``LaunchService`` in a
process of its own, in a ROS domain of its own, bgr8 frames of bench/scenes.py's pan published at
``--rate`` Hz with the sensor-data QoS a camera driver uses, and after a warm-up that is not counted,
``--duration`` seconds of what the nodes cost (CPU and memory of their processes from /proc) and what a
client sees (results per frame, latency from stamp to receipt). With ``--ros1-report`` (the JSON of
bench/ros_graph.py, measured just before in the same ``make bench-ros2``) it checks the issue's bar:
the ROS 2 nodes cost at most 1.2 x the ROS 1 nodes. Run it in build/ros2_ws's shell: ``make bench-ros2``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import rclpy
from ament_index_python.packages import get_package_share_directory
from graph_measures import (
    MonitoredProcess,
    PeriodicSamples,
    ReceivedResult,
    latency_figures,
    machine_description,
    sleep_until_next,
)
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from scenes import SCENES, moving_windows
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Header

from face_affect.msg import FaceAffectArray
from face_affect.ros2.domains import isolate
from face_affect.ros2.node import LATCHED_QOS, ROS2_KIT
from face_affect.ros2.spin_thread import SpinThread

IMAGE_TOPIC = "/bench_camera/image_raw"
NODES = ("detector_node", "classifier_node")
COST_RATIO_LIMIT = 1.2
PAN_SECONDS = 3.0
READY_TIMEOUT_SECONDS = 120.0
STARTED = re.compile(r"\[INFO\] \[(?P<name>\w+)-\d+\]: process started with pid \[(?P<pid>\d+)\]")
LAUNCHER = """
import sys
from launch import LaunchDescription, LaunchService
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
service = LaunchService()
service.include_launch_description(LaunchDescription([IncludeLaunchDescription(
    PythonLaunchDescriptionSource(sys.argv[1]), launch_arguments={"image": sys.argv[2]}.items())]))
sys.exit(service.run())
"""


class LaunchedGraph:
    """face_affect.launch.py in a process of its own; its log names the nodes' pids."""

    def __init__(self, log_path: Path) -> None:
        launch_file = Path(get_package_share_directory("face_affect")) / "launch" / "face_affect.launch.py"
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log_path, "w")  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(launch_file), IMAGE_TOPIC],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def pids(self) -> dict[str, int]:
        found = {match["name"]: int(match["pid"]) for match in STARTED.finditer(self.log_path.read_text())}
        missing = [name for name in NODES if name not in found]
        if missing:
            raise RuntimeError(f"no pid for {missing} in {self.log_path}")
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            # Ctrl-C as a terminal gives it, to the whole group: launch ended by SIGINT leaves the nodes to
            # the terminal's SIGINT and only arms its SIGTERM escalation (5 s later).
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


class Client:
    """The camera publisher and the results subscriber, spun in a thread."""

    def __init__(self) -> None:
        rclpy.init()
        self.node = Node("ros2_graph_bench")
        self.camera = self.node.create_publisher(Image, IMAGE_TOPIC, qos_profile_sensor_data)
        self.received: list[ReceivedResult] = []
        self.ready: set[str] = set()
        self.node.create_subscription(FaceAffectArray, "/face_affect/results", self.receive, 1000)
        for name in ("detector", "classifier"):
            self.node.create_subscription(
                Bool, f"/face_affect/{name}/ready", lambda message, name=name: self.ready.add(name), LATCHED_QOS
            )
        self.spinning = SpinThread(self.node)

    def receive(self, message: FaceAffectArray) -> None:
        stamp = message.header.stamp
        latency = time.time() - ROS2_KIT.seconds_of(stamp)
        widths = tuple(face.roi.width for face in message.faces)
        self.received.append(ReceivedResult(stamp.sec * 10**9 + stamp.nanosec, latency, len(message.faces), widths))

    def publish(self, messages: list[Image], rate: float, seconds: float, on_frame=None) -> list[int]:
        """Publishes at ``rate`` Hz for ``seconds``, each frame stamped as sent; returns the stamps (ns)."""
        period, start, stamps = 1.0 / rate, time.monotonic(), []
        next_time, index = start, 0
        while time.monotonic() - start < seconds:
            message = messages[index % len(messages)]
            message.header.stamp = self.node.get_clock().now().to_msg()
            self.camera.publish(message)
            stamps.append(message.header.stamp.sec * 10**9 + message.header.stamp.nanosec)
            index += 1
            if on_frame is not None:
                on_frame(time.monotonic() - start)
            next_time = sleep_until_next(next_time, period)
        return stamps

    def close(self) -> None:
        self.spinning.stop()
        self.node.destroy_node()
        rclpy.shutdown()


def run(arguments: argparse.Namespace) -> dict[str, object]:
    machine = machine_description()
    isolate()  # before rclpy and the launch start
    photo, scale, centre, size = SCENES[arguments.faces]
    frames = moving_windows(photo, scale, centre, size, max(2, round(PAN_SECONDS * arguments.rate)))
    messages = [ROS2_KIT.images.to_message(frame, "bgr8", Header(frame_id="bench_camera")) for frame in frames]
    graph = LaunchedGraph(arguments.output.with_suffix(".log"))
    client = None
    try:
        client = Client()
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while client.ready != {"detector", "classifier"}:
            if time.monotonic() > deadline or graph.process.poll() is not None:
                raise RuntimeError(f"the graph did not get ready; see {graph.log_path}")
            time.sleep(0.1)
        processes = [MonitoredProcess(name, pid) for name, pid in graph.pids().items() if name in NODES]
        processes.append(MonitoredProcess("ros2_graph.py (publisher)", os.getpid()))
        print(f"graph ready; warm-up {arguments.warm_up:g} s, then {arguments.duration:g} s at {arguments.rate:g} Hz")
        client.publish(messages, arguments.rate, arguments.warm_up)
        samples = PeriodicSamples(processes)
        stamps = client.publish(messages, arguments.rate, arguments.duration, samples.when_due)
        elapsed = samples.finish()
        time.sleep(2.0)  # the last frames' results
    finally:
        if client is not None:
            client.close()
        graph.stop()
    measured = set(stamps)
    results = [result for result in client.received if result.stamp_nanoseconds in measured]
    if not results:
        raise RuntimeError(f"no results for the measured frames; launch log {graph.log_path}")
    return {
        "settings": {"scene": arguments.faces, "rate": arguments.rate, "duration": arguments.duration},
        "machine": {**machine, "load_average_at_end": [round(load, 2) for load in os.getloadavg()]},
        "graph": {**latency_figures(results, len(stamps)), "published_rate": round(len(stamps) / elapsed, 3)},
        "processes": {process.name: process.summary() for process in processes},
        "launch_log": str(graph.log_path),
    }


def nodes_cores(report: dict, names: tuple[str, ...]) -> float:
    return sum(report["processes"][name]["cpu_cores"] for name in names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--rate", type=float, default=30.0, help="frames per second published")
    parser.add_argument("--faces", choices=sorted(SCENES), default="vga_1_face", help="scene of bench/scenes.py")
    parser.add_argument("--warm-up", type=float, default=5.0, help="seconds published before measuring, not counted")
    parser.add_argument("--ros1-report", type=Path, help="bench/ros_graph.py's JSON of the same run, to compare with")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results") / "ros2_graph.json")
    arguments = parser.parse_args()
    report = run(arguments)
    cores = nodes_cores(report, NODES)
    graph = report["graph"]
    print(
        f"ROS 2: detector + classifier {cores:.3f} cores, {100 * graph['results_per_frame']:.1f}% of frames answered, "
        f"latency p50 {graph['latency_milliseconds']['p50']:.1f} ms, p99 {graph['latency_milliseconds']['p99']:.1f} ms"
    )
    passed = True
    if arguments.ros1_report is not None:
        ros1 = json.loads(arguments.ros1_report.read_text())
        ros1_cores = nodes_cores(ros1, ("/face_affect/detector", "/face_affect/classifier"))
        ratio = cores / ros1_cores
        ros1_graph = ros1["graph"]
        print(
            f"ROS 1: detector + classifier {ros1_cores:.3f} cores, {100 * ros1_graph['results_per_frame']:.1f}% "
            f"answered, latency p50 {ros1_graph['latency_milliseconds']['p50']:.1f} ms"
        )
        passed = ratio <= COST_RATIO_LIMIT
        print(f"{'PASS' if passed else 'FAIL'}: ROS 2 costs {ratio:.2f} x ROS 1 (<= {COST_RATIO_LIMIT:g})")
        report["ros1"] = {"report": str(arguments.ros1_report), "nodes_cores": ros1_cores, "ratio": round(ratio, 3)}
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {arguments.output}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
