import json

import numpy as np
import pytest

from conftest import labelled_faces
from face_affect.cropping import crop_face
from face_affect.drawing import draw_results
from face_affect.frames import to_grey
from face_affect.pipeline import FaceAffectPipeline

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
    }
    assert len(face["box"]) == 4 and all(isinstance(value, int) for value in face["box"])
    json.dumps(face)


def test_crops_sent_by_the_detector_classify_like_the_frame(pipeline: FaceAffectPipeline, two_people: np.ndarray):
    boxes = pipeline.detect(two_people)
    grey = to_grey(two_people)
    crops = [crop_face(grey, box, pipeline.crop_margin) for box in boxes]
    from_crops = pipeline.classify_crops(crops, boxes, pipeline.crop_margin)
    from_frame = pipeline.classify(two_people, boxes)
    for a, b in zip(from_crops, from_frame):
        assert a.emotion.probabilities == pytest.approx(b.emotion.probabilities, abs=1e-6)
        assert a.gender.probabilities == pytest.approx(b.gender.probabilities, abs=1e-6)


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
