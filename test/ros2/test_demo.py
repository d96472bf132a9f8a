"""``demo.launch.py record:=true`` ends by itself, as ``make demo-ros2`` runs it: the recorder exits after
``duration`` seconds, its ``on_exit`` shuts the launch down, every node ends cleanly and the launch exits
0 with the summary written and no error line (the ROS 2 twin of test/rostest_demo_ending.py).

The launch runs as ``ros2 launch`` would (``face_affect.ros2.launch_file``) in a process group of its
own, in a ROS domain that no other run holds (``--own-domain``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

FAILURE_MARKERS = ("has died", "Traceback", "[ERROR]", "FATAL", "exit code")
TIMEOUT = 200.0


def run_launch(*arguments: str) -> tuple[int, str]:
    """Runs a launch of face_affect to its end; a launch still running after :data:`TIMEOUT` is interrupted
    (then killed), with all its nodes, and fails the test."""
    launch = subprocess.Popen(
        [sys.executable, "-m", "face_affect.ros2.launch_file", "--own-domain", "face_affect", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        log, _ = launch.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(launch.pid, signal.SIGINT)
        try:
            log, _ = launch.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(launch.pid, signal.SIGKILL)
            log, _ = launch.communicate()
        raise AssertionError(f"the launch did not end by itself within {TIMEOUT:g} s:\n{log[-3000:]}") from None
    return launch.returncode, log


def test_the_recording_demo_ends_by_itself_with_exit_0_and_no_error(tmp_path: Path) -> None:
    status, log = run_launch("demo.launch.py", "record:=true", "duration:=3", f"output_dir:={tmp_path}")
    assert status == 0, log[-3000:]
    assert re.search(r"(?m)^ROS_DOMAIN_ID=\d+, discovery on this machine only$", log)
    assert [line for line in log.splitlines() if any(marker in line for marker in FAILURE_MARKERS)] == []
    started = re.findall(r"\[(\S+)\]: process started with pid", log)
    assert sorted(started) == sorted(re.findall(r"\[(\S+)\]: process has finished cleanly", log))
    assert {name.rsplit("-", 1)[0] for name in started} == {
        "publish_frames",
        "detector_node",
        "classifier_node",
        "record_results",
    }
    assert "recording done" in log
    summary = (tmp_path / "summary.txt").read_text()
    results = re.search(r"(?m)^results: (\d+) frames at [\d.]+ Hz, (\d+) with faces", summary)
    assert results and int(results[1]) > 0 and int(results[2]) > 0, summary
    assert re.search(r"(?m)^annotated: [1-9]\d* frames at [\d.]+ Hz, [1-9]\d* saved", summary), summary
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == int(results[1])
    assert any(json.loads(line)["faces"] for line in lines)
    assert list(tmp_path.glob("annotated_*.jpg"))
