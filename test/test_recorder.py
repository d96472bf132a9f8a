"""The demo recorder's core (:mod:`face_affect.node_core.recorder`) on real ROS 1 messages: what it writes,
what the summary says, and a frame it cannot decode (a warning, nothing saved, no crash)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rospy", reason="ROS 1 (rospy, cv_bridge) is not installed: the ROS adapters are not tested")
pytestmark = pytest.mark.ros

import cv2  # noqa: E402
import rospy  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from conftest import over_the_wire  # noqa: E402
from face_affect.node_core.messages import affect_array  # noqa: E402
from face_affect.node_core.recorder import ResultRecorder  # noqa: E402
from face_affect.ros.messages import ROS1_KIT  # noqa: E402

STAMP = rospy.Time(1_700_000_000, 123_456_789)  # nanoseconds that a float of seconds does not hold exactly


def test_results_frames_and_summary_are_written(tmp_path: Path, pipeline, two_people: np.ndarray) -> None:
    results = [
        dataclasses.replace(result, track_id=f"face_{index}", first_seen=1.0)
        for index, result in enumerate(pipeline.process(two_people))
    ]
    header = Header(stamp=STAMP, frame_id="camera")
    labels = (pipeline.labels("gender"), pipeline.labels("emotion"))
    message = over_the_wire(affect_array(ROS1_KIT, header, results, *labels))
    warnings: list[str] = []
    recorder = ResultRecorder(tmp_path / "demo", image_interval=0.0, kit=ROS1_KIT, warn=warnings.append)
    assert not recorder.has_results
    recorder.receive_results(message)
    recorder.receive_results(over_the_wire(affect_array(ROS1_KIT, header, [], *labels)))
    assert recorder.has_results and recorder.first_result.is_set()
    recorder.receive_annotated(over_the_wire(ROS1_KIT.images.to_message(two_people, "bgr8", header)))
    broken = ROS1_KIT.images.to_message(two_people, "bgr8", header)
    broken.data = broken.data[:100]
    recorder.receive_annotated(over_the_wire(broken))
    summary = recorder.finish()
    recorder.receive_results(message)  # after the end: ignored, the file is closed

    assert (tmp_path / "demo" / "summary.txt").read_text() == summary + "\n"
    assert re.match(r"results: 2 frames at [\d.]+ Hz, 1 with faces, 2 faces\n", summary)
    for task in ("gender", "emotion"):
        (counts,) = re.findall(rf"(?m)^{task}: (.*)$", summary)
        expected = Counter(result.attributes[task].label or "unsure" for result in results)
        assert {label: int(count) for label, count in (pair.split(" ") for pair in counts.split(", "))} == expected
    assert re.search(r"(?m)^annotated: 2 frames at [\d.]+ Hz, 1 saved$", summary)
    assert re.search(r"(?m)^age: median \d+ years, \d+-\d+$", summary)
    lines = (tmp_path / "demo" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["stamp"] == pytest.approx(STAMP.to_sec()) and first["frame_id"] == "camera"
    assert [face["track_id"] for face in first["faces"]] == ["face_0", "face_1"]
    assert [face["box"] for face in first["faces"]] == [result.box.as_list()[:4] for result in results]
    (saved,) = (tmp_path / "demo").glob("annotated_*.jpg")
    assert saved.name == "annotated_1700000000.123456789.jpg"
    assert cv2.imread(str(saved)).shape == two_people.shape
    assert len(warnings) == 1 and "annotated frame not saved" in warnings[0]
