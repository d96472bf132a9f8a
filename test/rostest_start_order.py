#!/usr/bin/env python3
"""A watcher that subscribes to ``annotated`` before the classifier node starts gets the overlay.

rviz or a recorder is often up before the nodes. The node's publisher listener fires
as soon as the publisher exists, so it must find the node ready to subscribe the camera;
in `make demo` it once failed there and the overlay stayed empty for the whole run.
"""

from __future__ import annotations

import subprocess
import time
import unittest

import rosgraph
import rospy
import rostest
from roslib.packages import find_node
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

NAMESPACE = "/start_order"
TIMEOUT = 60.0


def subscribers(topic: str) -> list[str]:
    _, subscriptions, _ = rosgraph.Master(rospy.get_name()).getSystemState()
    return next((nodes for name, nodes in subscriptions if name == topic), [])


class StartOrderTest(unittest.TestCase):
    def test_a_waiting_overlay_watcher_makes_the_classifier_read_the_camera(self) -> None:
        watcher = rospy.Subscriber(f"{NAMESPACE}/annotated", Image, lambda message: None)
        node = subprocess.Popen(
            [find_node("face_affect", "classifier_node")[0], "__name:=classifier", f"__ns:={NAMESPACE}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            rospy.wait_for_message(f"{NAMESPACE}/classifier/ready", Bool, timeout=TIMEOUT)
            deadline = time.monotonic() + 10.0
            while f"{NAMESPACE}/classifier" not in subscribers(f"{NAMESPACE}/image") and time.monotonic() < deadline:
                time.sleep(0.1)
            readers = subscribers(f"{NAMESPACE}/image")
        finally:
            watcher.unregister()
            node.terminate()
            output = node.communicate(timeout=TIMEOUT)[0]
        self.assertIn(f"{NAMESPACE}/classifier", readers, f"camera not read; node output:\n{output}")
        self.assertNotIn("Inbound TCP/IP connection failed", output)


if __name__ == "__main__":
    rospy.init_node("face_affect_start_order_test")
    rostest.rosrun("face_affect", "start_order", StartOrderTest)
