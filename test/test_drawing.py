import numpy as np

from face_affect.drawing import COASTING_COLOR_BGR, box_color, draw_results, label_lines, label_position, overlap
from face_affect.types import Attribute, FaceBox, FaceResult

FRAME = (640, 480)


def test_a_label_goes_above_its_box_when_there_is_room():
    assert label_position(FaceBox(100, 100, 50, 50), (80, 30), FRAME, []) == (100, 70, 180, 100)


def test_a_label_goes_below_when_above_is_outside_the_frame_or_taken():
    assert label_position(FaceBox(100, 10, 50, 50), (80, 30), FRAME, []) == (100, 60, 180, 90)
    taken = [(90, 60, 200, 95)]
    assert label_position(FaceBox(100, 100, 50, 50), (80, 30), FRAME, taken) == (100, 150, 180, 180)


def test_a_label_goes_inside_the_box_when_above_and_below_are_taken():
    taken = [(100, 70, 180, 100), (100, 150, 180, 180)]
    assert label_position(FaceBox(100, 100, 50, 50), (80, 30), FRAME, taken) == (100, 100, 180, 130)


def test_a_label_stays_inside_the_frame_at_the_right_edge():
    x0, _, x1, _ = label_position(FaceBox(600, 100, 40, 40), (80, 30), FRAME, [])
    assert (x0, x1) == (560, 640)


def test_overlap_is_strict():
    assert overlap((0, 0, 10, 10), (5, 5, 15, 15))
    assert not overlap((0, 0, 10, 10), (10, 0, 20, 10))


def test_a_coasting_track_is_drawn_grey_with_its_id_only():
    emotion = Attribute("happy", 0.8, {"happy": 0.8, "sad": 0.2})
    seen = FaceResult(FaceBox(10, 10, 60, 60), {"emotion": emotion}, track_id="abcde_1")
    coasting = FaceResult(FaceBox(100, 10, 60, 60), {"emotion": emotion}, track_id="abcde_2", detected=False)
    assert label_lines(seen) == ["id abcde_1", "happy 80%"]
    assert label_lines(coasting) == ["id abcde_2 (not seen)"]
    unsure = FaceResult(FaceBox(10, 10, 60, 60), {"emotion": emotion.withheld()}, track_id="abcde_3")
    assert label_lines(unsure) == ["id abcde_3", "emotion unsure"]
    assert box_color(coasting) == COASTING_COLOR_BGR and box_color(seen) != COASTING_COLOR_BGR
    canvas = draw_results(np.zeros((120, 200, 3), np.uint8), [seen, coasting])
    assert tuple(canvas[40, 130]) == (0, 0, 0) and tuple(canvas[40, 100]) == COASTING_COLOR_BGR  # inside, left edge
