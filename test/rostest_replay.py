#!/usr/bin/env python3
"""rostest: a recorded bag played in a loop with its clock (replay.test, ``/use_sim_time`` true).

This test is the bag player: it publishes ``/clock`` and, at each tick, a frame stamped with
it. The recording is from 2023, far behind the wall clock, which the nodes' stamp checks
accept because their clock is the bag's. Each frame's results are awaited, so none is dropped.
"""

from __future__ import annotations

import time
import unittest

import cv2
import rospy
import rostest
from rosgraph_msgs.msg import Clock
from rostest_nodes import TIMEOUT, TWO_PEOPLE, StampedCollector, image_message, wait_until
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

from face_affect.msg import FaceAffectArray

RECORDED_AT = rospy.Time(1_700_000_000)
PERIOD = rospy.Duration(1 / 10)
FRAMES = 30


class ReplayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.clock = rospy.Publisher("/clock", Clock, queue_size=1)
        cls.clock.publish(Clock(clock=RECORDED_AT))
        for node in ("detector", "classifier"):
            rospy.wait_for_message(f"/face_affect/{node}/ready", Bool, timeout=TIMEOUT)
        cls.camera = rospy.Publisher(rospy.get_param("~image_topic"), Image, queue_size=10)
        cls.message = image_message(cv2.imread(f"{rospy.get_param('~frames')}/{TWO_PEOPLE}"), "bgr8")
        cls.message.header.frame_id = "test_camera"
        cls.results = StampedCollector("/face_affect/results", FaceAffectArray)
        wait_until(lambda: cls.camera.get_num_connections() >= 1, "the detector to subscribe the camera")
        wait_until(lambda: cls.results.subscriber.get_num_connections() >= 1, "a connection to results")
        wait_until(lambda: cls.clock.get_num_connections() >= 2, "both nodes to read /clock")

    def play(self) -> list[FaceAffectArray]:
        """The recording once from its start: clock tick, then the frame stamped with it."""
        with self.results.condition:
            self.results.messages.clear()  # the second play repeats the first one's stamps
        answered = []
        for index in range(FRAMES):
            stamp = RECORDED_AT + PERIOD * index
            self.clock.publish(Clock(clock=stamp))
            time.sleep(0.02)  # the nodes' clocks take the tick before the frame arrives
            self.message.header.stamp = stamp
            self.camera.publish(self.message)
            answered.append(self.results.wait_for(stamp))
        return answered

    def test_a_bag_played_twice_with_its_clock_restarts_the_tracks_and_every_frame_is_answered(self) -> None:
        first = self.play()
        second = self.play()  # the loop: clock and stamps jump back 3 s
        for played in (first, second):
            self.assertEqual([len(results.faces) for results in played[:2]], [0, 0], "confirmed from frame 3")
            ids = {tuple(sorted(face.track_id for face in results.faces)) for results in played[2:]}
            self.assertEqual(len(ids), 1, f"one pair of ids through each play: {ids}")
            self.assertEqual(len(next(iter(ids))), 2)
        first_ids = {face.track_id for face in first[-1].faces}
        self.assertFalse(first_ids & {face.track_id for face in second[-1].faces}, "ids restart with the clock")


if __name__ == "__main__":
    rospy.init_node("rostest_replay")
    rostest.rosrun("face_affect", "replay", ReplayTest)
