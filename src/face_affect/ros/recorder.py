"""``record_results``: what ``make demo`` keeps, results as JSON lines and annotated frames.

Subscribing to ``annotated`` is what makes the classifier draw, so this node
also exercises the lazy path. Once it has recorded ``~duration`` seconds, it ends the
roslaunch that started it as Ctrl-C does (:func:`end_launch`): the demo ends as the
success it is, not with a dead required node.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from xmlrpc.client import Error as XmlRpcError
from xmlrpc.client import ServerProxy

import cv2
import numpy as np
import rospy
from sensor_msgs.msg import Image

from face_affect.msg import FaceAffectArray
from face_affect.ros.images import BUFF_SIZE, ImageConverter
from face_affect.ros.messages import affect_array_to_json


class ResultRecorder:
    def __init__(self, output_directory: Path, image_interval: float) -> None:
        self.output_directory = output_directory
        self.output_directory.mkdir(parents=True, exist_ok=True)
        self.results_file = open(output_directory / "results.jsonl", "w")  # noqa: SIM115
        self.image_interval = image_interval
        self.converter = ImageConverter()
        self.lock = threading.Lock()
        self.first_result = threading.Event()
        self.result_times: list[float] = []
        self.annotated_times: list[float] = []
        self.saved_images = 0
        self.last_saved = -float("inf")
        self.faces = 0
        self.frames_with_faces = 0
        self.genders: Counter[str] = Counter()
        self.emotions: Counter[str] = Counter()
        self.ages: list[float] = []

    def receive_results(self, message: FaceAffectArray) -> None:
        with self.lock:
            self.result_times.append(time.monotonic())
            self.results_file.write(json.dumps(affect_array_to_json(message)) + "\n")
            self.faces += len(message.faces)
            self.frames_with_faces += bool(message.faces)
            self.genders.update(face.gender or "unsure" for face in message.faces)
            self.emotions.update(face.emotion or "unsure" for face in message.faces)
            self.ages.extend(face.age for face in message.faces if not math.isnan(face.age))
        self.first_result.set()

    def receive_annotated(self, message: Image) -> None:
        now = time.monotonic()
        with self.lock:
            self.annotated_times.append(now)
            if now - self.last_saved < self.image_interval:
                return
            self.last_saved = now
            self.saved_images += 1
        stamp = message.header.stamp
        path = self.output_directory / f"annotated_{stamp.secs}.{stamp.nsecs:09d}.jpg"
        cv2.imwrite(str(path), self.converter.bridge.imgmsg_to_cv2(message, "bgr8"))

    def summary(self) -> str:
        with self.lock:
            self.results_file.flush()
            return "\n".join(
                [
                    (
                        f"results: {len(self.result_times)} frames at {rate_hz(self.result_times):.1f} Hz, "
                        f"{self.frames_with_faces} with faces, {self.faces} faces"
                    ),
                    f"gender: {format_counts(self.genders)}",
                    f"emotion: {format_counts(self.emotions)}",
                    f"age: {describe_ages(self.ages)}",
                    (
                        f"annotated: {len(self.annotated_times)} frames at "
                        f"{rate_hz(self.annotated_times):.1f} Hz, {self.saved_images} saved"
                    ),
                    f"output: {self.output_directory}",
                ]
            )

    def close(self) -> None:
        with self.lock:
            self.results_file.close()


def rate_hz(times: list[float]) -> float:
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def format_counts(counts: Counter[str]) -> str:
    return ", ".join(f"{label} {count}" for label, count in counts.most_common()) or "none"


def record_results() -> int:
    """Records for ``~duration`` seconds after the first result (0: until shut down).

    Returns the exit status: 1 when no result came within ``~startup_timeout`` seconds.
    """
    output_directory = Path(rospy.get_param("~output_dir", "demo_output")).resolve()
    duration = float(rospy.get_param("~duration", 0.0))
    startup_timeout = float(rospy.get_param("~startup_timeout", 120.0))
    recorder = ResultRecorder(output_directory, float(rospy.get_param("~image_interval", 1.0)))
    subscribers = [
        rospy.Subscriber("results", FaceAffectArray, recorder.receive_results, queue_size=30),
        rospy.Subscriber("annotated", Image, recorder.receive_annotated, queue_size=2, buff_size=BUFF_SIZE),
    ]
    rospy.on_shutdown(recorder.first_result.set)
    if not recorder.first_result.wait(startup_timeout) or not recorder.result_times:
        rospy.logerr(f"{rospy.get_name()}: no results within {startup_timeout:g} s")
        recorder.close()
        return 1
    if duration > 0:
        rospy.sleep(duration)
    else:
        rospy.spin()
    for subscriber in subscribers:
        subscriber.unregister()
    summary = recorder.summary()
    recorder.close()
    (output_directory / "summary.txt").write_text(summary + "\n")
    rospy.loginfo(f"{rospy.get_name()}:\n{summary}")
    if duration > 0 and end_launch():
        rospy.spin()  # until the launch's shutdown reaches this node
    return 0


def launching_process() -> int | None:
    """The pid of the roslaunch that started this node, or ``None`` (started by rosrun, or a test).

    A roslaunch server lists its XML-RPC address under ``/roslaunch/uris`` and answers ``get_pid``;
    the one whose pid is this process's parent started it."""
    parent = os.getppid()
    try:
        addresses = rospy.get_param("/roslaunch/uris", {})
    except (KeyError, OSError):
        return None
    for address in addresses.values():
        try:
            _, _, pid = ServerProxy(address).get_pid()
        except (OSError, ValueError, XmlRpcError):
            continue
        if pid == parent:
            return parent
    return None


def end_launch() -> bool:
    """Asks the roslaunch that started this node to end the launch, as Ctrl-C does (SIGINT: every node is
    stopped in turn, this one too); False where no roslaunch started it."""
    pid = launching_process()
    if pid is None:
        return False
    rospy.loginfo(f"{rospy.get_name()}: recording done, ending the launch")
    os.kill(pid, signal.SIGINT)
    return True


def describe_ages(ages: list[float]) -> str:
    """The median and range of the smoothed ages reported, or why there are none."""
    if not ages:
        return "none (no age model, or no faces)"
    return f"median {np.median(ages):.0f} years, {min(ages):.0f}-{max(ages):.0f}"
