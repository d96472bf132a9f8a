#!/usr/bin/env python3
"""rostest: people over time through the real graph (tracking.test), with the default tracking settings.

Frames are published one at a time and each result is awaited, so none is dropped; their
stamps advance by the camera period, which is the clock the tracker runs on.
"""

from __future__ import annotations

import unittest

import cv2
import numpy as np
import rospy
import rostest
from rostest_nodes import TIMEOUT, TWO_PEOPLE, StampedCollector, image_message, wait_until
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

from face_affect.msg import FaceAffectArray, FaceDetectionArray

PERIOD = rospy.Duration(1 / 15)


class TrackingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        for node in ("detector", "classifier"):
            rospy.wait_for_message(f"/face_affect/{node}/ready", Bool, timeout=TIMEOUT)
        cls.photo = cv2.imread(f"{rospy.get_param('~frames')}/{TWO_PEOPLE}")
        assert cls.photo is not None
        cls.camera = rospy.Publisher(rospy.get_param("~image_topic"), Image, queue_size=10)
        cls.faces = StampedCollector("/face_affect/faces", FaceDetectionArray)
        cls.results = StampedCollector("/face_affect/results", FaceAffectArray)
        wait_until(lambda: cls.camera.get_num_connections() >= 1, "the detector to subscribe the camera")
        wait_until(lambda: cls.results.subscriber.get_num_connections() >= 1, "a connection to results")
        cls.clock = rospy.Time.now()

    def play(
        self, frames: list[np.ndarray], period: rospy.Duration = PERIOD
    ) -> list[tuple[FaceDetectionArray, FaceAffectArray]]:
        """Each frame at the next camera stamp, ``period`` apart; its faces and results. A new scene starts
        60 s later, past every track's timeout (at 0.5 Hz a track survives three 2 s frame intervals)."""
        type(self).clock += rospy.Duration(60.0)
        answered = []
        for frame in frames:
            type(self).clock += period
            message = image_message(frame, "bgr8")
            message.header.stamp, message.header.frame_id = self.clock, "test_camera"
            self.camera.publish(message)
            answered.append((self.faces.wait_for(self.clock), self.results.wait_for(self.clock)))
        return answered

    def test_a_moving_face_keeps_its_id_and_results_name_the_tracks_of_faces(self) -> None:
        frames = [np.roll(self.photo, 6 * index, axis=1) for index in range(30)]
        answered = self.play(frames)
        self.assertEqual([len(results.faces) for _, results in answered[:2]], [0, 0], "confirmed from frame 3")
        ids = [tuple(sorted(face.track_id for face in results.faces)) for _, results in answered[2:]]
        self.assertEqual(set(ids), {ids[0]}, "the same two ids on every frame")
        self.assertEqual(len(ids[0]), 2)
        for faces, results in answered:
            confirmed = [face.track_id for face in faces.faces if face.confirmed]
            self.assertEqual([face.track_id for face in results.faces], confirmed)
        first = answered[2][1].faces[0]
        # Seconds as a double on the way: within a microsecond of the first frame's stamp.
        self.assertAlmostEqual(first.first_seen.to_sec(), answered[0][1].header.stamp.to_sec(), delta=1e-6)

    def test_a_still_scene_reports_its_faces_by_the_third_frame_at_slow_camera_rates(self) -> None:
        """A throttled topic: with the track timeout in seconds only, a 0.5 Hz scene never kept a track."""
        for rate in (0.5, 2.0):
            answered = self.play([self.photo] * 5, period=rospy.Duration(1 / rate))
            self.assertEqual([len(faces.faces) for faces, _ in answered], [2] * 5, f"{rate} Hz: detections")
            self.assertEqual([len(results.faces) for _, results in answered], [0, 0, 2, 2, 2], f"{rate} Hz")
            ids = {face.track_id for _, results in answered for face in results.faces}
            self.assertEqual(len(ids), 2, f"{rate} Hz: one id per person")

    def test_confirmed_faces_carry_an_age_whose_smoothed_value_is_steadier_than_the_frames(self) -> None:
        """A steady scene with sensor noise: per-frame ages wander, the smoothed age (30 s) much less."""
        noise = np.random.default_rng(0)
        frames = [
            np.clip(
                np.roll(self.photo, int(noise.integers(-2, 3)), axis=1) + noise.normal(0, 6, self.photo.shape), 0, 255
            ).astype(np.uint8)
            for _ in range(45)
        ]
        answered = self.play(frames)
        smoothed: dict[str, list[float]] = {}
        per_frame: dict[str, list[float]] = {}
        for index, (_, results) in enumerate(answered):
            for face in results.faces:
                self.assertTrue(0 < face.age < 120 and face.age_std > 0 and 0 <= face.age_confidence <= 1, face)
                self.assertTrue(0 < face.frame_age < 120, face)
                if index >= 23:  # past the first 1.5 s, while a young track's estimate is tempered
                    smoothed.setdefault(face.track_id, []).append(face.age)
                    per_frame.setdefault(face.track_id, []).append(face.frame_age)
        self.assertEqual(len(smoothed), 2)
        for track_id in smoothed:
            steadiness = (np.ptp(smoothed[track_id]), np.ptp(per_frame[track_id]))
            self.assertLess(
                steadiness[0], steadiness[1] / 2, f"{track_id}: smoothed vs per-frame age range {steadiness}"
            )

    def test_a_face_whose_views_turn_poor_keeps_its_estimate_and_one_never_seen_well_stays_unsure(self) -> None:
        """3 s clear, then 2 s blurred (still detected): the gender stays what it was, the emotion stays or
        turns unsure, never another label. A scene blurred from the start: both unsure, probabilities kept."""
        blurred = cv2.GaussianBlur(self.photo, (0, 0), 8)
        answered = self.play([self.photo] * 45 + [blurred] * 30)
        earlier = {face.track_id: (face.gender, face.emotion) for face in answered[44][1].faces}
        self.assertEqual(len(earlier), 2)
        stated = all(gender and emotion for gender, emotion in earlier.values())
        self.assertTrue(stated, f"stated when clear: {earlier}")
        for faces, results in answered[45:]:
            self.assertTrue(all(face.detected for face in faces.faces), "the blurred faces are still detected")
            for face in results.faces:
                gender, emotion = earlier[face.track_id]
                self.assertEqual(face.gender, gender, "the gender is kept")
                self.assertIn(face.emotion, (emotion, ""), "the emotion is kept or unsure, never another label")
        never_well = self.play([blurred] * 45)
        final = never_well[-1][1].faces
        self.assertEqual(len(final), 2)
        for face in final:
            self.assertEqual((face.gender, face.emotion), ("", ""), f"{face.track_id}: never seen well")
            self.assertAlmostEqual(sum(face.gender_probabilities), 1.0, delta=1e-3)
            self.assertAlmostEqual(sum(face.emotion_probabilities), 1.0, delta=1e-3)

    def test_two_faces_that_cross_keep_their_ids(self) -> None:
        # The two men's faces (expected boxes grown by a margin), on a grey wall, moving towards each other.
        patches = [self.photo[10:150, 120:250].copy(), self.photo[20:160, 430:560].copy()]
        frames = []
        for index in range(40):
            canvas = np.full((376, 900, 3), 120, np.uint8)
            left, right = 40 + 18 * index, 730 - 18 * index
            canvas[100:240, left : left + 130] = patches[0]
            canvas[120:260, right : right + 130] = patches[1]
            frames.append(canvas)
        answered = self.play(frames)
        start = {face.track_id: face.roi.x_offset for face in answered[3][1].faces}
        self.assertEqual(len(start), 2)
        came_from_left = min(start, key=start.get)
        end = {face.track_id: face.roi.x_offset for face in answered[-1][1].faces}
        self.assertIn(came_from_left, end, f"the left face lost its id: {start} then {end}")
        self.assertEqual(max(end, key=end.get), came_from_left, "the face from the left must now be on the right")
        every_id = {face.track_id for _, results in answered for face in results.faces}
        self.assertEqual(len(every_id), 2, f"ids switched: {every_id}")

    def test_a_face_that_leaves_is_gone_after_the_timeout_and_empty_results_follow(self) -> None:
        timeout = rospy.get_param("/face_affect/detector/track_timeout")
        empty = np.full_like(self.photo, 120)
        answered = self.play([self.photo] * 6 + [empty] * round((timeout + 1.0) * 15))
        left_at = answered[5][1].header.stamp
        for faces, results in answered[6:]:
            age = (results.header.stamp - left_at).to_sec()
            if age <= timeout - 0.2:
                self.assertEqual(len(results.faces), 2, f"{age:.2f} s after leaving: still tracked")
                self.assertFalse(any(face.detected for face in results.faces))
            elif age > timeout + 0.1:
                self.assertEqual(results.faces, [], f"{age:.2f} s after leaving: gone")
                self.assertEqual(faces.faces, [])
        self.assertEqual(
            [results.header.stamp for _, results in answered], [faces.header.stamp for faces, _ in answered]
        )


if __name__ == "__main__":
    rospy.init_node("rostest_tracking")
    rostest.rosrun("face_affect", "tracking", TrackingTest)
