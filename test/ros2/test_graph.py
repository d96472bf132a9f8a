"""The ROS 2 graph through its real launch file (launch_testing): the contract, YAML parameters, bad frames,
a node killed with SIGKILL, the ROS4HRI topics and /diagnostics.

Run by ``make test-ros2`` (pytest with launch_testing's plugin) in build/ros2_ws's shell.
"""

from __future__ import annotations

import os
import signal
import time
import unittest
from pathlib import Path

import cv2
import launch_testing
import launch_testing.asserts
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from graph_client import REPOSITORY, STATUS_NAMES, TIMEOUT, Client, Collector, graph_launch, latched
from hri_msgs.msg import IdsList, NormalizedRegionOfInterest2D
from sensor_msgs.msg import Image

from face_affect.geometry import box_iou
from face_affect.msg import FaceAffectArray, FaceDetectionArray
from face_affect.settings import DEFAULTS
from face_affect.types import FaceBox

FRAMES = REPOSITORY / "data" / "frames"
HELD_OUT = REPOSITORY.parent / "shared" / "data" / "photos"
LABELS = REPOSITORY / "test" / "data" / "labelled_faces.csv"
IGNORED = REPOSITORY / "test" / "data" / "ignored_regions.csv"
STARTED: list[tuple[str, int]] = []


@pytest.mark.launch_test
def generate_test_description():
    return graph_launch(
        {
            "config": str(Path(__file__).with_name("graph.yaml")),
            "ros4hri": "true",
            "respawn": "true",
            "respawn_delay": "1",
        },
        STARTED,
    )


def read_boxes(path: Path) -> dict[str, list[FaceBox]]:
    boxes: dict[str, list[FaceBox]] = {}
    for line in path.read_text().splitlines():
        if line.startswith("#") or line.startswith("image,") or not line.strip():
            continue
        name, *numbers = line.split(",")
        boxes.setdefault(name, []).append(FaceBox(*(int(number) for number in numbers)))
    return boxes


class GraphTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.client = Client("face_affect_graph_test")
        node = cls.client.node
        cls.faces = Collector(node, FaceDetectionArray, "/face_affect/faces")
        cls.results = Collector(node, FaceAffectArray, "/face_affect/results")
        cls.tracked = Collector(node, IdsList, "/humans/faces/tracked")
        cls.diagnostics = Collector(node, DiagnosticArray, "/diagnostics", key=None, qos=100)
        cls.client.wait_ready("detector")
        cls.client.wait_ready("classifier")
        cls.two_people = cv2.imread(str(FRAMES / "face_recognition_two_people.jpg"))

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()

    def answer(self, image: np.ndarray, encoding: str = "bgr8") -> FaceAffectArray:
        return self.client.publish_until(lambda: self.client.publish_frame(image, encoding), self.results, "a frame")

    def detector_counts(self) -> str:
        """The detector's last diagnostics counts, to say where a frame was lost."""
        for array in reversed(self.diagnostics.messages):
            for status in array.status:
                if status.name == STATUS_NAMES["detector"]:
                    return ", ".join(f"{pair.key} {pair.value}" for pair in status.values[:12])
        return "no detector diagnostics"

    def assert_consistent(self, results: FaceAffectArray) -> None:
        """Labels and probabilities as FaceAffect.msg documents them."""
        self.assertTrue(results.gender_labels and results.emotion_labels)
        thresholds = {
            "gender": DEFAULTS.gender_min_confidence,
            "emotion": DEFAULTS.emotion_min_confidence,
            "frame_gender": 0.0,  # a single frame's estimate is always stated
            "frame_emotion": 0.0,
        }
        for face in results.faces:
            for field, threshold in thresholds.items():
                label, confidence = getattr(face, field), getattr(face, f"{field}_confidence")
                probabilities = getattr(face, f"{field}_probabilities")
                labels = results.gender_labels if field.endswith("gender") else results.emotion_labels
                self.assertEqual(len(probabilities), len(labels))
                self.assertAlmostEqual(sum(probabilities), 1.0, delta=1e-3)
                if label:
                    self.assertIn(label, labels)
                    self.assertAlmostEqual(confidence, probabilities[list(labels).index(label)], places=5)
                    self.assertGreaterEqual(confidence, threshold - 0.05)
                    if threshold == 0:  # the model's best class
                        self.assertAlmostEqual(confidence, max(probabilities), places=5)
                else:
                    self.assertLess(max(probabilities), threshold)
            self.assertTrue(face.track_id)  # detected is false while a track coasts (the last photo's faces)
            self.assertTrue(np.isnan(face.age) or 0 < face.age < 120)

    def test_every_frame_is_answered_with_its_stamp(self) -> None:
        """Frames one after the other at up to 5 Hz, each awaited (no retry): each gets faces and results
        with its own stamp."""
        self.answer(self.two_people)  # the camera publisher matched
        for name in sorted(path.name for path in FRAMES.glob("*.jpg")):
            image = cv2.imread(str(FRAMES / name))
            for _ in range(5):
                stamp = self.client.publish_frame(image)
                results = self.results.wait_for(stamp, timeout=10.0, required=False)
                self.assertIsNotNone(results, f"no answer to {name} stamped {stamp}; {self.detector_counts()}")
                detections = self.faces.wait_for(stamp)
                time.sleep(0.2)
                self.assertEqual(results.header.frame_id, "test_camera")
                self.assertEqual((detections.image_height, detections.image_width), image.shape[:2])
                self.assertEqual(
                    [face.track_id for face in results.faces],
                    [face.track_id for face in detections.faces if face.confirmed],
                )
                self.assertGreaterEqual(sum(face.detected for face in results.faces), 2, name)
                self.assert_consistent(results)

    def test_faces_on_held_out_photos(self) -> None:
        """Recall and precision of the graph's boxes on the labelled photos of ../shared/data (IoU 0.5)."""
        if not HELD_OUT.is_dir():
            self.skipTest(f"{HELD_OUT} is not here")
        labelled, ignored = read_boxes(LABELS), read_boxes(IGNORED)
        hits = found = expected = 0
        for name, truths in labelled.items():
            results = self.answer(cv2.imread(str(HELD_OUT / name)))
            boxes = [
                FaceBox(f.roi.x_offset, f.roi.y_offset, f.roi.width, f.roi.height) for f in results.faces if f.detected
            ]
            boxes = [box for box in boxes if not any(box_iou(box, region) > 0.3 for region in ignored.get(name, []))]
            hits += sum(any(box_iou(box, truth) >= 0.5 for box in boxes) for truth in truths)
            found += len(boxes)
            expected += len(truths)
        recall, precision = hits / expected, hits / max(found, 1)
        print(f"held-out photos: recall {recall:.3f}, precision {precision:.3f} ({hits} of {expected}, {found} found)")
        self.assertGreaterEqual(recall, 0.8)
        self.assertGreaterEqual(precision, 0.8)

    def test_parameters_come_from_the_yaml_file(self) -> None:
        values = self.client.parameters("detector", ["track_confirm_hits", "diagnostics_period", "ros4hri"])
        self.assertEqual(values[0].integer_value, 1)  # graph.yaml (the default is 3)
        self.assertAlmostEqual(values[1].double_value, 0.5)
        self.assertTrue(values[2].bool_value)  # the launch argument ros4hri:=true

    def test_malformed_frames_are_named_in_a_warning_and_the_nodes_stay_up(self) -> None:
        image = self.two_people
        for bad, problem in (
            (Image(height=48, width=64, encoding="32FC1", step=256, data=bytes(48 * 256)), "unsupported encoding"),
            (Image(height=0, width=0, encoding="bgr8", step=0, data=b""), "empty 0x0 image"),
            (Image(height=376, width=640, encoding="bgr8", step=1920, data=bytes(1000)), "malformed bgr8 image"),
        ):
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                self.client.camera.publish(bad)
                try:
                    self.client.logged("face_affect.detector", problem, timeout=1.0)
                    break
                except AssertionError:
                    continue
            self.client.logged("face_affect.detector", problem, timeout=0.0)
        self.diagnostics.wait_until(
            lambda arrays: any(
                status.name == STATUS_NAMES["detector"]
                and status.level == DiagnosticStatus.WARN
                and "bad input messages" in status.message
                for array in arrays
                for status in array.status
            ),
            "the bad frames counted in /diagnostics",
        )
        self.assertGreaterEqual(len(self.answer(image).faces), 2)

    def test_ros4hri_topics_list_the_tracks_with_normalised_regions(self) -> None:
        results = self.answer(self.two_people)
        stamp = max(self.results.by_stamp)
        tracked = self.tracked.wait_for(stamp)
        self.assertEqual(sorted(tracked.ids), sorted(face.track_id for face in results.faces))
        for face_id in tracked.ids:
            roi = Collector(
                self.client.node, NormalizedRegionOfInterest2D, f"/humans/faces/{face_id}/roi", qos=latched()
            )
            region = roi.wait_until(lambda messages: bool(messages), f"the roi of {face_id}")[-1]
            self.assertTrue(0.0 <= region.xmin < region.xmax <= 1.0 and 0.0 <= region.ymin < region.ymax <= 1.0)
            self.assertTrue(0.0 <= region.c <= 1.0)
            self.client.node.destroy_subscription(roi.subscription)

    def test_both_nodes_report_on_diagnostics(self) -> None:
        self.answer(self.two_people)
        arrays = self.diagnostics.wait_until(
            lambda arrays: set(STATUS_NAMES.values()) <= {status.name for array in arrays for status in array.status},
            "both nodes on /diagnostics",
        )
        names = {status.name for array in arrays for status in array.status}
        self.assertLessEqual(set(STATUS_NAMES.values()), names)

    def test_z_a_node_killed_with_sigkill_comes_back(self) -> None:
        """Last (by name): SIGKILL the detector; the launch file's respawn starts it again and frames are answered."""
        detectors = [pid for name, pid in STARTED if name.startswith("detector_node")]
        self.assertEqual(len(detectors), 1, STARTED)
        os.kill(detectors[0], signal.SIGKILL)
        deadline = time.monotonic() + TIMEOUT
        while len([name for name, _ in STARTED if name.startswith("detector_node")]) < 2:
            self.assertLess(time.monotonic(), deadline, "the detector was not started again")
            time.sleep(0.1)
        self.client.wait_ready("detector")
        self.assertGreaterEqual(len(self.answer(self.two_people).faces), 2)


@launch_testing.post_shutdown_test()
class AfterShutdown(unittest.TestCase):
    def test_the_nodes_ended_cleanly(self, proc_info) -> None:
        """The nodes end on the launch's SIGINT without an error (the detector killed by the test aside)."""
        launch_testing.asserts.assertExitCodes(proc_info, allowable_exit_codes=[0, -signal.SIGINT, -signal.SIGKILL])
