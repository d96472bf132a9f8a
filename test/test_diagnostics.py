"""The diagnostics status of a node over one window (no master needed)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

pytest.importorskip("rospy", reason="ROS 1 (rospy, cv_bridge) is not installed: the ROS adapters are not tested")
pytestmark = pytest.mark.ros

import rospy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from diagnostic_updater import DiagnosticStatusWrapper  # noqa: E402

from face_affect.node_core.diagnostics import Status, node_status, window_between  # noqa: E402
from face_affect.node_core.latest import LatestMessageWorker, WorkerCounts  # noqa: E402
from face_affect.ros.diagnostics import NodeStatus, OutputDelay, OutputRate  # noqa: E402

MODELS = ["models/gender_mini_xception.onnx", "models/emotion_mini_xception.onnx"]


def status(previous: WorkerCounts, current: WorkerCounts, enabled: bool = True, now: float = 100.0):
    window = window_between(previous, current, seconds=2.0, longest_seconds=0.025, now=now)
    return node_status(window, enabled, "/camera/image_raw", MODELS, silent_after=5.0)


@pytest.fixture(autouse=True)
def wall_clock() -> None:
    """rospy's clock as a node without simulated time has it (the checks read ``rospy.Time.now()``)."""
    rospy.rostime.set_rostime_initialized(True)


def values(result: DiagnosticStatus | Status) -> dict[str, str]:
    if isinstance(result, Status):
        return result.values
    return {pair.key: pair.value for pair in result.values}


def test_rates_and_times_cover_the_window() -> None:
    previous = WorkerCounts(received=10, processed=9, processing_seconds=0.09, faces=9, last_received=97.0)
    current = WorkerCounts(received=70, processed=65, dropped=4, processing_seconds=0.65, faces=121, last_received=99.9)
    result = status(previous, current)
    found = values(result)
    assert result.level == DiagnosticStatus.OK
    assert found["input rate (Hz)"] == "30.00"
    assert found["processed rate (Hz)"] == "28.00"
    assert found["processing time mean (ms)"] == "10.00"
    assert found["processing time max (ms)"] == "25.00"
    assert found["faces per frame"] == "2.00"
    assert found["dropped as stale"] == "4"
    assert [found["model 0"], found["model 1"]] == MODELS
    assert result.message.startswith("30.0 Hz in, 28.0 Hz processed, 10.0 ms per frame")


def test_a_silent_camera_is_a_warning_naming_the_topic() -> None:
    counts = WorkerCounts(received=5, processed=5, last_received=90.0)
    result = status(counts, counts, now=100.0)
    assert result.level == DiagnosticStatus.WARN
    assert result.message == "no input on /camera/image_raw for 10 s"
    never = status(WorkerCounts(), WorkerCounts())
    assert (never.level, never.message) == (DiagnosticStatus.WARN, "no input on /camera/image_raw yet")


def test_rejected_messages_are_a_warning() -> None:
    previous = WorkerCounts(received=5, processed=5, last_received=99.0)
    current = WorkerCounts(received=8, processed=8, rejected=2, last_received=99.5)
    result = status(previous, current)
    assert result.level == DiagnosticStatus.WARN
    assert result.message.startswith("2 bad input messages in 2 s")
    assert values(result)["rejected as malformed"] == "2"


def test_a_node_skipping_every_frame_says_it_is_idle() -> None:
    previous = WorkerCounts(received=5, processed=5, last_received=99.0)
    current = WorkerCounts(received=65, processed=5, skipped=60, last_received=99.9)
    result = status(previous, current)
    assert (result.level, result.message) == (
        DiagnosticStatus.OK,
        "idle: 60 frames skipped, nobody subscribes to the output",
    )
    assert values(result)["skipped (no subscriber)"] == "60"


def test_a_paused_node_is_ok_and_says_so() -> None:
    counts = WorkerCounts(received=5, processed=5, last_received=10.0)
    result = status(counts, counts, enabled=False)
    assert (result.level, result.message) == (DiagnosticStatus.OK, "paused (~enable false)")
    assert values(result)["enabled"] == "false"


def run_worker(handle, messages: int) -> WorkerCounts:
    """The real worker, fed ``messages`` one at a time (each awaited, so none is dropped)."""
    errors: list[Exception] = []
    worker = LatestMessageWorker(handle, errors.append, name="test-worker")
    try:
        for index in range(messages):
            worker.put(index)
            deadline = time.monotonic() + 5.0
            while worker.counts.processed + worker.counts.errors + worker.counts.skipped <= index:
                assert time.monotonic() < deadline, "the worker stalled"
                time.sleep(0.001)
    finally:
        worker.stop(timeout=1.0)
    assert len(errors) == worker.counts.errors
    return replace(worker.counts)


