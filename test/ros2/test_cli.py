"""The CLI (``python -m face_affect``) in the ROS 2 environment: every module it imports (rosbags, tqdm) is
installed there too (requirements-ros2.txt), and it classifies a photo.

Run by ``make test-ros2`` in build/ros2_ws's shell; no ROS graph.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PHOTO = Path(__file__).resolve().parents[2] / "data" / "frames" / "face_recognition_two_people.jpg"


def face_affect(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "face_affect", *arguments], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_cli_imports() -> None:
    run = face_affect("--help")
    assert run.returncode == 0, run.stderr
    assert "bag" in run.stdout


def test_the_cli_classifies_a_photo() -> None:
    run = face_affect("image", str(PHOTO), "--quiet")
    assert run.returncode == 0, run.stderr
    (record,) = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(record["faces"]) == 2
