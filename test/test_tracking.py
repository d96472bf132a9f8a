"""Tracks, per-person estimates and the video pipeline: ids that stay, estimates that settle, bad input survived."""

from __future__ import annotations

import copy
import json
import math
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import load_photo, run_cli
from face_affect.detectors import create_detector
from face_affect.quality import size_and_score_weight
from face_affect.redetection import TrackingDetector
from face_affect.settings import Settings
from face_affect.smoothing import PersonEstimates, SmoothedAttribute, as_stated
from face_affect.tracking import FaceTracker, Track, TrackerParameters
from face_affect.types import Attribute, FaceBox
from face_affect.video import VideoPipeline


def box_at(x: float, y: float, size: float = 80, score: float = 0.9) -> FaceBox:
    return FaceBox(round(x), round(y), round(size), round(size), score)


def run(tracker: FaceTracker, frames: list[list[FaceBox]], rate: float = 30.0, start: float = 0.0) -> list[list]:
    """Per frame, copies of the tracks after it (the tracker updates its own in place)."""
    return [
        [copy.copy(track) for track in tracker.update(boxes, start + index / rate, (1280, 720))]
        for index, boxes in enumerate(frames)
    ]


def test_a_moving_face_keeps_its_id_and_is_confirmed_after_three_frames():
    tracker = FaceTracker()
    history = run(tracker, [[box_at(100 + 12 * index, 200)] for index in range(60)])
    assert [track.confirmed for track in history[0] + history[1] + history[2]] == [False, False, True]
    assert {track.track_id for tracks in history for track in tracks} == {history[0][0].track_id}


def test_two_faces_that_cross_keep_their_ids():
    tracker = FaceTracker()
    frames = [[box_at(100 + 15 * index, 300), box_at(1000 - 15 * index, 320)] for index in range(60)]
    history = run(tracker, frames)
    first = {track.track_id: track.box.x for track in history[2]}
    left_id = min(first, key=first.get)
    for tracks in history[40:]:  # well after the crossing at frame 30
        (left,) = [track for track in tracks if track.track_id == left_id]
        assert left.box.x > 600, "the face that started on the left must be the one now on the right"
    assert len({track.track_id for tracks in history for track in tracks}) == 2


def test_boxes_in_any_order_give_the_same_tracks():
    ordered, shuffled = FaceTracker(), FaceTracker()
    frames = [[box_at(100 + 5 * i, 100), box_at(600, 100 + 3 * i), box_at(900, 500)] for i in range(20)]
    a = run(ordered, frames)
    b = run(shuffled, [list(reversed(boxes)) if i % 2 else boxes for i, boxes in enumerate(frames)])
    # Ids are random strings, so the two trackers' ids correspond, frame by frame, through the boxes.
    same_id: dict[str, str] = {}
    for tracks_a, tracks_b in zip(a, b):
        id_at_a = {track.box: track.track_id for track in tracks_a}
        id_at_b = {track.box: track.track_id for track in tracks_b}
        assert id_at_a.keys() == id_at_b.keys()
        for box, track_id in id_at_a.items():
            assert same_id.setdefault(track_id, id_at_b[box]) == id_at_b[box], f"ids swapped at {box}"
    assert len(same_id) == len(set(same_id.values())) == 3


@pytest.mark.parametrize("rate", [0.5, 0.7, 2.0, 5.0, 30.0, 60.0])
def test_a_still_scene_is_confirmed_by_the_third_frame_at_any_camera_rate(rate: float):
    tracker = FaceTracker()
    history = run(tracker, [[box_at(300, 300), box_at(700, 300)]] * 6, rate)
    assert [sum(track.confirmed for track in tracks) for tracks in history] == [0, 0, 2, 2, 2, 2]
    assert len({track.track_id for tracks in history for track in tracks}) == 2


