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

from face_affect.cropping import crop_region  # noqa: E402
from face_affect.msg import FaceDetection, FaceDetectionArray  # noqa: E402
from face_affect.ros.images import ImageConverter, ImageError  # noqa: E402
from face_affect.ros.messages import MAX_FACES, FaceMessageError, tracked_faces  # noqa: E402
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
            if draw(st.booleans()) and math.isfinite(margin) and roi.width and roi.height:  # the size it should be
                _, _, width, height = crop_region(FaceBox(0, 0, roi.width, roi.height), margin)
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
                crop=crop,
            )
        )
    return FaceDetectionArray(image_width=image_width, image_height=image_height, crop_margin=margin, faces=faces)


@MANY
@given(face_messages())
def test_face_messages_are_used_only_when_they_are_consistent(message: FaceDetectionArray):
    try:
        faces = tracked_faces(message, CONVERTER)
    except (FaceMessageError, ImageError):
        return
    assert len(faces) == len(message.faces) <= MAX_FACES
    assert len({face.track_id for face in faces}) == len(faces) and all(face.track_id for face in faces)
    for face in faces:
        box = face.box
        assert box.width > 0 and box.height > 0 and math.isfinite(box.score)
        assert box.x + box.width <= message.image_width and box.y + box.height <= message.image_height
        if face.detected:
            _, _, width, height = crop_region(box, message.crop_margin)
            assert face.crop.dtype == np.uint8 and face.crop.shape == (height, width)
        else:
            assert face.crop is None


def test_a_flood_of_faces_is_refused_before_any_is_read():
    face = FaceDetection(track_id="x", roi=RegionOfInterest(width=10, height=10), score=1.0)
    flood = FaceDetectionArray(image_width=100, image_height=100, crop_margin=0.1, faces=[face] * 10_000)
    with pytest.raises(FaceMessageError, match="10000 faces in one message"):
        tracked_faces(flood, CONVERTER)


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