def test_a_handler_that_fails_on_every_frame_is_an_error_with_its_message() -> None:
    def fail(message: int) -> None:
        raise RuntimeError(f"model output has the wrong shape (frame {message})")

    counts = run_worker(fail, 10)
    assert (counts.processed, counts.errors) == (0, 10)
    counts.last_received = 99.9
    result = status(WorkerCounts(), counts)
    assert result.level == DiagnosticStatus.ERROR
    assert result.message == "10 of 10 frames failed: RuntimeError: model output has the wrong shape (frame 9)"
    assert values(result)["failed (errors)"] == "10"


def test_one_failure_among_good_frames_warns_then_clears() -> None:
    def fail_once(message: int) -> None:
        if message == 3:
            raise ValueError("a crop of 0 x 0 pixels")

    counts = run_worker(fail_once, 20)
    assert (counts.processed, counts.errors) == (19, 1)
    counts.last_received = 99.9
    warned = status(WorkerCounts(), counts)
    assert warned.level == DiagnosticStatus.WARN
    assert warned.message.startswith("1 of 20 frames failed: ValueError: a crop of 0 x 0 pixels; ")
    later = replace(counts, received=counts.received + 30, processed=counts.processed + 30)
    cleared = status(counts, later)
    assert (cleared.level, values(cleared)["failed (errors)"]) == (DiagnosticStatus.OK, "0")


def run_check(check) -> DiagnosticStatusWrapper:
    return check.run(DiagnosticStatusWrapper())


def test_a_low_output_rate_warns_and_an_empty_window_is_left_to_the_counters() -> None:
    slow = OutputRate(minimum=5.0)
    slow.tick()
    time.sleep(0.4)  # one output in 0.4 s: 2.5 Hz
    result = run_check(slow)
    assert result.level == DiagnosticStatus.WARN
    assert result.message.startswith("publishing at 2.") and result.message.endswith("Hz, below 4.5 Hz")
    fast = OutputRate(minimum=5.0)
    for _ in range(20):
        fast.tick()
    time.sleep(0.1)
    assert (run_check(fast).level, run_check(OutputRate(minimum=5.0)).level) == (DiagnosticStatus.OK,) * 2
    unchecked = OutputRate(minimum=0.0)
    unchecked.tick()
    time.sleep(0.1)
    assert run_check(unchecked).level == DiagnosticStatus.OK


def test_the_delay_check_warns_on_late_outputs_and_clears() -> None:
    delay = OutputDelay(max_delay=0.5, max_ahead=5.0)
    delay.tick(rospy.Time.now() - rospy.Duration(0.1))
    assert run_check(delay).level == DiagnosticStatus.OK
    delay.tick(rospy.Time.now() - rospy.Duration(2.0))
    late = run_check(delay)
    assert late.level == DiagnosticStatus.WARN
    assert late.message.startswith("outputs up to 2.0") and "diagnostics_max_delay 0.5 s" in late.message
    assert float(values(late)["Latest timestamp delay:"]) >= 2.0
    assert run_check(delay).level == DiagnosticStatus.OK  # nothing late since
    delay.tick(rospy.Time.now() + rospy.Duration(10.0))
    assert "ahead of the clock" in run_check(delay).message


def test_the_node_status_merges_the_checks_unless_paused() -> None:
    counts = WorkerCounts(received=30, processed=30, processing_seconds=0.3, last_received=time.monotonic())
    enabled = [True]
    task = NodeStatus(
        "face detection",
        counts,
        "/camera/image_raw",
        MODELS,
        lambda: enabled[0],
        5.0,
        min_rate=0.0,
        max_delay=0.5,
        max_ahead=5.0,
    )
    assert run_check(task).level == DiagnosticStatus.OK
    task.published(rospy.Time.now() - rospy.Duration(3.0))
    merged = run_check(task)
    assert merged.level == DiagnosticStatus.WARN and merged.message.startswith("outputs up to 3.0")
    assert "processing time mean (ms)" in values(merged) and "Latest timestamp delay:" in values(merged)
    enabled[0] = False
    task.published(rospy.Time.now() - rospy.Duration(3.0))
    assert (run_check(task).level, run_check(task).message) == (DiagnosticStatus.OK, "paused (~enable false)")
