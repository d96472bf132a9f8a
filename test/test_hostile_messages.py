"""Messages from anyone on the robot's network: the conversions reject what they cannot use, and only that.

Property tests (Hypothesis) over the two inputs a node takes from others: ``FaceDetectionArray``
(``tracked_faces``, the classifier's input) and camera ``Image`` messages (``ImageConverter.to_bgr``,
the detector's). Each generated message either converts to something that keeps the invariants the
nodes rely on, or raises the one error type the node catches, counts and logs (a throttled warning).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("rospy", reason="ROS 1 (rospy, cv_bridge) is not installed: the ROS adapters are not tested")
pytestmark = pytest.mark.ros

import rospy  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sensor_msgs.msg import Image, RegionOfInterest  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from conftest import over_the_wire  # noqa: E402
from face_affect.cropping import crop_face, transmissible_margin  # noqa: E402
from face_affect.detectors.haar import HaarFaceDetector  # noqa: E402
from face_affect.image_messages import ImageError  # noqa: E402
from face_affect.msg import FaceDetection, FaceDetectionArray  # noqa: E402
from face_affect.node_core.messages import MAX_FACES, FaceMessageError, detection_array, tracked_faces  # noqa: E402
from face_affect.ros.images import ImageConverter  # noqa: E402
from face_affect.ros.messages import ROS1_KIT  # noqa: E402
from face_affect.tracking import Track  # noqa: E402
from face_affect.types import FaceBox  # noqa: E402

CONVERTER = ImageConverter()
MANY = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENCODINGS = ["mono8", "bgr8", "rgb8", "mono16", "16UC1", "32FC1", "bayer_rggb8", "yuv422", "nonsense", ""]
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32), st.sampled_from([0.0, 0.1, 0.5, 1.0, -1.0])
)


def crop_message(width: int, height: int, encoding: str, data_bytes: int | None) -> Image:
    channels = {"bgr8": 3, "rgb8": 3, "mono16": 2, "16UC1": 2, "32FC1": 4, "yuv422": 2}.get(encoding, 1)
    step = width * channels
    size = step * height if data_bytes is None else data_bytes
    return Image(width=width, height=height, encoding=encoding, step=step, data=bytes(size % 200_000))


@st.composite
def face_messages(draw) -> FaceDetectionArray:
    image_width, image_height = draw(st.integers(0, 4000)), draw(st.integers(0, 3000))
    margin = draw(st.one_of(st.sampled_from([0.25, 0.1, 0.0]), FLOATS))
    faces = []
    for index in range(draw(st.integers(0, 6))):
        roi = RegionOfInterest(
            x_offset=draw(st.integers(0, 5000)),
            y_offset=draw(st.integers(0, 5000)),
            width=draw(st.integers(0, 800)),
            height=draw(st.integers(0, 800)),
        )
        detected = draw(st.booleans())
        crop = Image()
        if detected:
            if draw(st.booleans()) and 0 <= margin <= 2 and roi.width and roi.height:  # the size it should be
                height, width = independent_crop_shape(FaceBox(0, 0, roi.width, roi.height), margin)
            else:
                width, height = draw(st.integers(0, 300)), draw(st.integers(0, 300))
            data = None if draw(st.booleans()) else draw(st.integers(0, 10_000))
            crop = crop_message(width, height, draw(st.sampled_from(ENCODINGS)), data)
        track_id = draw(st.sampled_from(["", "a_1", "a_2", f"b_{index}"]))
        faces.append(
            FaceDetection(
                track_id=track_id,
                confirmed=draw(st.booleans()),
                detected=detected,
                first_seen=rospy.Time(draw(st.integers(0, 2**31))),
                roi=roi,
                score=draw(FLOATS),
                confidence=draw(st.one_of(st.floats(0.0, 1.0, width=32), FLOATS)),
                keypoints=draw(st.one_of(st.just([]), st.lists(FLOATS, min_size=12, max_size=12), st.lists(FLOATS))),
                crop=crop,
            )
        )
    return FaceDetectionArray(image_width=image_width, image_height=image_height, crop_margin=margin, faces=faces)


@MANY
@given(face_messages())
def test_face_messages_are_used_only_when_they_are_consistent(message: FaceDetectionArray):
    message = over_the_wire(message)
    try:
        faces = tracked_faces(ROS1_KIT, message)
    except (FaceMessageError, ImageError) as error:
        assert_rejection_is_right(message, error)
        return
    assert len(faces) == len(message.faces) <= MAX_FACES
    assert len({face.track_id for face in faces}) == len(faces) and all(face.track_id for face in faces)
    for face in faces:
        box = face.box
        assert box.width > 0 and box.height > 0 and math.isfinite(box.score) and 0.0 <= face.confidence <= 1.0
        assert box.x + box.width <= message.image_width and box.y + box.height <= message.image_height
        if face.detected:
            assert face.crop.dtype == np.uint8 and face.crop.shape == independent_crop_shape(box, message.crop_margin)
        else:
            assert face.crop is None


def independent_crop_shape(box: FaceBox, margin: float) -> tuple[int, int]:
    """``(height, width)`` of a crop at ``margin``, written out here rather than taken from the code under test."""
    grow = [math.floor(margin * side + 0.5) for side in (box.width, box.height)]
    return max(1, box.height + 2 * grow[1]), max(1, box.width + 2 * grow[0])


def assert_rejection_is_right(message: FaceDetectionArray, error: Exception) -> None:
    """A rejected message must break one of the rules; one that breaks none was wrongly refused."""
    margin = message.crop_margin
    if len(message.faces) > MAX_FACES or not (math.isfinite(margin) and 0 <= margin <= 2):
        return
    seen = set()
    for face in message.faces:
        roi = face.roi
        if not face.track_id or face.track_id in seen or not math.isfinite(face.score):
            return
        if not 0.0 <= face.confidence <= 1.0:
            return
        if len(face.keypoints) not in (0, 12) or not all(math.isfinite(value) for value in face.keypoints):
            return
        seen.add(face.track_id)
        if not roi.width or not roi.height:
            return
        if roi.x_offset + roi.width > message.image_width or roi.y_offset + roi.height > message.image_height:
            return
        if face.detected:
            crop = face.crop
            box = FaceBox(roi.x_offset, roi.y_offset, roi.width, roi.height)
            if crop.encoding != "mono8" or (crop.height, crop.width) != independent_crop_shape(box, margin):
                return
            if not crop.width or not crop.height or crop.step < crop.width or len(crop.data) < crop.step * crop.height:
                return
            if len(crop.data) < crop.step * crop.height:
                return
    raise AssertionError(f"a consistent message was rejected: {error}")


MARGINS = (0.0, 0.076, 0.1, 0.25, 1 / 3, 0.5)
"""0.076 is the shipped models' enclosing margin; 0.076 x 125 is exactly half a pixel in float64."""


