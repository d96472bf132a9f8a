#!/usr/bin/env python3
"""Checks the running detector and classifier nodes through their topics (run by nodes.test).

Each check publishes one frame with a fresh stamp and waits for the messages
carrying that stamp, so no check depends on sleeps or on another's frames.
"""

from __future__ import annotations

import copy
import csv
import os
import threading
import time
import unittest
import xmlrpc.client
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import rosgraph
import rospkg
import rospy
import rostest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rosgraph_msgs.msg import Log
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Bool, Header
from std_srvs.srv import SetBool

from face_affect.classifiers import OnnxClassifier
from face_affect.geometry import box_iou
from face_affect.msg import FaceAffectArray, FaceDetectionArray, FaceHeatmapArray
from face_affect.settings import DEFAULTS, load_settings, resolve_model_path
from face_affect.smoothing import STATE_MARGIN, SWITCH_MARGIN
from face_affect.types import FaceBox

TIMEOUT = 60.0
TWO_PEOPLE = "face_recognition_two_people.jpg"
STATUS_NAMES = {
    "detector": "face_affect/detector: face detection",
    "classifier": "face_affect/classifier: face classification",
}
"""The ``/diagnostics`` status of each node, as diagnostic_updater names it."""
EXPECTED_FACES = Path(__file__).with_name("expected_faces.csv")


class StampedCollector:
    """Keeps the messages of one topic by stamp, so a check can wait for its own frame."""

    def __init__(self, topic: str, message_type: type, buff_size: int = 2**24) -> None:
        self.condition = threading.Condition()
        self.messages: dict[int, object] = {}
        self.subscriber = rospy.Subscriber(topic, message_type, self.receive, queue_size=10, buff_size=buff_size)

    def receive(self, message) -> None:
        with self.condition:
            self.messages[message.header.stamp.to_nsec()] = message
            self.condition.notify_all()

    def wait_for(self, stamp: rospy.Time, timeout: float = TIMEOUT):
        with self.condition:
            if not self.condition.wait_for(lambda: stamp.to_nsec() in self.messages, timeout):
                raise AssertionError(f"no message on {self.subscriber.resolved_name} with stamp {stamp.to_sec()}")
            return self.messages[stamp.to_nsec()]