def test_at_a_slow_rate_a_track_survives_frames_not_seconds_and_one_camera_gap_is_no_new_rate():
    slow = FaceTracker(TrackerParameters(timeout=1.5, timeout_frames=3))
    seen = run(slow, [[box_at(300, 300)]] * 4, rate=0.5)  # 2 s between frames
    assert seen[-1][0].confirmed
    assert slow.timeout == pytest.approx(6.0)
    fast = FaceTracker(TrackerParameters(timeout=1.5, timeout_frames=3))
    run(fast, [[box_at(300, 300)]] * 30, rate=30.0)
    assert fast.timeout == pytest.approx(1.5)
    assert fast.update([], 30 / 30.0 + 10.0) == []  # a 10 s camera gap at 30 Hz still ends the track
    # A camera that turns slow after a gap is followed from its second slow frame.
    later = [
        track.track_id for tracks in run(fast, [[box_at(300, 300)]] * 4, rate=0.5, start=100.0) for track in tracks
    ]
    assert len(set(later)) == 1 and len(later) == 4


@pytest.mark.parametrize("rate", [5.0, 30.0])
def test_a_face_that_leaves_survives_short_gaps_and_ends_after_the_timeout_at_any_rate(rate: float):
    tracker = FaceTracker(TrackerParameters(timeout=1.0))
    seen = [[box_at(300, 300)]] * int(rate)  # one second
    gap_short = [[]] * int(0.5 * rate)
    history = run(tracker, seen + gap_short + seen + [[]] * int(1.5 * rate), rate)
    ids = {track.track_id for tracks in history for track in tracks}
    assert len(ids) == 1, "a 0.5 s gap keeps the track"
    alive_after = [bool(tracks) for tracks in history[-int(1.5 * rate) :]]
    # Alive for the timeout (1 s), then gone.
    assert all(alive_after[: int(0.9 * rate)]) and not any(alive_after[int(1.1 * rate) :])


def test_ids_are_never_reused():
    tracker = FaceTracker()
    ids = []
    for round_number in range(5):
        history = run(tracker, [[box_at(300, 300)]] * 5 + [[]] * 40, start=round_number * 10.0)
        ids += [track.track_id for tracks in history for track in tracks]
    assert len(set(ids)) == 5
    tracker.reset()
    (track,) = tracker.update([box_at(300, 300)], 100.0)
    assert track.track_id not in ids


def test_a_tentative_track_ends_at_its_first_miss():
    tracker = FaceTracker()
    history = run(tracker, [[box_at(300, 300)], [box_at(300, 300)], [], [box_at(300, 300)]])
    assert history[2] == []
    assert history[3][0].track_id != history[0][0].track_id and not history[3][0].confirmed


def test_bad_boxes_are_dropped_and_counted():
    tracker = FaceTracker()
    bad = [
        FaceBox(10, 10, 0, 40),
        FaceBox(10, 10, -5, 40),
        FaceBox(5000, 5000, 40, 40),
        FaceBox(-100, -100, 50, 50),
        FaceBox(10, 10, 40, 40, float("nan")),
    ]
    tracks = tracker.update([*bad, FaceBox(-20, 100, 80, 80)], 0.0, (640, 480))
    assert tracker.rejected_boxes == len(bad)
    (track,) = tracks
    assert track.box == FaceBox(0, 100, 60, 80)  # clipped to the frame


def test_time_going_back_ends_every_track_and_a_jump_ends_them_by_timeout():
    tracker = FaceTracker()
    before = run(tracker, [[box_at(300, 300)]] * 10, start=50.0)[-1]
    (after,) = tracker.update([box_at(300, 300)], 1.0)  # a bag replayed from its start
    assert after.track_id != before[0].track_id and tracker.resets == 1
    run(tracker, [[box_at(300, 300)]] * 10, start=1.1)
    assert tracker.update([], 100.0) == []  # a jump forward: longer than the timeout
    with pytest.raises(ValueError, match="finite"):
        tracker.update([], float("nan"))


