"""Property-based tests of the frame entry points: any array in, faces or ``FrameError`` out, never a crash.

``FaceAffectPipeline.process`` and ``detect`` take a ``uint8`` grey, BGR or BGRA
frame of at least 1x1 pixels in any memory layout (``check_frame``). Hypothesis
draws arrays of every kind, frames and not, and each test holds the library to
that contract: a frame gives a list of faces whose boxes lie inside it and whose
probabilities sum to 1, and leaves the frame as it was; anything else raises
``FrameError`` (a ``ValueError``), and no other exception escapes. Both detectors
are tested; Haar with a small ``detection_width``, so wide frames take its
downscaling path.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import REPOSITORY
from face_affect.errors import FrameError
from face_affect.frames import check_frame
from face_affect.pipeline import FaceAffectPipeline

PHOTO = cv2.imread(str(REPOSITORY / "data" / "frames" / "face_recognition_two_people.jpg"))
REFUSED_DTYPES = (np.int8, np.uint16, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64, np.bool_)
CONTENTS = ("photo", "random", "constant", "extremes")
LAYOUTS = ("contiguous", "mirrored", "flipped", "strided", "transposed", "channel_slice", "broadcast")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", params=["blazeface", "haar"])
def any_pipeline(request: pytest.FixtureRequest) -> FaceAffectPipeline:
    config = {"detector": request.param}
    if request.param == "haar":
        config["detection_width"] = 160
    return FaceAffectPipeline.from_settings(config)


def is_frame(image: np.ndarray) -> bool:
    """The documented contract, written out independently of ``check_frame``."""
    return (
        image.dtype == np.uint8
        and image.ndim in (2, 3)
        and (image.ndim == 2 or image.shape[2] in (1, 3, 4))
        and image.shape[0] > 0
        and image.shape[1] > 0
    )


def photo_content(shape: tuple[int, ...], scale: float, rng: np.random.Generator) -> np.ndarray:
    """A window of the test photo at ``scale``, black past its edges, at a random place (faces are cut
    by the window's edges), its channels repeated or cut to fit; noise for fewer than two dimensions."""
    if len(shape) < 2 or 0 in shape:
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    height, width = shape[:2]
    photo = cv2.resize(PHOTO, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    bottom, right = max(0, height - photo.shape[0]), max(0, width - photo.shape[1])
    photo = cv2.copyMakeBorder(photo, 0, bottom, 0, right, cv2.BORDER_CONSTANT)
    top, left = rng.integers(0, photo.shape[0] - height + 1), rng.integers(0, photo.shape[1] - width + 1)
    window = photo[top : top + height, left : left + width]
    grey = cv2.cvtColor(window, cv2.COLOR_BGR2GRAY)
    if len(shape) == 2:
        return grey
    planes = {1: [grey], 3: cv2.split(window), 4: [*cv2.split(window), np.full_like(grey, 255)]}.get(shape[2])
    if planes is None:  # a channel count no frame has: the photo's planes repeated
        planes = (list(cv2.split(window)) * 2)[: shape[2]]
    image = np.stack(planes, axis=2)
    return np.broadcast_to(image.reshape(image.shape + (1,) * (len(shape) - 3)), shape).copy()


def content(shape: tuple[int, ...], dtype: type, kind: str, seed: int, scale: float) -> np.ndarray:
    """A C-contiguous array of ``kind`` (one of :data:`CONTENTS`), drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    if kind == "photo":
        return photo_content(shape, scale, rng).astype(dtype)
    if kind == "random":
        return rng.integers(0, 256, size=shape, dtype=np.uint8).astype(dtype)
    if kind == "constant":
        return np.full(shape, seed % 256).astype(dtype)
    values = [0, 255]
    if np.issubdtype(dtype, np.integer):
        values += [np.iinfo(dtype).min, np.iinfo(dtype).max]
    elif np.issubdtype(dtype, np.floating):
        values += [np.nan, np.inf, -np.inf, np.finfo(dtype).max, -0.5]
    with np.errstate(invalid="ignore", over="ignore"):
        return rng.choice(np.array(values, dtype=np.float64), size=shape).astype(dtype)


def in_layout(image: np.ndarray, layout: str) -> np.ndarray:
    """``image``'s pixels as a view that is not C-contiguous, or the first row repeated with zero
    strides (read-only) for ``broadcast``."""
    if image.ndim < 2 or layout == "contiguous":
        return image
    if layout == "mirrored":  # a negative column stride
        return np.ascontiguousarray(image[:, ::-1])[:, ::-1]
    if layout == "flipped":
        return np.ascontiguousarray(image[::-1, ::-1])[::-1, ::-1]
    if layout == "transposed":  # column-major
        return np.ascontiguousarray(image.swapaxes(0, 1)).swapaxes(0, 1)
    if layout == "strided":
        base = np.zeros((2 * image.shape[0], 3 * image.shape[1], *image.shape[2:]), image.dtype)
        base[::2, ::3] = image
        return base[::2, ::3]
    if layout == "channel_slice" and image.ndim >= 3:
        base = np.zeros((*image.shape[:2], image.shape[2] + 1, *image.shape[3:]), image.dtype)
        base[:, :, 1:] = image
        return base[:, :, 1:]
    if layout == "broadcast":
        return np.broadcast_to(image[:1], image.shape)
    return image


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    """A third each: windows of the photo as frames (sides 100 to 300, large ones often, where faces
    fit); frames of any content (sides 1 to 300, tiny ones often); anything (the dtypes, 0 to 4
    dimensions, sides 0 to 300, 0 to 5 channels). Contents from the photo, noise, one value or the
    dtype's extremes, in memory layouts of every kind."""
    case = draw(st.sampled_from(["photo frame", "frame", "anything"]))
    ndim, dtype, channels = draw(st.sampled_from([2, 3])), np.uint8, st.sampled_from([1, 3, 4])
    side, kind = st.one_of(st.integers(1, 4), st.integers(1, 300)), draw(st.sampled_from(CONTENTS))
    if case == "photo frame":
        side, kind = st.integers(0, 200).map(lambda less: 300 - less), "photo"
    elif case == "anything":
        ndim, dtype = draw(st.integers(0, 4)), draw(st.sampled_from((np.uint8, *REFUSED_DTYPES)))
        side, channels = st.one_of(st.integers(0, 4), st.integers(0, 300)), st.integers(0, 5)
    shape = (draw(side), draw(side), draw(channels), draw(st.integers(0, 3)))[:ndim]
    image = content(shape, dtype, kind, seed=draw(st.integers(0, 2**32 - 1)), scale=draw(st.sampled_from([0.5, 1.0])))
    return in_layout(image, draw(st.sampled_from(LAYOUTS)))


def assert_inside(box, image: np.ndarray) -> None:
    height, width = image.shape[:2]
    assert all(isinstance(value, int) for value in box.as_list()), box
    assert box.x >= 0 and box.width > 0 and box.x + box.width <= width, (box, image.shape)
    assert box.y >= 0 and box.height > 0 and box.y + box.height <= height, (box, image.shape)
    assert np.isfinite(box.score), box


@FUZZ
@given(image=arrays())
def test_process_gives_faces_inside_the_frame_or_a_frame_error(any_pipeline: FaceAffectPipeline, image: np.ndarray):
    if not is_frame(image):
        with pytest.raises(FrameError):
            any_pipeline.process(image)
        return
    before = image.copy()
    results = any_pipeline.process(image)
    event(f"faces found: {len(results)}")
    assert isinstance(results, list)
    np.testing.assert_array_equal(image, before)
    for result in results:
        assert_inside(result.box, image)
        for task, attribute in (("gender", result.gender), ("emotion", result.emotion)):
            labels = any_pipeline.classifiers[task].labels
            assert list(attribute.probabilities) == list(labels)
            values = list(attribute.probabilities.values())
            assert all(0.0 <= value <= 1.0 for value in values), attribute
            assert sum(values) == pytest.approx(1.0, abs=1e-5)
            assert attribute.label in labels and attribute.confidence == max(values)


@FUZZ
@given(image=arrays())
def test_detect_finds_the_same_faces_in_any_memory_layout_or_raises_a_frame_error(
    any_pipeline: FaceAffectPipeline, image: np.ndarray
):
    if not is_frame(image):
        with pytest.raises(FrameError):
            any_pipeline.detect(image)
        return
    boxes = any_pipeline.detect(image)
    event(f"faces found: {len(boxes)}")
    for box in boxes:
        assert_inside(box, image)
    assert boxes == any_pipeline.detect(np.ascontiguousarray(image))
    assert boxes == sorted(boxes, key=lambda box: (box.x, box.y))


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 1), (1, 1, 3), (2, 3, 3), (3, 2, 4), (1, 500, 3), (500, 1)])
def test_frames_too_small_for_a_face_give_no_faces(any_pipeline: FaceAffectPipeline, shape: tuple[int, ...]):
    assert any_pipeline.process(np.full(shape, 128, np.uint8)) == []


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (None, "numpy array, got NoneType"),
        ([[0, 0], [0, 0]], "numpy array, got list"),
        (np.zeros((10, 10, 3), np.float32), "dtype uint8, got float32"),
        (np.zeros((10, 10, 3), np.uint16), "dtype uint8, got uint16"),
        (np.zeros((10,), np.uint8), "shape \\(10,\\)"),
        (np.zeros((1, 10, 10, 3), np.uint8), "shape \\(1, 10, 10, 3\\)"),
        (np.zeros((10, 10, 2), np.uint8), "1, 3 or 4 channels"),
        (np.zeros((0, 10, 3), np.uint8), "at least 1x1 pixels"),
    ],
)
def test_anything_but_a_frame_is_a_frame_error_naming_the_problem(
    any_pipeline: FaceAffectPipeline, image: object, problem: str
):

    for entry_point in (any_pipeline.process, any_pipeline.detect, any_pipeline.detector.detect, check_frame):
        with pytest.raises(FrameError, match=problem):
            entry_point(image)
    assert issubclass(FrameError, ValueError)


def test_faces_are_found_in_views_of_the_photo(any_pipeline: FaceAffectPipeline):
    """Views that are not C-contiguous find the faces of their contiguous copies (two people here)."""
    assert PHOTO is not None
    transposed = np.ascontiguousarray(PHOTO.swapaxes(0, 1)).swapaxes(0, 1)
    views = [PHOTO[:, ::-1], PHOTO[::2, ::2], transposed, np.dstack([PHOTO, PHOTO[..., :1]])[..., :3]]
    for view in views:
        boxes = any_pipeline.detect(view)
        assert len(boxes) == 2, view.shape
        assert boxes == any_pipeline.detect(np.ascontiguousarray(view))