class LogCollector:
    """Log messages of all nodes, straight from /rosout (rostest runs no rosout node)."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.messages: list[Log] = []
        self.subscriber = rospy.Subscriber("/rosout", Log, self.receive, queue_size=100)
        publishers = dict(rosgraph.Master(rospy.get_name()).getSystemState()[0])["/rosout"]
        wait_until(
            lambda: self.subscriber.get_num_connections() >= len(publishers), "connections to every /rosout publisher"
        )

    def receive(self, message: Log) -> None:
        with self.condition:
            self.messages.append(message)
            self.condition.notify_all()

    def publish_until_logged(self, publisher: rospy.Publisher, message, node: str, text: str) -> None:
        """Publishes ``message`` once a second until ``node`` logs ``text``. A node keeps only the newest
        message, so one that arrives while it still works on the last may be replaced (counted as stale)."""
        deadline = time.monotonic() + TIMEOUT
        while not self.logged(node, text) and time.monotonic() < deadline:
            publisher.publish(message)
            self.wait_for(node, text, timeout=1.0, required=False)
        self.wait_for(node, text, timeout=0.0)

    def logged(self, node: str, text: str) -> bool:
        with self.condition:
            return any(message.name == node and text in message.msg for message in self.messages)

    def wait_for(self, node: str, text: str, timeout: float = TIMEOUT, required: bool = True) -> None:
        with self.condition:  # its lock is re-entrant, so logged() may take it again
            found = self.condition.wait_for(lambda: self.logged(node, text), timeout)
            if required and not found:
                raise AssertionError(f"{node} logged no warning containing {text!r}")


def stamped(stamp: rospy.Time) -> Header:
    return Header(stamp=stamp, frame_id="test_camera")


def wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Polls a connection count: rospy has no event for a peer connecting."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline or rospy.is_shutdown():
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def bayer_grbg(bgr: np.ndarray) -> np.ndarray:
    """The mosaic a Kinect would publish: G R / B G."""
    mosaic = bgr[:, :, 1].copy()
    mosaic[0::2, 1::2] = bgr[0::2, 1::2, 2]
    mosaic[1::2, 0::2] = bgr[1::2, 0::2, 0]
    return mosaic


def image_message(pixels: np.ndarray, encoding: str, padding: int = 0) -> Image:
    """A raw Image; ``padding`` bytes are appended to each row, as some drivers align rows."""
    rows = pixels.reshape(pixels.shape[0], -1).view(np.uint8)
    if padding:
        rows = np.hstack([rows, np.full((rows.shape[0], padding), 255, dtype=np.uint8)])
    return Image(
        height=pixels.shape[0],
        width=pixels.shape[1],
        encoding=encoding,
        is_bigendian=0,
        step=rows.shape[1],
        data=rows.tobytes(),
    )


def expected_crop(grey: np.ndarray, roi, margin: float) -> np.ndarray:
    """The crop the message promises, written out here: each side grown by ``margin`` of the box's size
    (halves rounded up), edge pixels replicated outside the frame."""
    grow_x, grow_y = (int(np.floor(margin * side + 0.5)) for side in (roi.width, roi.height))
    padded = np.pad(grey, ((grow_y, grow_y), (grow_x, grow_x)), mode="edge")
    return padded[
        roi.y_offset : roi.y_offset + roi.height + 2 * grow_y, roi.x_offset : roi.x_offset + roi.width + 2 * grow_x
    ]


def face_boxes(results: FaceAffectArray) -> list[tuple[int, int, int, int]]:
    return [(face.roi.x_offset, face.roi.y_offset, face.roi.width, face.roi.height) for face in results.faces]


class DiagnosticsCollector:
    """The newest /diagnostics status of each node, by status name."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.statuses: dict[str, DiagnosticStatus] = {}
        self.history: list[DiagnosticStatus] = []
        self.subscriber = rospy.Subscriber("/diagnostics", DiagnosticArray, self.receive, queue_size=10)

    def receive(self, message: DiagnosticArray) -> None:
        with self.condition:
            for status in message.status:
                self.statuses[status.name] = status
                self.history.append(status)
            self.condition.notify_all()

    def wait_for_any(self, name: str, condition: Callable[[DiagnosticStatus], bool], what: str) -> DiagnosticStatus:
        """The first status of ``name`` since this collector started that meets ``condition``."""

        def found() -> list[DiagnosticStatus]:
            return [status for status in self.history if status.name == name and condition(status)]

        with self.condition:
            if not self.condition.wait_for(found, TIMEOUT):
                raise AssertionError(f"no {name} status with {what}; last: {self.statuses.get(name)}")
            return found()[0]

    def wait_for(
        self,
        name: str,
        condition: Callable[[DiagnosticStatus], bool],
        what: str,
        meanwhile: Callable[[], object] | None = None,
    ) -> DiagnosticStatus:
        """The next status of ``name`` that meets ``condition``. ``meanwhile``, if given, is called every
        half second until then: a check of a rate keeps frames coming, since on a loaded machine the
        status may be published only after one frame has left its window."""
        deadline = time.monotonic() + TIMEOUT
        with self.condition:
            self.statuses.pop(name, None)
            while not (name in self.statuses and condition(self.statuses[name])):
                if time.monotonic() > deadline:
                    raise AssertionError(f"no {name} status with {what}; last: {self.statuses.get(name)}")
                if meanwhile is not None:
                    self.condition.release()
                    try:
                        meanwhile()
                    finally:
                        self.condition.acquire()
                self.condition.wait(0.5)
            return self.statuses[name]


