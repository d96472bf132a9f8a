"""A node's end: the core's stop() returns only once the frame in hand is published, so nothing publishes
after the adapter destroys its node (a late publish there ends in a traceback).

The detector core on a real frame and ROS 2 messages; its output is a list, no middleware involved.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
from std_msgs.msg import Header

from face_affect.node_core.detector import DetectorCore
from face_affect.node_core.host import NodeHost, Output
from face_affect.ros2.node import ROS2_KIT
from face_affect.settings import DEFAULTS

FRAME = Path(__file__).resolve().parents[2] / "data" / "frames" / "face_recognition_two_people.jpg"
SLOW_PUBLISH_SECONDS = 1.5
"""Longer than the one second the core used to wait for its worker."""


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
