#!/usr/bin/env python3
"""Nodes given a bad model exit with status 1 and one line naming the file and the fault (bad_models.test).

Each case starts a real node against the rostest master and waits for it to end:
a node that crashed with only a traceback, or kept running, fails the case. The
classifier node, which receives crops, must start whatever the detector model is.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

import rospkg
import rospy
import rostest
from roslib.packages import find_node
from std_msgs.msg import Bool

from model_files import rewrite_metadata

TIMEOUT = 60.0


class BadModelTest(unittest.TestCase):
    node_numbers = itertools.count()

    @classmethod
    def setUpClass(cls) -> None:
        cls.directory = Path(tempfile.mkdtemp(prefix="face_affect_bad_models_"))
        models = Path(rospkg.RosPack().get_path("face_affect")) / "models"
        cls.emotion = models / "emotion_mini_xception.onnx"
        cls.gender = models / "gender_mini_xception.onnx"
        cls.corrupt = cls.directory / "corrupt.onnx"
        cls.corrupt.write_bytes(cls.emotion.read_bytes()[:1000])
        cls.no_labels = rewrite_metadata(cls.emotion, cls.directory / "no_labels.onnx", labels=None)
        cls.wrong_size = rewrite_metadata(cls.emotion, cls.directory / "wrong_size.onnx", input_size="[64, 64]")

    def run_node(self, node: str, *parameters: str, python_path: str = "") -> tuple[int, str]:
        """Runs ``node`` under a fresh name with private parameters (``python_path`` searched first);
        its exit status and output."""
        executable = find_node("face_affect", node)[0]
        name = f"bad_{node}_{next(self.node_numbers)}"
        environment = dict(os.environ, ROSCONSOLE_FORMAT="[${severity}] ${message}")
        if python_path:
            environment["PYTHONPATH"] = os.pathsep.join([python_path, os.environ.get("PYTHONPATH", "")])
        completed = subprocess.run(
            [executable, f"__name:={name}", *parameters],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=environment,
        )
        return completed.returncode, completed.stdout + completed.stderr

    def assert_fatal(self, node: str, parameter: str, *expected: str, python_path: str = "") -> None:
        status, output = self.run_node(node, parameter, python_path=python_path)
        self.assertEqual(status, 1, f"{node} {parameter}: exit status {status}; output:\n{output}")
        self.assertIn("cannot start:", output)
        for text in expected:
            self.assertIn(text, output)
        self.assertNotIn("Traceback", output, "a traceback instead of a one-line reason")

    def test_classifier_with_a_missing_model(self) -> None:
        missing = self.directory / "nonexistent.onnx"
        self.assert_fatal("classifier_node", f"_emotion_model:={missing}", f"{missing}: model file not found")

    def test_classifier_with_a_corrupt_model(self) -> None:
        self.assert_fatal(
            "classifier_node", f"_gender_model:={self.corrupt}", f"{self.corrupt}: not a loadable ONNX model"
        )

    def test_classifier_with_a_model_of_the_wrong_task(self) -> None:
        self.assert_fatal(
            "classifier_node", f"_emotion_model:={self.gender}", f"{self.gender}: task is 'gender', expected 'emotion'"
        )

    def test_classifier_with_labels_missing(self) -> None:
        self.assert_fatal(
            "classifier_node", f"_emotion_model:={self.no_labels}", f"{self.no_labels}: metadata lacks labels"
        )

    def test_classifier_with_the_wrong_input_shape(self) -> None:
        self.assert_fatal("classifier_node", f"_emotion_model:={self.wrong_size}", f"{self.wrong_size}: input shape")

    def test_detector_with_a_corrupt_detector_model(self) -> None:
        self.assert_fatal("detector_node", f"_blazeface_model:={self.corrupt}", str(self.corrupt))

    def test_detector_with_an_unknown_detector(self) -> None:
        self.assert_fatal("detector_node", "_detector:=cnn", "cnn")

    def test_classifier_with_ros4hri_but_no_hri_msgs(self) -> None:
        """Where hri_msgs is installed, a package of that name that cannot be imported hides it."""
        hidden = self.directory / "without_hri_msgs"
        (hidden / "hri_msgs").mkdir(parents=True, exist_ok=True)
        (hidden / "hri_msgs" / "__init__.py").write_text(
            "raise ModuleNotFoundError(\"No module named 'hri_msgs'\", name='hri_msgs')\n"
        )
        self.assert_fatal(
            "classifier_node", "_ros4hri:=true", "needs the ROS package hri_msgs", python_path=str(hidden)
        )

    def test_classifier_ignores_the_detector_model_it_does_not_run(self) -> None:
        name = f"classifier_{next(self.node_numbers)}"
        node = subprocess.Popen(
            [find_node("face_affect", "classifier_node")[0], f"__name:={name}", f"_blazeface_model:={self.corrupt}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            ready = rospy.wait_for_message(f"/{name}/ready", Bool, timeout=TIMEOUT)
            self.assertTrue(ready.data)
        finally:
            node.terminate()
            output = node.communicate(timeout=TIMEOUT)[0]
        self.assertNotIn("cannot start", output)


if __name__ == "__main__":
    rospy.init_node("face_affect_bad_models_test")
    rostest.rosrun("face_affect", "bad_models", BadModelTest)