def detector_messages(side: int, margin: float, transmit=transmissible_margin) -> list[FaceDetectionArray]:
    """What the detector node publishes for a ``side`` x ``side`` face at the corners and the centre
    of a 1000 x 1000 image, cropped at ``transmit(margin)``."""
    image = np.zeros((1000, 1000), np.uint8)
    middle = min((1000 - side) // 2 | 1, 1000 - side)  # odd, so the old position-dependent rounding shows
    positions = {(0, 0), (1000 - side, 1000 - side), (middle, (1000 - side) // 2), (0, 1000 - side)}
    crop_margin = transmit(margin)
    messages = []
    for x, y in sorted(positions):
        box = FaceBox(x, y, side, side)
        track = Track("t_1", box, first_seen=1.0, last_seen=1.0, confirmed=True)
        crop = crop_face(image, box, crop_margin)
        confidence = HaarFaceDetector.confidence
        messages.append(detection_array(ROS1_KIT, Header(), image.shape, [track], [crop], crop_margin, confidence))
    return messages


@pytest.mark.filterwarnings("ignore:tostring:DeprecationWarning")  # cv_bridge's, once per crop
@pytest.mark.parametrize("margin", MARGINS)
def test_every_face_size_the_detector_sends_is_accepted_after_the_wire(margin: float):
    """Box sides 1-1000 px at the edges and the centre: every detector message survives genpy and the checks."""
    rejected = []
    for side in range(1, 1001):
        for message in detector_messages(side, margin):
            try:
                (face,) = tracked_faces(ROS1_KIT, over_the_wire(message))
            except FaceMessageError as error:
                rejected.append((side, str(error)))
                continue
            assert face.crop.shape == crop_face(np.zeros((1000, 1000), np.uint8), face.box, margin).shape
    assert not rejected, rejected[:5]


def test_cropping_at_the_float64_margin_loses_faces_on_the_wire():
    """The old defect planted: crops cut at float64 0.076, received as float32. Sides 125 x odd are refused."""
    rejected = set()
    for side in (124, 125, 126, 375, 625):
        for message in detector_messages(side, 0.076, transmit=float):
            try:
                tracked_faces(ROS1_KIT, over_the_wire(message))
            except FaceMessageError as error:
                assert "does not match its box and margin" in str(error)
                rejected.add(side)
    assert rejected == {125, 375, 625}


def test_a_flood_of_faces_is_refused_before_any_is_read():
    face = FaceDetection(track_id="x", roi=RegionOfInterest(width=10, height=10), score=1.0)
    flood = FaceDetectionArray(image_width=100, image_height=100, crop_margin=0.1, faces=[face] * 10_000)
    with pytest.raises(FaceMessageError, match="10000 faces in one message"):
        tracked_faces(ROS1_KIT, flood)


@st.composite
def camera_messages(draw) -> Image:
    width, height = draw(st.integers(0, 64)), draw(st.integers(0, 48))
    encoding = draw(st.sampled_from(["bgr8", "rgb8", "bgra8", "rgba8", "mono8", "bayer_grbg8", *ENCODINGS]))
    channels = {"bgr8": 3, "rgb8": 3, "bgra8": 4, "rgba8": 4}.get(encoding, 1)
    step = draw(st.one_of(st.just(width * channels), st.integers(0, 400)))
    size = draw(st.one_of(st.just(step * height), st.integers(0, 20_000)))
    return Image(
        width=width,
        height=height,
        encoding=encoding,
        step=step,
        is_bigendian=draw(st.sampled_from([0, 1])),
        data=bytes(draw(st.binary(min_size=min(size, 64), max_size=min(size, 64)))).ljust(size, b"\x80"),
    )


@MANY
@given(camera_messages())
def test_camera_messages_become_bgr_frames_or_an_image_error(message: Image):
    try:
        frame = CONVERTER.to_bgr(message)
    except ImageError:
        return
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[:2] == (message.height, message.width) and message.width * message.height > 0
