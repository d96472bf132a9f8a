#!/usr/bin/env python3
"""A watcher that subscribes to ``annotated`` before the classifier node starts gets the overlay.

The check plays the detector's part (an empty faces message per camera frame, same stamp) and
waits for an annotated frame, so it needs the overlay itself, not only the camera subscription.

rviz or a recorder is often up before the nodes. The node's publisher listener fires
as soon as the publisher exists, so it must find the node ready to subscribe the camera;
in `make demo` it once failed there and the overlay stayed empty for the whole run.
"""

from __future__ import annotations

import subprocess
import time
import unittest

import numpy as np
import rosgraph
import rospy
import rostest
from roslib.packages import find_node
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Header

from face_affect.msg import FaceDetectionArray

NAMESPACE = "/start_order"
TIMEOUT = 60.0


def subscribers(topic: str) -> list[str]:
    _, subscriptions, _ = rosgraph.Master(rospy.get_name()).getSystemState()
    return next((nodes for name, nodes in subscriptions if name == topic), [])


class StartOrderTest(unittest.TestCase):
    def test_a_waiting_overlay_watcher_gets_the_overlay(self) -> None:
        overlays: list[Image] = []
        watcher = rospy.Subscriber(f"{NAMESPACE}/annotated", Image, overlays.append, buff_size=2**24)
        camera = rospy.Publisher(f"{NAMESPACE}/image", Image, queue_size=1)
        faces = rospy.Publisher(f"{NAMESPACE}/faces", FaceDetectionArray, queue_size=1)
        node = subprocess.Popen(
            [find_node("face_affect", "classifier_node")[0], "__name:=classifier", f"__ns:={NAMESPACE}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        frame = np.full((120, 160, 3), 90, np.uint8)
        sent: list[rospy.Time] = []
        try:
            rospy.wait_for_message(f"{NAMESPACE}/classifier/ready", Bool, timeout=TIMEOUT)
            deadline = time.monotonic() + TIMEOUT
            while f"{NAMESPACE}/classifier" not in subscribers(f"{NAMESPACE}/image") and time.monotonic() < deadline:
                time.sleep(0.1)
            readers = subscribers(f"{NAMESPACE}/image")
            # Camera frame and its (empty) faces message, stamped alike, until an overlay comes back.
            while not overlays and time.monotonic() < deadline:
                header = Header(stamp=rospy.Time.now(), frame_id="camera")
                sent.append(header.stamp)
                camera.publish(
                    Image(header=header, height=120, width=160, encoding="bgr8", step=480, data=frame.tobytes())
                )
                faces.publish(FaceDetectionArray(header=header, image_width=160, image_height=120, crop_margin=0.1))
                time.sleep(0.2)
        finally:
            watcher.unregister()
            node.terminate()
            output = node.communicate(timeout=TIMEOUT)[0]
        self.assertIn(f"{NAMESPACE}/classifier", readers, f"camera not read; node output:\n{output}")
        self.assertTrue(overlays, f"no overlay for {len(sent)} frames; node output:\n{output}")
        self.assertIn(overlays[0].header.stamp, sent)
        self.assertEqual((overlays[0].height, overlays[0].width), (120, 160))
        self.assertNotIn("Inbound TCP/IP connection failed", output)


if __name__ == "__main__":
    rospy.init_node("face_affect_start_order_test")
    rostest.rosrun("face_affect", "start_order", StartOrderTest)
