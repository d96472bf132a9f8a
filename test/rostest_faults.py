#!/usr/bin/env python3
"""rostest: faults on the launched graph (faults.test): nodes killed, a camera gap, a bag replayed from its start.

A thread publishes the two-people frame at 10 Hz throughout, with stamps that advance (or, for
the replay, jump back); the checks watch /face_affect/results, /face_affect/faces and /diagnostics.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import unittest
import xmlrpc.client

import cv2
import rosgraph
import rospy
import rostest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rostest_nodes import STATUS_NAMES, TIMEOUT, TWO_PEOPLE, LogCollector, image_message, wait_until
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

from face_affect.msg import FaceAffectArray, FaceDetectionArray

RATE = 10.0
RECOVERY = 15.0


class Arrivals:
    """The wall-clock times at which messages of one topic arrived (and the last message)."""

    def __init__(self, topic: str, message_type: type) -> None:
        self.times: list[float] = []
        self.last = None
        self.lock = threading.Lock()
        self.subscriber = rospy.Subscriber(topic, message_type, self.receive, queue_size=10, buff_size=2**26)

    def receive(self, message) -> None:
        with self.lock:
            self.times.append(time.monotonic())
            self.last = message

    def since(self, moment: float) -> list[float]:
        with self.lock:
            return [arrival for arrival in self.times if arrival >= moment]

    def longest_gap(self, start: float, end: float) -> float:
        arrivals = [start, *[t for t in self.since(start) if t <= end], end]
        return max(later - earlier for earlier, later in zip(arrivals, arrivals[1:]))


class Camera(threading.Thread):
    """Publishes a frame every 1/RATE s while ``running``; ``offset`` shifts the stamps (a replayed bag).

    With ``stray`` set, a second copy follows each frame half a period later, stamped ``stray`` off the clock.
    """

    def __init__(self, frame) -> None:
        super().__init__(daemon=True)
        self.publisher = rospy.Publisher(rospy.get_param("~image_topic"), Image, queue_size=2)
        self.message = image_message(frame, "bgr8")
        self.message.header.frame_id = "test_camera"
        self.running = threading.Event()
        self.offset = rospy.Duration(0)
        self.stray: rospy.Duration | None = None

    def run(self) -> None:
        while not rospy.is_shutdown():
            stray = self.stray
            if self.running.is_set():
                self.message.header.stamp = rospy.Time.now() + self.offset
                self.publisher.publish(self.message)  # serialised here: the stamp may change after
            time.sleep(0.5 / RATE)
            if self.running.is_set() and stray is not None:
                self.message.header.stamp = rospy.Time.now() + stray
                self.publisher.publish(self.message)
            time.sleep(0.5 / RATE)


def node_pid(name: str) -> int:
    uri = rosgraph.Master("/rostest_faults").lookupNode(name)
    return int(xmlrpc.client.ServerProxy(uri).getPid("/rostest_faults")[2])


class FaultTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        for node in ("detector", "classifier"):
            rospy.wait_for_message(f"/face_affect/{node}/ready", Bool, timeout=TIMEOUT)
        frame = cv2.imread(f"{rospy.get_param('~frames')}/{TWO_PEOPLE}")
        cls.camera = Camera(frame)
        cls.camera.start()
        cls.results = Arrivals("/face_affect/results", FaceAffectArray)
        cls.faces = Arrivals("/face_affect/faces", FaceDetectionArray)
        cls.statuses: dict[str, list[tuple[float, DiagnosticStatus]]] = {}
        cls.diagnostics = rospy.Subscriber("/diagnostics", DiagnosticArray, cls.receive_diagnostics, queue_size=20)
        wait_until(lambda: cls.camera.publisher.get_num_connections() >= 1, "the detector to subscribe the camera")
        cls.camera.running.set()
        wait_until(lambda: cls.results.since(time.monotonic() - 1.0), "results")

    @classmethod
    def receive_diagnostics(cls, message: DiagnosticArray) -> None:
        for status in message.status:
            cls.statuses.setdefault(status.name, []).append((time.monotonic(), status))

    def kill_and_wait(self, node: str, watched: Arrivals) -> tuple[float, float]:
        """``kill -9`` of ``node``; the seconds until results came again, and ``watched``'s longest gap."""
        old_pid = node_pid(node)
        killed = time.monotonic()
        os.kill(old_pid, signal.SIGKILL)
        deadline = killed + RECOVERY
        while time.monotonic() < deadline:
            try:
                back = node_pid(node) != old_pid
            except (OSError, rosgraph.MasterError, xmlrpc.client.Error):
                back = False
            if back and self.results.since(killed + 0.5):
                break
            time.sleep(0.1)
        arrivals = self.results.since(killed + 0.5)
        self.assertTrue(arrivals, f"no results within {RECOVERY} s of killing {node}")
        self.assertGreater(node_pid(node), 0)
        return arrivals[0] - killed, watched.longest_gap(killed, time.monotonic())

    def steady_track_ids(self) -> list[str]:
        """The ids in the results once they have stayed the same for a second (an earlier test may have
        just restarted the tracks)."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            ids = sorted(face.track_id for face in self.results.last.faces)
            time.sleep(1.0)
            if len(ids) == 2 and sorted(face.track_id for face in self.results.last.faces) == ids:
                return ids
        raise AssertionError("the track ids never settled")

    def test_1_killed_classifier_comes_back_and_the_detector_keeps_publishing(self) -> None:
        recovered, faces_gap = self.kill_and_wait("/face_affect/classifier", self.faces)
        rospy.loginfo(f"classifier killed: results again after {recovered:.1f} s; longest faces gap {faces_gap:.2f} s")
        self.assertLess(faces_gap, 1.0, "the detector stopped publishing faces")

    def test_2_killed_detector_comes_back_and_the_classifier_keeps_reporting(self) -> None:
        name = STATUS_NAMES["classifier"]
        before = len(self.statuses.get(name, []))
        killed = time.monotonic()
        recovered, _ = self.kill_and_wait("/face_affect/detector", self.faces)
        rospy.loginfo(f"detector killed: results again after {recovered:.1f} s")
        during = [moment for moment, _ in self.statuses[name][before:] if moment < killed + recovered]
        self.assertGreaterEqual(len(during), int(recovered) - 1, "the classifier stopped publishing diagnostics")

    def test_3_a_camera_gap_warns_and_results_resume_at_once(self) -> None:
        name = STATUS_NAMES["detector"]
        self.camera.running.clear()
        stopped = time.monotonic()
        time.sleep(10.0)
        warned = [status for moment, status in self.statuses.get(name, []) if moment > stopped + 6.0]
        self.assertTrue(warned and all(status.level == DiagnosticStatus.WARN for status in warned), warned[-1:])
        self.assertIn("no input on", warned[-1].message)
        self.assertFalse(self.results.since(stopped + 0.5), "results published without input")
        resumed = time.monotonic()
        self.camera.running.set()
        wait_until(lambda: self.results.since(resumed), "results after the gap", timeout=5.0)
        self.assertLess(self.results.since(resumed)[0] - resumed, 1.0)

    def test_4_a_replayed_bag_that_jumps_back_in_time_keeps_results_coming(self) -> None:
        """A short bag played in a loop: its stamps jump back 30 s (within stamp_max_age), the tracks restart."""
        jumped = time.monotonic()
        self.camera.offset = rospy.Duration(-30)
        time.sleep(3.0)
        self.camera.offset = rospy.Duration(0)
        arrivals = self.results.since(jumped)
        self.assertGreater(len(arrivals), 0.7 * 3.0 * RATE, f"{len(arrivals)} results in 3 s after the jump")
        self.assertLess(self.results.longest_gap(jumped + 0.5, time.monotonic()), 1.0)
        last = self.results.last
        self.assertEqual(len(last.faces), 2, "tracks re-confirmed after the jump")

    def test_5_frames_stamped_far_off_the_clock_are_rejected_and_the_tracks_keep_their_ids(self) -> None:
        """Between good frames, copies stamped an hour ahead and an hour behind: each kind is named in
        a warning and counted, and neither ends or resets a track."""
        ids_before = self.steady_track_ids()
        name = STATUS_NAMES["detector"]
        before = len(self.statuses.get(name, []))
        started = time.monotonic()
        warnings = LogCollector()
        try:
            for stray, text in ((3600, "ahead of the clock"), (-3600, "behind the clock")):
                self.camera.stray = rospy.Duration(stray)
                warnings.wait_for("/face_affect/detector", text)
                time.sleep(1.5)
        finally:
            self.camera.stray = None
            warnings.subscriber.unregister()
        self.assertLess(self.results.longest_gap(started, time.monotonic()), 1.0, "results paused")
        self.assertEqual(sorted(face.track_id for face in self.results.last.faces), ids_before)
        wait_until(lambda: len(self.statuses[name]) > before + 1, "diagnostics")
        counted = [
            status
            for _, status in self.statuses[name][before:]
            if int({pair.key: pair.value for pair in status.values}["rejected as malformed"]) > 0
        ]
        self.assertTrue(counted, "no rejected frames counted")
        self.assertTrue(all(status.level == DiagnosticStatus.WARN for status in counted), counted[-1])


if __name__ == "__main__":
    rospy.init_node("rostest_faults")
    rostest.rosrun("face_affect", "faults", FaultTest)