def test_one_id_never_names_two_people_when_boxes_jump():
    """A box far from every track starts a new track instead of taking an old id."""
    tracker = FaceTracker()
    run(tracker, [[box_at(100, 100)]] * 5)
    tracks = tracker.update([box_at(1000, 600)], 5 / 30)
    assert len({track.track_id for track in tracks}) == len(tracks) == 2


def test_memory_stays_flat_while_1000_short_tracks_come_and_go():
    tracker = FaceTracker()
    estimates = PersonEstimates({"emotion": ("a", "b")})
    rng = np.random.default_rng(0)
    timestamp = 0.0

    def churn(count: int) -> None:
        nonlocal timestamp
        for _ in range(count):
            boxes = [box_at(*rng.uniform(0, 1000, 2)) for _ in range(3)]
            for _ in range(4):
                timestamp += 1 / 30
                tracks = tracker.update(boxes, timestamp, (1280, 720))
                estimates.keep_only(track.track_id for track in tracks)
                for track in tracks:
                    estimates.add(
                        track.track_id, track.first_seen, track.box, {"emotion": np.array([0.6, 0.4])}, timestamp
                    )
            timestamp += 2.0  # everyone leaves for longer than the timeout

    churn(30)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    churn(333)  # about 1,000 tracks
    growth = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(tracker.tracks) <= 3 and len(estimates) <= 3
    assert growth < 100_000, f"{growth} bytes kept after 1,000 tracks"


def test_the_track_limit_holds():
    tracker = FaceTracker(TrackerParameters(max_tracks=5))
    tracks = tracker.update([box_at(100 * index, 100, 50) for index in range(12)], 0.0)
    assert len(tracks) == 5 and tracker.rejected_boxes == 7
    estimates = PersonEstimates({"emotion": ("a", "b")})
    estimates.settings = estimates.settings.with_values({"track_max_tracks": 5})
    for index in range(12):
        estimates.add(f"face_x{index}", 0.0, box_at(0, 0), {"emotion": np.array([0.5, 0.5])}, 0.0)
    assert len(estimates) == 5


def feed(attribute: SmoothedAttribute, probabilities: list[float], seconds: float, rate: float, start: float = 0.0):
    for index in range(int(seconds * rate)):
        attribute.add(np.array(probabilities), start + index / rate)
    return attribute


def test_a_smoothed_estimate_settles_at_the_same_rate_at_5_and_30_hz():
    slow, fast = SmoothedAttribute(("a", "b"), 0.5), SmoothedAttribute(("a", "b"), 0.5)
    feed(slow, [0.8, 0.2], 2.0, 5.0)
    feed(fast, [0.8, 0.2], 2.0, 30.0)
    assert slow.probabilities() == pytest.approx(fast.probabilities(), abs=0.02)
    feed(slow, [0.2, 0.8], 0.4, 5.0, start=2.0)
    feed(fast, [0.2, 0.8], 0.4, 30.0, start=2.0)
    assert slow.probabilities()[1] == pytest.approx(fast.probabilities()[1], abs=0.06)


def test_a_young_estimate_is_less_confident_than_its_frames():
    attribute = SmoothedAttribute(("woman", "man"), 3.0)
    attribute.add(np.array([0.1, 0.9]), 0.0)
    young = attribute.attribute()
    assert young.label == "man" and young.confidence < 0.6
    feed(attribute, [0.1, 0.9], 2.0, 30.0, start=1 / 30)
    assert attribute.attribute().confidence == pytest.approx(0.9, abs=0.01)


def test_a_smoothed_estimate_follows_a_change_and_ignores_a_single_frame():
    attribute = feed(SmoothedAttribute(("happy", "sad"), 0.3), [0.7, 0.3], 1.0, 30.0)
    attribute.add(np.array([0.05, 0.95]), 1.0)
    assert attribute.attribute().label == "happy", "one odd frame does not flip the label"
    changed_at = None
    for index in range(1, 60):
        attribute.add(np.array([0.3, 0.7]), 1.0 + index / 30)
        if attribute.attribute().label == "sad" and changed_at is None:
            changed_at = index / 30
    assert changed_at is not None and changed_at < 0.7


