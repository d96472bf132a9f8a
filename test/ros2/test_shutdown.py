"""A node's end: the core's stop() returns only once the frame in hand is published, so nothing publishes
after the adapter destroys its node (a late publish there ends in a traceback); and the installed node ends
cleanly on SIGINT and SIGTERM, whatever signal handling it inherited.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import cv2
import pytest
from ament_index_python.packages import get_package_prefix
from graph_client import Client
from std_msgs.msg import Header

from face_affect.node_core.detector import DetectorCore
from face_affect.node_core.host import NodeHost, Output
from face_affect.ros2.domains import isolate
from face_affect.ros2.node import ROS2_KIT
from face_affect.settings import DEFAULTS

FRAME = Path(__file__).resolve().parents[2] / "data" / "frames" / "face_recognition_two_people.jpg"
SLOW_PUBLISH_SECONDS = 1.5
"""Longer than the one second the core used to wait for its worker."""
EXECUTABLES = Path(get_package_prefix("face_affect")) / "lib" / "face_affect"
SIGNAL_TIMEOUT_SECONDS = 4.0
"""Less than the 5 s after which launch escalates SIGINT to SIGTERM."""


def test_stop_waits_for_the_frame_in_hand() -> None:
    publishing, published = threading.Event(), []

    def slow_publish(message: object) -> None:
        publishing.set()
        time.sleep(SLOW_PUBLISH_SECONDS)
        published.append(message)

    log: list[str] = []
    host = NodeHost("/face_affect/detector", time.time, log.append, log.append, log.append)
    faces = Output("/face_affect/faces", slow_publish, lambda: 1)
    core = DetectorCore(DEFAULTS, host, ROS2_KIT, faces, "/camera/image")
    frame = ROS2_KIT.images.to_message(cv2.imread(str(FRAME)), "bgr8", Header(stamp=ROS2_KIT.time_of(time.time())))
    core.worker.put(frame)
    assert publishing.wait(timeout=60.0), log
    core.stop()
    assert len(published) == 1
    assert core.worker.counts.processed == 1


@pytest.mark.parametrize("ending", [signal.SIGINT, signal.SIGTERM])
def test_a_node_started_with_sigint_ignored_ends_cleanly_on_a_signal(ending: signal.Signals) -> None:
    """A background job of a non-interactive shell (``make bench-ros2 &``, CI) starts with SIGINT ignored, and
    so did the nodes launch started from it: launch's SIGINT was lost and SIGTERM ended them 5 s later
    (status -15, no summary). Both signals end the spin, and the worker's summary is logged."""
    isolate()
    command = [str(EXECUTABLES / "detector_node"), "--ros-args", "-r", "__ns:=/face_affect"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    client = Client("face_affect_shutdown_test")
    try:
        client.wait_ready("detector")
    finally:
        client.close()
    process.send_signal(ending)
    try:
        output, _ = process.communicate(timeout=SIGNAL_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"no end within {SIGNAL_TIMEOUT_SECONDS:g} s of {ending.name}:\n{output}") from None
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    assert "processed in" in output, output  # the summary stop() logs
