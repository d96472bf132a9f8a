import json

import cv2
import numpy as np
import pytest

from conftest import labelled_faces
from face_affect.cropping import crop_face
from face_affect.drawing import draw_results
from face_affect.frames import to_grey
from face_affect.pipeline import FaceAffectPipeline
from face_affect.types import FaceBox

pytestmark = pytest.mark.data  # the photos and data sets in ../shared/data


def test_two_people_are_found_and_classified(pipeline: FaceAffectPipeline, two_people: np.ndarray):
    results = pipeline.process(two_people)
    assert len(results) == len(labelled_faces()["face_recognition_two_people.jpg"])
    for result in results:
        assert result.gender.label in pipeline.labels("gender")
        assert result.emotion.label in pipeline.labels("emotion")
        for attribute in (result.gender, result.emotion):
            assert sum(attribute.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
            assert attribute.confidence == max(attribute.probabilities.values())
    # Both people in this photo are men; the model should say so with some confidence.
    assert [result.gender.label for result in results] == ["man", "man"]


def test_json_follows_the_cli_schema(pipeline: FaceAffectPipeline, two_people: np.ndarray):
    face = pipeline.process(two_people)[0].to_json()
    assert set(face) == {
        "box",
        "score",
        "gender",
        "gender_confidence",
        "gender_probabilities",
        "emotion",
        "emotion_confidence",
        "emotion_probabilities",
        "age",
        "age_std",
        "age_confidence",
        "age_probabilities",
    }
    assert isinstance(face["age"], float) and 0 <= face["age"] <= 100 and face["age_std"] > 0
    assert [float(label) for label in face["age_probabilities"]] == sorted(map(float, face["age_probabilities"]))
    assert len(face["box"]) == 4 and all(isinstance(value, int) for value in face["box"])
    json.dumps(face)


def half_pixel_boxes(pipeline: FaceAffectPipeline, frame: np.ndarray) -> list[FaceBox]:
    """The detected faces, then boxes of 125 and 375 px (0.076 x 125 is half a pixel) at odd positions."""
    boxes = pipeline.detect(frame)
    assert len(boxes) == 2, "the photo's two faces must be found, or this test compares nothing"
    height, width = frame.shape[:2]
    centre_x, centre_y = boxes[0].x + boxes[0].width // 2, boxes[0].y + boxes[0].height // 2
    for side in (125, 375):
        x = min(max(1, centre_x - side // 2) | 1, width - side)
        y = min(max(0, centre_y - side // 2) | 1, height - side)
        boxes.append(FaceBox(x, y, side, side))
    return boxes


def test_crops_sent_by_the_detector_classify_like_each_model_on_the_frame(
    pipeline: FaceAffectPipeline, two_people: np.ndarray
):
    """One crop at the enclosing margin, then each model's own framing cut out of it (what the nodes do),
    against each model's framing cut straight out of the frame (written here, not through the pipeline)."""
    frame = cv2.resize(two_people, None, fx=1.7, fy=1.7)
    boxes = half_pixel_boxes(pipeline, frame)
    grey = to_grey(frame)
    from_crops = pipeline.classify_crops(pipeline.face_crops(frame, boxes), boxes, pipeline.crop_margin)
    assert len(from_crops) == len(boxes) == 4
    for task, model in pipeline.classifiers.items():
        reference = model.predict([crop_face(grey, box, model.crop_margin) for box in boxes])
        for result, expected in zip(from_crops, reference):
            got = [result.attributes[task].probabilities[label] for label in model.labels]
            np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=f"{task} {result.box}")


def test_a_face_free_frame_gives_no_results(pipeline: FaceAffectPipeline):
    assert pipeline.process(np.full((480, 640, 3), 90, np.uint8)) == []


def test_mismatched_crops_and_boxes_are_an_error(pipeline: FaceAffectPipeline, two_people: np.ndarray):
    with pytest.raises(ValueError, match="crops for"):
        pipeline.classify_crops([], pipeline.detect(two_people), pipeline.crop_margin)


def test_drawing_marks_each_face_and_leaves_the_source_alone(pipeline: FaceAffectPipeline, two_people: np.ndarray):
    source = two_people.copy()
    results = pipeline.process(two_people)
    annotated = draw_results(two_people, results)
    np.testing.assert_array_equal(two_people, source)
    assert annotated.shape == two_people.shape
    for result in results:
        box = result.box
        assert not np.array_equal(
            annotated[box.y, box.x : box.x + box.width], two_people[box.y, box.x : box.x + box.width]
        )
    untouched = annotated[-20:, :100]
    np.testing.assert_array_equal(untouched, two_people[-20:, :100])