def test_small_and_weak_faces_weigh_less():
    assert size_and_score_weight(box_at(0, 0, 80, 0.9)) == pytest.approx(0.9)
    assert size_and_score_weight(box_at(0, 0, 20, 0.9)) < 0.35
    assert size_and_score_weight(FaceBox(0, 0, 80, 80, 4.2)) == 1.0  # Haar's weights are not probabilities
    assert not math.isnan(size_and_score_weight(FaceBox(0, 0, 1, 1, 0.0)))


@pytest.mark.data
def test_the_video_pipeline_keeps_both_people_through_a_pan():
    photo = load_photo("face_recognition_two_people.jpg")
    video = VideoPipeline.from_settings({"detection_interval": 0.0})  # a newcomer is found at once
    ids_per_frame = []
    for index in range(45):
        x = 40 + 10 * index
        frame = np.ascontiguousarray(photo[40:460, x : x + 640])
        results = video.process(frame, index / 30)
        ids_per_frame.append({result.track_id for result in results})
        for result in results:
            assert set(result.attributes) == set(result.frame_attributes) == {"gender", "emotion", "age"}
    assert ids_per_frame[1] == set()  # not yet confirmed
    assert len(set().union(*ids_per_frame)) == 2  # the left man, then the right one as the pan reaches him
    assert all(len(ids) == 1 for ids in ids_per_frame[2:25])
    assert all(len(ids) == 2 for ids in ids_per_frame[25:37])  # the left one coasts out of the frame


@pytest.mark.data
def test_redetection_between_full_passes_keeps_the_track_and_costs_fewer_full_passes():
    photo = cv2.resize(load_photo("face_recognition_two_people.jpg"), (640, 376))
    video = VideoPipeline.from_settings({"detection_interval": 0.5, "classification_interval": 0.5})
    ids = set()
    for index in range(60):
        shifted = np.roll(photo, 2 * index, axis=1)
        ids |= {result.track_id for result in video.process(shifted, index / 30)}
    detection: TrackingDetector = video.detection
    assert len(ids) == 2
    assert detection.full_detections == 4 and detection.redetections == 56
    assert video.classified_faces < 2 * 60 / 2


@pytest.mark.data
def test_the_cli_video_mode_prints_tracks_with_smoothed_and_per_frame_estimates(tmp_path: Path):
    photo = cv2.resize(load_photo("face_recognition_two_people.jpg"), (640, 376))
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 376))
    for index in range(12):
        writer.write(np.roll(photo, 3 * index, axis=1))
    writer.release()
    output = tmp_path / "annotated.mp4"
    completed = run_cli("video", str(clip), "--output", str(output))
    assert completed.returncode == 0, completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [record["frame"] for record in records] == list(range(12))
    assert [len(record["faces"]) for record in records[:2]] == [0, 0]  # confirmed from the third frame
    assert all(len(record["faces"]) == 2 for record in records[2:])
    ids = {face["track_id"] for record in records for face in record["faces"]}
    assert len(ids) == 2
    face = records[-1]["faces"][0]
    assert {"gender", "gender_confidence", "emotion_probabilities", "first_seen"} <= set(face)
    assert {"gender", "emotion", "emotion_probabilities"} <= set(face["frame"])
    assert output.stat().st_size > 0


def test_a_young_age_estimate_says_what_its_frame_says():
    """Not tempered towards uniform like a class: one frame of 8 years is 8 years, not the classes' middle."""
    ages = ("0", "8", "40", "80")
    estimate = SmoothedAttribute(ages, time_constant=30.0)
    estimate.add(np.array([0.0, 1.0, 0.0, 0.0]), 0.0)
    young = estimate.attribute()
    assert young.value == pytest.approx(8.0, abs=0.01) and young.spread < 0.1
    emotion = SmoothedAttribute(("happy", "sad"), time_constant=0.5)
    emotion.add(np.array([0.9, 0.1]), 0.0)
    assert emotion.attribute().confidence < 0.9  # a class estimate is still tempered