class GraphTestCase(unittest.TestCase):
    """Connects to the running graph; subclasses say what the camera publishes."""

    camera_type: type = Image
    camera_suffix = ""

    @classmethod
    def setUpClass(cls) -> None:
        for node in ("detector", "classifier"):
            rospy.wait_for_message(f"/face_affect/{node}/ready", Bool, timeout=TIMEOUT)
        frames = Path(rospy.get_param("~frames"))
        cls.two_people = cv2.imread(str(frames / TWO_PEOPLE))
        assert cls.two_people is not None, f"cannot read {frames / TWO_PEOPLE}"
        with open(EXPECTED_FACES, newline="") as stream:
            cls.expected_boxes = [
                tuple(int(row[key]) for key in ("x", "y", "width", "height"))
                for row in csv.DictReader(stream)
                if row["image"] == TWO_PEOPLE
            ]
        topic = rospy.get_param("~image_topic") + cls.camera_suffix
        cls.camera = rospy.Publisher(topic, cls.camera_type, queue_size=10)
        cls.faces = StampedCollector("/face_affect/faces", FaceDetectionArray)
        cls.results = StampedCollector("/face_affect/results", FaceAffectArray)
        wait_until(lambda: cls.camera.get_num_connections() >= 1, "the detector to subscribe the camera")
        wait_until(lambda: cls.faces.subscriber.get_num_connections() >= 1, "a connection to faces")
        wait_until(lambda: cls.results.subscriber.get_num_connections() >= 1, "a connection to results")

    def two_people_message(self):
        raise NotImplementedError

    def publish(self, message, stamp: rospy.Time | None = None) -> rospy.Time:
        """Publishes ``message`` at ``stamp``, by default 10 s after the previous frame: every check's
        frame is a scene of its own, the tracks of earlier frames ended by their timeout."""
        if stamp is None:
            type(self).clock = max(getattr(type(self), "clock", rospy.Time(0)), rospy.Time.now()) + rospy.Duration(10)
            stamp = type(self).clock
        message.header.stamp = stamp
        message.header.frame_id = "test_camera"
        self.camera.publish(message)
        return message.header.stamp

    def publish_until(self, condition: Callable[[], bool], what: str) -> None:
        """Frames, each awaited, until ``condition`` holds, for up to :data:`TIMEOUT` s. A publisher notices a
        subscriber's closed connection only on its next write, after a number of frames that grows with load."""
        deadline = time.monotonic() + TIMEOUT
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            self.results.wait_for(self.publish(self.two_people_message()))

    def assert_two_people_found(self, results: FaceAffectArray, scale: float = 1.0) -> None:
        found = face_boxes(results)
        for expected in self.expected_boxes:
            expected = tuple(round(value * scale) for value in expected)
            best = max((box_iou(FaceBox(*expected), FaceBox(*box)) for box in found), default=0.0)
            self.assertGreater(best, 0.5, f"no face found near {expected}; found {found}")
        # No other face of a comparable size: the 4K upscale also yields a 45 px box on background texture,
        # which a robot would track as a distant person; this check is about the people in the photo.
        smallest = min(box[2] for box in self.expected_boxes) * scale
        sizable = [box for box in found if box[2] >= smallest / 4]
        self.assertEqual(len(sizable), len(self.expected_boxes), f"false alarms among {found}")

    def test_annotated_frame_while_subscribed(self) -> None:
        annotated = StampedCollector("/face_affect/annotated", Image)
        try:
            # The classifier subscribes the camera only while annotated has a subscriber.
            wait_until(lambda: self.camera.get_num_connections() >= 2, "the classifier to subscribe the camera")
            stamp = self.publish(self.two_people_message())
            frame = annotated.wait_for(stamp)
            self.assertEqual(frame.encoding, "bgr8")
            self.assertEqual(frame.header.frame_id, "test_camera")
            self.assertEqual((frame.height, frame.width), self.two_people.shape[:2])
            pixels = np.frombuffer(frame.data, dtype=np.uint8).reshape(self.two_people.shape)
            changed = np.count_nonzero(np.any(np.abs(pixels.astype(int) - self.two_people) > 40, axis=2))
            self.assertGreater(changed, 1000, "nothing drawn")
        finally:
            annotated.subscriber.unregister()
        # rospy notices a closed connection on its next write, so it takes a few frames
        # until the classifier drops its camera subscription (and the camera sees it).
        self.publish_until(lambda: self.camera.get_num_connections() == 1, "the classifier to leave the camera")


class CompressedCameraTest(GraphTestCase):
    """The nodes with ``compressed: true`` (compressed.test): JPEG frames on <image>/compressed."""

    camera_type = CompressedImage
    camera_suffix = "/compressed"

    def two_people_message(self) -> CompressedImage:
        return CompressedImage(format="jpeg", data=cv2.imencode(".jpg", self.two_people)[1].tobytes())

    def test_faces_in_a_jpeg_frame(self) -> None:
        stamp = self.publish(self.two_people_message())
        self.assert_two_people_found(self.results.wait_for(stamp))

    def test_undecodable_frame_is_skipped(self) -> None:
        """The bad frame is read (its warning names it, the diagnostics count it), and the next is answered."""
        warnings = LogCollector()
        diagnostics = DiagnosticsCollector()
        try:
            self.publish(CompressedImage(format="jpeg", data=b"not a jpeg"))
            warnings.wait_for("/face_affect/detector", "cannot decode 'jpeg' compressed image")
            status = diagnostics.wait_for(
                STATUS_NAMES["detector"],
                lambda status: int(dict_of(status)["rejected as malformed"]) >= 1,
                "the rejected frame counted",
            )
            self.assertEqual(status.level, DiagnosticStatus.WARN)
        finally:
            warnings.subscriber.unregister()
            diagnostics.subscriber.unregister()
        stamp = self.publish(self.two_people_message())
        self.assert_two_people_found(self.results.wait_for(stamp))


