#!/usr/bin/env python3
"""``demo.launch record:=true`` ends by itself, as ``make demo`` does, as the success it is.

The recorder asks the roslaunch that started it to shut down once it has recorded: the launch exits
0, with the summary written, and says nothing of a dead node or an error (issue 34). The launch runs
against the rostest master, so ending it leaves the master up.
"""

from __future__ import annotations

import subprocess
import tempfile
import unittest
from pathlib import Path

import rospy
import rostest

FAILURE_MARKERS = ("has died", "Traceback", "[ERROR]", "FATAL")


class DemoEndingTest(unittest.TestCase):
    def test_the_recording_demo_ends_by_itself_with_exit_0_and_no_error(self) -> None:
        with tempfile.TemporaryDirectory() as output:
            completed = subprocess.run(
                ["roslaunch", "face_affect", "demo.launch", "record:=true", "duration:=3", f"output_dir:={output}"],
                capture_output=True,
                text=True,
                timeout=200,
            )
            log = completed.stdout + completed.stderr
            self.assertEqual(completed.returncode, 0, log[-3000:])
            failures = [line for line in log.splitlines() if any(marker in line for marker in FAILURE_MARKERS)]
            self.assertEqual(failures, [])
            self.assertIn("recording done, ending the launch", log)
            summary = (Path(output) / "summary.txt").read_text()
        self.assertRegex(summary, r"(?m)^annotated: [1-9]")


if __name__ == "__main__":
    rospy.init_node("face_affect_demo_ending_test")
    rostest.rosrun("face_affect", "demo_ending", DemoEndingTest)
