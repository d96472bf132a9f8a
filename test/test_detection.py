import cv2
import numpy as np
import pytest

from conftest import PHOTOS, labelled_faces, load_photo
from face_affect.detectors import create_detector
from face_affect.detectors.haar import HaarFaceDetector
from face_affect.geometry import box_iou
from face_affect.types import FaceBox

pytestmark = pytest.mark.data  # the photos and data sets in ../shared/data


def matched(found: list[FaceBox], expected: list[FaceBox], threshold: float = 0.5) -> int:
    return sum(any(box_iou(box, truth) >= threshold for box in found) for truth in expected)


@pytest.mark.parametrize("image_name", ["face_recognition_two_people.jpg", "facenet_pytorch_multiface.jpg"])
def test_haar_finds_every_face_of_the_portraits(image_name: str):
    expected = labelled_faces()[image_name]
    found = HaarFaceDetector().detect(load_photo(image_name))
    assert matched(found, expected) == len(expected)


def test_haar_recall_on_the_labelled_faces():
    """Measured 19 of 36 (bench/detection.py): most of the team photo's faces are below
    min_face_size once the frame is scaled to detection_width, and one face is in shadow."""
    labels = labelled_faces()
    found = sum(matched(HaarFaceDetector().detect(load_photo(name)), expected) for name, expected in labels.items())
    assert found / sum(len(expected) for expected in labels.values()) >= 19 / 36 - 0.03


def test_boxes_are_in_source_pixels_whatever_the_detection_width(two_people: np.ndarray):
    expected = labelled_faces()["face_recognition_two_people.jpg"]
    for detection_width in (0, 800, 400):
        found = HaarFaceDetector(detection_width=detection_width).detect(two_people)
        assert matched(found, expected, threshold=0.6) == 2, detection_width


class CornerCascade:
    """Stands in for OpenCV's cascade: one 64-pixel face in the bottom-right corner of what it is given."""

    def detectMultiScale3(self, grey: np.ndarray, **_) -> tuple:  # noqa: N802 (OpenCV's name)
        height, width = grey.shape
        return np.array([[width - 64, height - 64, 64, 64]]), None, np.array([1.0])


@pytest.mark.parametrize("width", [655, 675, 1000, 1995])
def test_boxes_scaled_back_to_a_wide_frame_stay_inside_it(width: int):
    """Scaling the corner and the size back separately once put the right edge a pixel past the frame."""
    detector = HaarFaceDetector(detection_width=640)
    detector.cascade = CornerCascade()
    (box,) = detector.detect(np.zeros((width // 2, width), np.uint8))
    assert box.x + box.width == width
    assert box.y + box.height <= width // 2


def test_grey_and_colour_frames_give_the_same_faces(two_people: np.ndarray):
    detector = HaarFaceDetector()
    grey = cv2.cvtColor(two_people, cv2.COLOR_BGR2GRAY)
    assert detector.detect(grey) == detector.detect(two_people)


def test_a_face_free_frame_has_no_faces():
    assert HaarFaceDetector().detect(np.full((480, 640, 3), 127, np.uint8)) == []


def test_min_face_size_is_in_source_pixels(two_people: np.ndarray):
    assert HaarFaceDetector(min_face_size=200).detect(two_people) == []


def test_create_detector_names_unknown_detectors():
    assert isinstance(create_detector({"detector": "haar"}), HaarFaceDetector)
    with pytest.raises(ValueError, match="unknown detector"):
        create_detector({"detector": "nonexistent"})


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="scale_factor"):
        HaarFaceDetector(scale_factor=1.0)
    with pytest.raises(ValueError, match="Haar cascade"):
        HaarFaceDetector(cascade_path=PHOTOS / "face_recognition_two_people.jpg")