class NodesTest(GraphTestCase):
    """The nodes on a raw sensor_msgs/Image camera (nodes.test)."""

    def two_people_message(self) -> Image:
        return image_message(self.two_people, "bgr8")

    def test_faces_labels_and_probabilities(self) -> None:
        stamp = self.publish(self.two_people_message())
        detections = self.faces.wait_for(stamp)
        results = self.results.wait_for(stamp)

        self.assertEqual(detections.header.frame_id, "test_camera")
        self.assertEqual((detections.image_height, detections.image_width), self.two_people.shape[:2])
        grey = cv2.cvtColor(self.two_people, cv2.COLOR_BGR2GRAY)
        self.assertEqual(len(detections.faces), 2)
        for face in detections.faces:
            self.assertEqual(face.crop.encoding, "mono8")
            self.assertEqual(face.crop.header.stamp, stamp)
            crop = np.frombuffer(face.crop.data, np.uint8).reshape(face.crop.height, face.crop.step)
            np.testing.assert_array_equal(
                crop[:, : face.crop.width], expected_crop(grey, face.roi, detections.crop_margin), f"{face.roi}"
            )
        # Every face here is confirmed at once (track_confirm_hits 1); tracking.test checks that
        # results hold the confirmed tracks only, with tentative ones in faces.

        self.assertEqual(results.header.frame_id, "test_camera")
        self.assertEqual(
            [face.track_id for face in results.faces], [face.track_id for face in detections.faces if face.confirmed]
        )
        self.assertEqual(len({face.track_id for face in results.faces}), len(results.faces))
        self.assert_two_people_found(results)
        self.assertTrue(results.gender_labels and results.emotion_labels)
        for face in results.faces:
            self.assertTrue(face.track_id and face.detected)
            self.assertLessEqual(face.first_seen, stamp)
            # A smoothed estimate below its threshold is unsure (an empty label); a single frame's is always stated.
            for label, confidence, probabilities, labels, threshold in (
                (
                    face.gender,
                    face.gender_confidence,
                    face.gender_probabilities,
                    results.gender_labels,
                    DEFAULTS.gender_min_confidence,
                ),
                (
                    face.emotion,
                    face.emotion_confidence,
                    face.emotion_probabilities,
                    results.emotion_labels,
                    DEFAULTS.emotion_min_confidence,
                ),
                (
                    face.frame_gender,
                    face.frame_gender_confidence,
                    face.frame_gender_probabilities,
                    results.gender_labels,
                    0,
                ),
                (
                    face.frame_emotion,
                    face.frame_emotion_confidence,
                    face.frame_emotion_probabilities,
                    results.emotion_labels,
                    0,
                ),
            ):
                self.assertEqual(len(probabilities), len(labels))
                self.assertAlmostEqual(sum(probabilities), 1.0, delta=1e-3)
                if not label:  # unsure: no label reaches the threshold
                    self.assertLess(max(probabilities), threshold)
                    continue
                # The best label, or one held by the hysteresis: near the best, near the threshold.
                held = probabilities[list(labels).index(label)]
                self.assertAlmostEqual(confidence, held, places=5)
                self.assertGreaterEqual(held, max(probabilities) - SWITCH_MARGIN - 1e-6)
                self.assertGreaterEqual(held, threshold - STATE_MARGIN - 1e-6)
                if threshold == 0:  # a single frame's estimate is the model's best class
                    self.assertEqual(label, labels[int(np.argmax(probabilities))])

    def test_heatmaps_only_while_subscribed(self) -> None:
        classifier = "/face_affect/classifier"
        logs = LogCollector()
        heatmaps = None
        try:
            self.results.wait_for(self.publish(self.two_people_message()))
            # A negative check that waits on an event: a bad faces message makes the classifier log a
            # warning after that frame; its log lines arrive in order, so a "computing heatmaps" line
            # for the frame would be in by then.
            marker = FaceDetectionArray(image_width=10, image_height=10, crop_margin=float("nan"))
            marker.header.stamp = rospy.Time.now()
            faces_publisher = rospy.Publisher("/face_affect/faces", FaceDetectionArray, queue_size=1)
            try:
                wait_until(lambda: faces_publisher.get_num_connections() >= 1, "the classifier to subscribe")
                logs.publish_until_logged(faces_publisher, marker, classifier, "crop_margin nan is not in 0..2")
            finally:
                faces_publisher.unregister()
            started = [message.msg for message in logs.messages if message.name == classifier]
            self.assertFalse(any("computing heatmaps" in text for text in started), "heatmaps computed unwatched")

            heatmaps = StampedCollector("/face_affect/heatmaps", FaceHeatmapArray)
            wait_until(lambda: heatmaps.subscriber.get_num_connections() >= 1, "a connection to heatmaps")
            stamp = self.publish(self.two_people_message())
            array = heatmaps.wait_for(stamp)
            logs.wait_for(classifier, "computing heatmaps")
            results = self.results.wait_for(stamp)
            self.assertEqual(array.header.frame_id, "test_camera")
            self.assertEqual(
                [heatmap.track_id for heatmap in array.heatmaps], [face.track_id for face in results.faces]
            )
            self.assertTrue(array.heatmaps, "no heatmap for a frame with faces")
            for heatmap, face in zip(array.heatmaps, results.faces):
                # The map explains this frame's prediction, the per-frame estimate.
                self.assertEqual((heatmap.task, heatmap.class_name), ("emotion", face.frame_emotion))
                image = heatmap.heatmap
                self.assertEqual((image.encoding, image.header.stamp), ("mono8", stamp))
                pixels = np.frombuffer(image.data, dtype=np.uint8)
                self.assertEqual(pixels.size, image.width * image.height)
                self.assertGreater(pixels.std(), 10.0, "a flat heatmap")
        finally:
            if heatmaps is not None:
                heatmaps.subscriber.unregister()
            try:
                # As for annotated: the publisher notices the closed connection on its next write.
                self.publish_until(
                    lambda: any("no longer computed" in message.msg for message in logs.messages),
                    "the classifier to log that heatmaps are no longer computed",
                )
            finally:
                logs.subscriber.unregister()

    def test_labels_come_from_the_models(self) -> None:
        settings = load_settings(overrides=rospy.get_param("/face_affect/classifier"))
        stamp = self.publish(self.two_people_message())
        results = self.results.wait_for(stamp)
        self.assertEqual(tuple(results.gender_labels), OnnxClassifier(resolve_model_path(settings.gender_model)).labels)
        self.assertEqual(
            tuple(results.emotion_labels), OnnxClassifier(resolve_model_path(settings.emotion_model)).labels
        )

    def test_face_free_frame_gives_an_empty_array(self) -> None:
        grey = np.full((480, 640, 3), 128, dtype=np.uint8)
        stamp = self.publish(image_message(grey, "bgr8"))
        self.assertEqual(self.faces.wait_for(stamp).faces, [])
        results = self.results.wait_for(stamp)
        self.assertEqual(results.faces, [])
        self.assertEqual(results.header.frame_id, "test_camera")

    def test_camera_encodings_give_the_same_faces(self) -> None:
        """Colour encodings of one picture give identical faces; grey and Bayer ones the same faces."""
        reference = self.results.wait_for(self.publish(self.two_people_message()))
        self.assert_two_people_found(reference)
        rgba = cv2.cvtColor(self.two_people, cv2.COLOR_BGR2RGBA)
        for encoding, pixels, padding, identical in (
            ("bgr8", self.two_people, 4, True),
            ("rgb8", cv2.cvtColor(self.two_people, cv2.COLOR_BGR2RGB), 0, True),
            ("rgba8", rgba, 0, True),
            ("bgra8", cv2.cvtColor(self.two_people, cv2.COLOR_BGR2BGRA), 12, True),
            ("mono8", cv2.cvtColor(self.two_people, cv2.COLOR_BGR2GRAY), 3, False),
            ("bayer_grbg8", bayer_grbg(self.two_people), 0, False),
        ):
            results = self.results.wait_for(self.publish(image_message(pixels, encoding, padding)))
            case = f"{encoding}, {padding} bytes of row padding"
            if identical:
                self.assertEqual(face_boxes(results), face_boxes(reference), case)
                self.assertEqual(
                    [(face.gender, face.emotion) for face in results.faces],
                    [(face.gender, face.emotion) for face in reference.faces],
                    case,
                )
            else:
                self.assertEqual(len(results.faces), len(reference.faces), case)
                for box, expected in zip(face_boxes(results), face_boxes(reference)):
                    self.assertGreater(box_iou(FaceBox(*box), FaceBox(*expected)), 0.8, f"{case}: {box} vs {expected}")

    def test_bad_frames_are_named_in_a_warning_and_the_nodes_stay_up(self) -> None:
        truncated = image_message(self.two_people, "bgr8")
        truncated.data = truncated.data[: len(truncated.data) // 2]
        bad_frames = (
            (image_message(np.zeros((48, 64), dtype=np.float32), "32FC1"), "unsupported encoding '32FC1'"),
            (image_message(np.zeros((48, 64), dtype=np.uint16), "16UC1"), "unsupported encoding '16UC1'"),
            (image_message(np.zeros((48, 32, 2), dtype=np.uint8), "nv21"), "unsupported encoding 'nv21'"),
            (Image(height=0, width=0, encoding="bgr8", step=0, data=b""), "empty 0x0 image"),
            (truncated, "malformed bgr8 image"),
        )
        warnings = LogCollector()
        diagnostics = DiagnosticsCollector()
        try:
            for bad, problem in bad_frames:
                self.publish(bad)
                warnings.wait_for("/face_affect/detector", problem)
            self.publish(self.two_people_message(), rospy.Time.now() - rospy.Duration(3600))
            warnings.wait_for("/face_affect/detector", "behind the clock")
            diagnostics.wait_for(
                STATUS_NAMES["detector"],
                lambda status: status.level == DiagnosticStatus.WARN and "bad input messages" in status.message,
                "a warning about bad input",
            )
        finally:
            warnings.subscriber.unregister()
            diagnostics.subscriber.unregister()
        stamp = self.publish(self.two_people_message())
        self.assert_two_people_found(self.results.wait_for(stamp))

    def test_hostile_face_messages_are_rejected_between_good_frames(self) -> None:
        """Anyone can publish on faces: each bad message is named in a warning, counted, and the good
        frames around them still get their results."""
        good = self.faces.wait_for(self.publish(self.two_people_message()))
        self.assertTrue(good.faces)

        def altered(change, **array) -> FaceDetectionArray:
            message = copy.deepcopy(good)
            message.header.stamp = rospy.Time.now()
            for key, value in array.items():
                setattr(message, key, value)
            change(message.faces[0])
            return message

        def setter(**fields):
            return lambda face: [setattr(face, key, value) for key, value in fields.items()]

        def roi(**fields):
            return lambda face: [setattr(face.roi, key, value) for key, value in fields.items()]

        hostile = (
            (altered(setter(crop=image_message(np.zeros((5, 5), np.uint8), "mono8"))), "does not match its box"),
            (altered(roi(width=0)), "empty box"),
            (altered(roi(x_offset=10_000)), "leaves the"),
            (altered(setter(score=float("nan"))), "score nan is not finite"),
            (altered(setter(track_id="")), "is empty or repeated"),
            (altered(lambda face: None, crop_margin=float("inf")), "crop_margin inf"),
            (altered(setter(crop=image_message(np.zeros((4, 4, 3), np.uint8), "bgr8"))), "mono8"),
            (altered(lambda face: None, faces=[good.faces[0]] * 10_000), "10000 faces in one message"),
            (altered(lambda face: None, header=stamped(rospy.Time.now() - rospy.Duration(3600))), "behind the clock"),
        )
        faces_publisher = rospy.Publisher("/face_affect/faces", FaceDetectionArray, queue_size=10)
        warnings = LogCollector()
        diagnostics = DiagnosticsCollector()
        try:
            wait_until(lambda: faces_publisher.get_num_connections() >= 1, "the classifier to subscribe")
            for message, problem in hostile:
                warnings.publish_until_logged(faces_publisher, message, "/face_affect/classifier", problem)
                stamp = self.publish(self.two_people_message())
                self.assert_two_people_found(self.results.wait_for(stamp))
            # Any status since the collector started: the counts are per period, and on a loaded machine
            # the period that counted them may end before the loop does (the next status then says 0).
            status = diagnostics.wait_for_any(
                STATUS_NAMES["classifier"],
                lambda status: int(dict_of(status)["rejected as malformed"]) > 0,
                "a count of the rejected messages",
            )
            self.assertEqual(status.level, DiagnosticStatus.WARN)
        finally:
            faces_publisher.unregister()
            warnings.subscriber.unregister()
            diagnostics.subscriber.unregister()

    def test_tiny_and_4k_frames(self) -> None:
        one_pixel = self.results.wait_for(self.publish(image_message(np.zeros((1, 1, 3), np.uint8), "bgr8")))
        self.assertEqual(one_pixel.faces, [])
        scale = 6.0  # 3840 x 2256
        large = cv2.resize(self.two_people, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        self.assert_two_people_found(self.results.wait_for(self.publish(image_message(large, "bgr8"))), scale)

    def test_zero_and_out_of_order_stamps_are_kept(self) -> None:
        """Results carry the stamp of their frame, whatever it is: matching them is the receiver's business."""
        later = self.publish(self.two_people_message())
        self.assert_two_people_found(self.results.wait_for(later))
        earlier = later - rospy.Duration(5.0)
        self.assert_two_people_found(self.results.wait_for(self.publish(self.two_people_message(), earlier)))
        zero = rospy.Time(0)
        self.assert_two_people_found(self.results.wait_for(self.publish(self.two_people_message(), zero)))

    def test_a_restarted_camera_is_read_again(self) -> None:
        """A camera driver that restarts: its publisher goes, a new one comes on the same topic, here
        with another resolution and encoding (rgb8 at 1.5 times the size), then the old ones again."""
        topic = self.camera.resolved_name
        self.camera.unregister()
        try:
            wait_until(lambda: not camera_publishers(topic), "the master to drop the old camera")
        finally:
            type(self).camera = rospy.Publisher(topic, Image, queue_size=10)
        wait_until(lambda: self.camera.get_num_connections() >= 1, "the detector to connect to the new camera")
        larger = cv2.resize(self.two_people, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)
        restarted = image_message(cv2.cvtColor(larger, cv2.COLOR_BGR2RGB), "rgb8")
        self.assert_two_people_found(self.results.wait_for(self.publish(restarted)), scale=1.5)
        self.assert_two_people_found(self.results.wait_for(self.publish(self.two_people_message())))

    def test_diagnostics_describe_both_nodes(self) -> None:
        diagnostics = DiagnosticsCollector()
        try:
            for node, input_topic in (("detector", self.camera.resolved_name), ("classifier", "/face_affect/faces")):
                status = diagnostics.wait_for(
                    STATUS_NAMES[node],
                    lambda status: float(dict_of(status)["input rate (Hz)"]) > 0,
                    "input",
                    meanwhile=lambda: self.results.wait_for(self.publish(self.two_people_message())),
                )
                values = dict_of(status)
                self.assertEqual(values["input topic"], input_topic, node)
                self.assertEqual(values["enabled"], "true", node)
                self.assertGreater(float(values["processing time mean (ms)"]), 0.0, node)
                models = [value for key, value in values.items() if key.startswith("model ")]
                settings = load_settings(overrides=rospy.get_param("/face_affect/classifier"))
                self.assertIn(str(resolve_model_path(settings.emotion_model)), models)
        finally:
            diagnostics.subscriber.unregister()

    def test_late_outputs_turn_the_delay_check_warn(self) -> None:
        """A frame stamped 2 s before it arrives (a slow camera driver, a congested link): both nodes'
        outputs leave over diagnostics_max_delay after its stamp, and their status says so."""
        diagnostics = DiagnosticsCollector()
        try:
            late = self.publish(self.two_people_message(), rospy.Time.now() - rospy.Duration(2.0))
            self.assert_two_people_found(self.results.wait_for(late))
            for node in ("detector", "classifier"):
                status = diagnostics.wait_for_any(
                    STATUS_NAMES[node], lambda status: "after their frame's stamp" in status.message, "a late output"
                )
                self.assertEqual(status.level, DiagnosticStatus.WARN, node)
                self.assertGreater(float(dict_of(status)["Latest timestamp delay:"]), 2.0, node)
        finally:
            diagnostics.subscriber.unregister()

    def test_enable_pauses_and_resumes_each_node(self) -> None:
        diagnostics = DiagnosticsCollector()
        try:
            for node in ("detector", "classifier"):
                enable = rospy.ServiceProxy(f"/face_affect/{node}/enable", SetBool)
                enable.wait_for_service(TIMEOUT)
                try:
                    self.assertEqual(enable(False).message, "paused", node)
                    diagnostics.wait_for(
                        STATUS_NAMES[node],
                        lambda status: status.message == "paused (~enable false)",
                        "a paused message",
                    )
                    if node == "detector":
                        wait_until(lambda: not detector_reads(self.camera.resolved_name), "the camera unsubscribed")
                    paused_stamp = self.publish(self.two_people_message())
                    # A paused node publishes nothing for this frame; a running one answers in ~0.1 s.
                    with self.assertRaises(AssertionError):
                        self.results.wait_for(paused_stamp, timeout=2.0)
                finally:
                    self.assertEqual(enable(True).message, "processing")
                self.assert_two_people_found(self.first_results_after_resuming())
        finally:
            diagnostics.subscriber.unregister()

    def test_no_faces_are_cut_out_while_nobody_subscribes(self) -> None:
        detector = "/face_affect/detector"
        enable = rospy.ServiceProxy("/face_affect/classifier/enable", SetBool)
        enable.wait_for_service(TIMEOUT)
        logs = LogCollector()
        try:
            enable(False)
            self.faces.subscriber.unregister()
            # The detector notices the closed connections on its next write, then skips frames.
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                self.publish(self.two_people_message())
                if any("has no subscriber, frames skipped" in message.msg for message in logs.messages):
                    break
                time.sleep(0.2)
            logs.wait_for(detector, "/face_affect/faces has no subscriber, frames skipped")
        finally:
            type(self).faces = StampedCollector("/face_affect/faces", FaceDetectionArray)
            enable(True)
        try:
            self.assert_two_people_found(self.first_results_after_resuming())
            logs.wait_for(detector, "/face_affect/faces has a subscriber, detecting faces")
        finally:
            logs.subscriber.unregister()

    def test_the_nodes_write_no_file(self) -> None:
        """Privacy: while processing people's faces, neither node holds a file open for writing.

        Exceptions: rospy's own log files (under the ROS log directory) and standard
        output and error, which the launcher chooses.
        """
        log_directory = os.path.realpath(rospkg.get_log_dir())
        for _ in range(5):
            self.assert_two_people_found(self.results.wait_for(self.publish(self.two_people_message())))
        for node in ("/face_affect/detector", "/face_affect/classifier"):
            written = files_open_for_writing(node_pid(node))
            self.assertEqual([path for path in written if not path.startswith(log_directory)], [], node)

    def first_results_after_resuming(self) -> FaceAffectArray:
        """Publishes until results come: a resumed node's new connection has no event to wait on."""
        for _ in range(round(TIMEOUT)):
            try:
                return self.results.wait_for(self.publish(self.two_people_message()), timeout=1.0)
            except AssertionError:
                continue
        raise AssertionError("no results after resuming")


def node_pid(node: str) -> int:
    api = rosgraph.Master(rospy.get_name()).lookupNode(node)
    code, message, pid = xmlrpc.client.ServerProxy(api).getPid(rospy.get_name())
    if code != 1:
        raise AssertionError(f"{node}: getPid failed: {message}")
    return int(pid)


def files_open_for_writing(pid: int) -> list[str]:
    """Regular files the process has open write-only or read-write, from /proc (standard streams aside)."""
    paths = []
    for descriptor in os.listdir(f"/proc/{pid}/fd"):
        if int(descriptor) <= 2:  # standard input, output and error
            continue
        try:
            path = os.readlink(f"/proc/{pid}/fd/{descriptor}")
            with open(f"/proc/{pid}/fdinfo/{descriptor}") as info:
                flags = int(next(line for line in info if line.startswith("flags:")).split()[1], 8)
        except (FileNotFoundError, StopIteration):  # closed meanwhile
            continue
        if path.startswith("/") and os.path.isfile(path) and flags & os.O_ACCMODE != os.O_RDONLY:
            paths.append(os.path.realpath(path))
    return paths


def dict_of(status: DiagnosticStatus) -> dict[str, str]:
    return {pair.key: pair.value for pair in status.values}


def camera_publishers(topic: str) -> list[str]:
    return dict(rosgraph.Master(rospy.get_name()).getSystemState()[0]).get(topic, [])


def detector_reads(topic: str) -> bool:
    """Whether the master lists the detector among ``topic``'s subscribers."""
    subscribers = dict(rosgraph.Master(rospy.get_name()).getSystemState()[1])
    return "/face_affect/detector" in subscribers.get(topic, [])


if __name__ == "__main__":
    rospy.init_node("face_affect_nodes_test")
    if rospy.get_param("~compressed", False):
        rostest.rosrun("face_affect", "compressed_camera", CompressedCameraTest)
    else:
        rostest.rosrun("face_affect", "nodes", NodesTest)
