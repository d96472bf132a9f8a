"""The ROS-free parts of the node layer: newest-message worker and stamp matching."""

from __future__ import annotations

import threading

import pytest

from face_affect.ros.latest import LatestMessageWorker
from face_affect.ros.matching import StampMatcher


def test_worker_processes_only_the_newest_pending_message() -> None:
    started, release = threading.Event(), threading.Event()
    handled: list[int] = []
    done = threading.Event()

    def handle(message: int) -> None:
        if message == 0:
            started.set()
            release.wait(5)
        handled.append(message)
        if message == 3:
            done.set()

    worker = LatestMessageWorker(handle, on_error=pytest.fail)
    worker.put(0)
    assert started.wait(5)
    for message in (1, 2, 3):  # arrive while 0 is being processed
        worker.put(message)
    release.set()
    assert done.wait(5)
    worker.stop(timeout=5)
    assert handled == [0, 3]
    assert (worker.counts.received, worker.counts.processed, worker.counts.dropped) == (4, 2, 2)


def test_worker_reports_errors_and_keeps_running() -> None:
    errors: list[Exception] = []
    handled = threading.Event()

    def handle(message: str) -> None:
        if message == "bad":
            raise ValueError("bad frame")
        handled.set()

    worker = LatestMessageWorker(handle, on_error=errors.append)
    worker.put("bad")
    while worker.counts.processed < 1:
        threading.Event().wait(0.01)
    worker.put("good")
    assert handled.wait(5)
    worker.stop(timeout=5)
    assert [str(error) for error in errors] == ["bad frame"]


@pytest.mark.parametrize("frame_first", [True, False])
def test_matcher_pairs_frame_and_results_in_either_order(frame_first: bool) -> None:
    matcher = StampMatcher(capacity=3)
    if frame_first:
        assert matcher.add_frame((1, 0), "frame") is None
        assert matcher.add_results((1, 0), "results") == ("frame", "results")
    else:
        assert matcher.add_results((1, 0), "results") is None
        assert matcher.add_frame((1, 0), "frame") == ("frame", "results")
    # A pair is handed out once.
    assert matcher.add_results((1, 0), "again") is None


def test_matcher_forgets_the_oldest_beyond_capacity() -> None:
    matcher = StampMatcher(capacity=2)
    for second in (1, 2, 3):
        matcher.add_frame((second, 0), f"frame {second}")
    assert matcher.add_results((1, 0), "results") is None
    assert matcher.add_results((3, 0), "results") == ("frame 3", "results")


def test_matcher_does_not_pair_different_stamps_and_clears() -> None:
    matcher = StampMatcher(capacity=4)
    matcher.add_frame((1, 5), "frame")
    assert matcher.add_results((1, 6), "results") is None
    matcher.clear()
    assert matcher.add_frame((1, 6), "frame") is None


def test_matcher_rejects_zero_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        StampMatcher(capacity=0)