def test_a_smoothed_estimate_below_its_threshold_is_unsure_and_keeps_its_probabilities():
    settings = Settings().with_values({"gender_min_confidence": 0.8, "emotion_min_confidence": 0.0})
    estimates = PersonEstimates({"gender": ("woman", "man"), "emotion": ("happy", "sad")}, settings)
    track = Track("abcde_1", box_at(100, 100), first_seen=0.0, last_seen=0.0, confirmed=True)
    for index in range(60):  # two seconds at 30 Hz: full evidence
        frame = {"gender": np.array([0.7, 0.3]), "emotion": np.array([0.55, 0.45])}
        estimates.add(track.track_id, 0.0, track.box, frame, index / 30)
    result = estimates.result(track)
    gender, emotion = result.attributes["gender"], result.attributes["emotion"]
    assert not gender.is_stated and gender.label == "" and gender.confidence == pytest.approx(0.7, abs=0.01)
    assert sum(gender.probabilities.values()) == pytest.approx(1.0)
    assert emotion.is_stated and emotion.label == "happy", "a threshold of 0 always states"
    assert result.frame_attributes["gender"].label == "woman", "the per-frame estimate stays as it was"
    record = result.to_json()
    assert record["gender"] is None and record["gender_confidence"] == pytest.approx(0.7, abs=0.01)
    for index in range(60, 150):  # surer frames make it stated
        estimates.add(track.track_id, 0.0, track.box, {"gender": np.array([0.95, 0.05])}, index / 30)
    assert estimates.result(track).attributes["gender"].label == "woman"


def test_a_stated_label_holds_against_small_changes_and_gives_way_to_clear_ones():
    labels = ("happy", "sad")
    steady = Attribute.from_probabilities(np.array([0.52, 0.48]), labels)
    assert as_stated(steady, 0.35).label == "happy"
    swapped = Attribute.from_probabilities(np.array([0.48, 0.52]), labels)
    assert as_stated(swapped, 0.35, previous="happy").label == "happy", "within the switch margin: held"
    assert as_stated(swapped, 0.35, previous="happy").confidence == pytest.approx(0.48)
    clear = Attribute.from_probabilities(np.array([0.3, 0.7]), labels)
    assert as_stated(clear, 0.35, previous="happy").label == "sad"
    fading = Attribute.from_probabilities(np.array([0.88, 0.12]), ("woman", "man"))
    assert as_stated(fading, 0.9).label == "" and as_stated(fading, 0.9, previous="woman").label == "woman"
    assert as_stated(Attribute.from_probabilities(np.array([0.8, 0.2]), ("woman", "man")), 0.9, "woman").label == ""


def test_keypoints_travel_with_the_track_and_a_coasting_box_has_none():
    keypoints = tuple(float(value) for value in range(100, 112))
    tracker = FaceTracker()
    for frame in range(3):  # confirmed by the third
        (track,) = tracker.update([FaceBox(600, 400, 80, 80, 0.9, keypoints)], frame / 30, (640, 480))  # clipped
    assert track.confirmed and track.box.width == 40 and track.box.keypoints == keypoints
    (coasting,) = tracker.update([], 3 / 30, (640, 480))
    assert not coasting.detected and coasting.box.keypoints == ()


def test_blazeface_tracks_carry_six_keypoints_inside_their_boxes():
    photo = load_photo("face_recognition_two_people.jpg")
    detection = TrackingDetector.from_settings(create_detector({}), Settings())
    tracks = detection.update(photo, 0.0)
    assert len(tracks) == 2
    for track in tracks:
        points = np.reshape(track.box.keypoints, (6, 2))
        x0, y0, x1, y1 = track.box.corners()
        eyes_and_nose = points[:3]
        assert np.all((eyes_and_nose >= [x0, y0]) & (eyes_and_nose <= [x1, y1])), (track.box, points)
        assert points[0, 0] < points[2, 0] < points[1, 0], "the person's right eye, the nose, the left eye"
