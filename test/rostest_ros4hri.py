#!/usr/bin/env python3
"""rostest: the REP-155 faces of ``ros4hri:=true``, read by the real ``pyhri.HRIListener`` (ros4hri.test).

Skipped, with the reason, where ``hri_msgs`` or ``pyhri`` is not installed (``make build`` builds
them from ``../shared/ros4hri/`` when that is there). Each case starts the nodes it needs against the
rostest master and stops them, so the cases never share ``/humans/faces/``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import unittest

import cv2
import numpy as np
import rosgraph
import rospy
import rostest
from rostest_nodes import TIMEOUT, StampedCollector, image_message, node_pid, wait_until
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Header
from std_srvs.srv import SetBool

from face_affect.classifiers import FaceClassifiers
from face_affect.cropping import crop_face, transmissible_margin
from face_affect.msg import FaceAffectArray, FaceDetectionArray
from face_affect.node_core.messages import detection_array
from face_affect.ros.messages import ROS1_KIT
from face_affect.settings import Settings
from face_affect.tracking import Track
from face_affect.types import FaceBox

try:
    from hri_msgs.msg import Expression, SoftBiometrics
    from pyhri import HRIListener

    MISSING = ""
except ImportError as error:
    MISSING = f"ROS4HRI not installed ({error}): build ../shared/ros4hri/ in the workspace (make build does)"

SIX_FACES = "facenet_pytorch_multiface.jpg"
CAMERA = "/hri_camera/image_raw"
GENDERS = {"woman": "FEMALE", "man": "MALE", "": "UNDEFINED"}


def expression_values() -> set[str]:
    """The values of every ``Expression`` constant (ROS 1 keeps their quotes: compare with these)."""
    return {value for name, value in vars(Expression).items() if name.isupper() and isinstance(value, str)}


class Graph:
    """Nodes started with ``roslaunch`` against the rostest master; stopped with SIGINT."""

    def __init__(self, *arguments: str) -> None:
        self.process = subprocess.Popen(
            ["roslaunch", *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class Camera:
    """Publishes one image at 10 Hz, stamped now, from a thread; ``show`` changes it."""

    def __init__(self, topic: str, image: np.ndarray) -> None:
        self.publisher = rospy.Publisher(topic, Image, queue_size=1)
        self.image = image
        self.stamps: list[rospy.Time] = []
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def show(self, image: np.ndarray) -> rospy.Time:
        """Shows ``image`` from the next frame on; the stamp of the last frame before it."""
        self.image = image
        return self.stamps[-1] if self.stamps else rospy.Time.now()

    def run(self) -> None:
        rate = rospy.Rate(10)
        while self.running and not rospy.is_shutdown():
            message = image_message(self.image, "bgr8")
            message.header = Header(stamp=rospy.Time.now(), frame_id="hri_camera")
            self.stamps.append(message.header.stamp)
            self.publisher.publish(message)
            rate.sleep()

    def stop(self) -> None:
        self.running = False
        self.thread.join()
        self.publisher.unregister()


@unittest.skipIf(MISSING, MISSING)
class Ros4HriTest(unittest.TestCase):
    def test_pyhri_sees_the_confirmed_tracks_with_their_estimates_and_loses_them_after_they_leave(self) -> None:
        photo = cv2.imread(f"{rospy.get_param('~frames')}/{SIX_FACES}")
        self.assertIsNotNone(photo)
        height, width = photo.shape[:2]
        listener = HRIListener()
        results = StampedCollector("/face_affect/results", FaceAffectArray)
        graph = Graph("face_affect", "face_affect.launch", f"image:={CAMERA}", "ros4hri:=true", "annotated:=false")
        camera = Camera(CAMERA, photo)
        try:
            for node in ("detector", "classifier"):
                rospy.wait_for_message(f"/face_affect/{node}/ready", Bool, timeout=TIMEOUT)

            def latest() -> FaceAffectArray | None:  # the newest results
                with results.condition:
                    return results.messages[max(results.messages)] if results.messages else None

            def listener_holds_the_confirmed_tracks() -> bool:
                message = latest()
                ids = {face.track_id for face in message.faces} if message else set()
                faces = listener.faces
                return len(ids) >= 5 and set(faces) == ids and all(face.softbiometrics for face in faces.values())

            wait_until(listener_holds_the_confirmed_tracks, "HRIListener.faces to hold the confirmed track ids")
            values = expression_values()
            for face_id, hri_face in listener.faces.items():
                with self.subTest(face=face_id):
                    namespace = f"/humans/faces/{face_id}"
                    expression = rospy.wait_for_message(f"{namespace}/expression", Expression, timeout=TIMEOUT)
                    cropped = rospy.wait_for_message(f"{namespace}/cropped", Image, timeout=TIMEOUT)
                    roi, softbiometrics = hri_face.roi, hri_face.softbiometrics
                    frames = {stamp.to_nsec() for stamp in camera.stamps}
                    for part in (roi, softbiometrics, expression, cropped):
                        self.assertIn(part.header.stamp.to_nsec(), frames, "the source image's stamp")
                        self.assertEqual(part.header.frame_id, "hri_camera")
                    # Each message against the results of its own frame.
                    box = result_face(results.wait_for(roi.header.stamp), face_id).roi
                    normalized = (
                        box.x_offset / width,
                        box.y_offset / height,
                        (box.x_offset + box.width) / width,
                        (box.y_offset + box.height) / height,
                    )
                    np.testing.assert_allclose((roi.xmin, roi.ymin, roi.xmax, roi.ymax), normalized, atol=0.01)
                    self.assertTrue(0.0 <= roi.c <= 1.0)
                    stated = result_face(results.wait_for(softbiometrics.header.stamp), face_id)
                    self.assertEqual(softbiometrics.gender, getattr(SoftBiometrics, GENDERS[stated.gender]))
                    self.assertAlmostEqual(softbiometrics.gender_confidence, stated.gender_confidence, places=5)
                    self.assertEqual(softbiometrics.age, round(stated.age), "the smoothed age, in whole years")
                    emotion = result_face(results.wait_for(expression.header.stamp), face_id)
                    if emotion.emotion:
                        self.assertIn(expression.expression, values)
                    else:
                        self.assertEqual(expression.expression, "", "unsure")
                    self.assertAlmostEqual(expression.confidence, emotion.emotion_confidence, places=5)
                    self.assertTrue(-1.0 <= expression.valence <= 1.0 and -1.0 <= expression.arousal <= 1.0)
                    shown = result_face(results.wait_for(cropped.header.stamp), face_id).roi
                    self.assertEqual(cropped.encoding, "mono8")
                    self.assertEqual((cropped.width, cropped.height), (shown.width, shown.height), "the face box")
            enable = rospy.ServiceProxy("/face_affect/classifier/enable", SetBool)
            enable(False)  # paused: nobody is tracked
            wait_until(lambda: not listener.faces, "HRIListener.faces to empty while the classifier is paused")
            self.assertEqual(face_topics_of("/face_affect/classifier"), ["/humans/faces/tracked"])
            enable(True)
            wait_until(listener_holds_the_confirmed_tracks, "the faces to come back after resuming")
            left = camera.show(np.full_like(photo, 128))
            wait_until(lambda: not listener.faces, "HRIListener.faces to empty after the faces leave")
            seconds = (rospy.Time.now() - left).to_sec()
            self.assertLess(seconds, 3.0, "the faces were gone within 3 s of leaving")
        finally:
            camera.stop()
            graph.stop()
            listener.close()

    def test_publishers_and_memory_stay_bounded_while_1000_tracks_come_and_go(self) -> None:
        """Five new confirmed tracks in each of 200 messages, sent straight to a classifier."""
        graph = Graph("face_affect", "face_affect.launch", f"image:={CAMERA}", "ros4hri:=true", "annotated:=false")
        try:
            rospy.wait_for_message("/face_affect/classifier/ready", Bool, timeout=TIMEOUT)
            faces = rospy.Publisher("/face_affect/faces", FaceDetectionArray, queue_size=1)
            results = StampedCollector("/face_affect/results", FaceAffectArray)
            wait_until(lambda: results.subscriber.get_num_connections() >= 1, "a connection to results")
            wait_until(lambda: faces.get_num_connections() >= 1, "the classifier to subscribe faces")
            photo = cv2.imread(f"{rospy.get_param('~frames')}/{SIX_FACES}", cv2.IMREAD_GRAYSCALE)
            margin = transmissible_margin(FaceClassifiers.from_settings(Settings()).crop_margin)
            boxes = [FaceBox(40 + 110 * index, 60, 90, 90, 0.9) for index in range(5)]
            crops = [crop_face(photo, box, margin) for box in boxes]
            pid = node_pid("/face_affect/classifier")
            resident = []
            stamp = rospy.Time.now()
            for message_index in range(200):
                stamp = max(rospy.Time.now(), stamp + rospy.Duration(0, 1000))
                seconds = stamp.to_sec()
                tracks = [
                    Track(f"bound_{5 * message_index + index}", box, seconds, seconds, confirmed=True)
                    for index, box in enumerate(boxes)
                ]
                header = Header(stamp=stamp, frame_id="hri_camera")
                message = detection_array(ROS1_KIT, header, photo.shape, tracks, crops, margin, lambda score: score)
                faces.publish(message)
                self.assertEqual(len(results.wait_for(stamp).faces), 5)
                if message_index % 40 == 39:
                    published = face_topics_of("/face_affect/classifier")
                    self.assertLessEqual(len(published), 5 * 4 + 1, "the live faces' topics and tracked only")
                    resident.append(resident_megabytes(pid))
            rospy.loginfo(f"1000 tracks: resident memory {resident} MB, {len(published)} face topics at the end")
            growth = resident[-1] - resident[0]
            self.assertLess(growth, 10.0, f"resident memory over the last 800 tracks: {resident} MB")
        finally:
            graph.stop()


def result_face(results: FaceAffectArray, track_id: str):
    (face,) = [face for face in results.faces if face.track_id == track_id]
    return face


def face_topics_of(node: str) -> list[str]:
    """The ``/humans/faces/`` topics ``node`` publishes, as the master has them."""
    publications = rosgraph.Master(rospy.get_name()).getSystemState()[0]
    return [topic for topic, nodes in publications if topic.startswith("/humans/faces/") and node in nodes]


def resident_megabytes(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        kilobytes = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kilobytes / 1024


if __name__ == "__main__":
    rospy.init_node("ros4hri_test")
    rostest.rosrun("face_affect", "ros4hri", Ros4HriTest)
