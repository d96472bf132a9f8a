import cv2
import numpy as np
import pytest

from face_affect.cropping import (
    crop_face,
    crop_region,
    enclosing_margin,
    recrop,
    to_model_input,
    transmissible_margin,
)
from face_affect.frames import resize_frame, to_grey
from face_affect.types import FaceBox, as_margins


def gradient_image(height: int = 100, width: int = 120) -> np.ndarray:
    rows, columns = np.mgrid[0:height, 0:width]
    return ((rows * 2 + columns) % 256).astype(np.uint8)


def test_margins_grow_each_side_by_a_fraction_of_the_box():
    box = FaceBox(x=20, y=30, width=40, height=50)
    assert crop_region(box, 0.0) == (20, 30, 40, 50)
    # 12.5 px a side rounds up on both sides, wherever the box is.
    assert crop_region(box, 0.25) == (10, 17, 60, 76)
    assert crop_region(box, (0.0, -0.1, 0.5, 0.2)) == (20, 35, 60, 55)


def test_as_margins_rejects_a_wrong_number_of_sides():
    with pytest.raises(ValueError, match="four"):
        as_margins([0.1, 0.2])


def test_crop_inside_the_image_is_a_plain_slice():
    image = gradient_image()
    crop = crop_face(image, FaceBox(x=20, y=30, width=40, height=40), 0.25)
    np.testing.assert_array_equal(crop, image[20:80, 10:70])


def test_crop_at_the_border_keeps_its_size_by_replicating_edges():
    image = gradient_image()
    crop = crop_face(image, FaceBox(x=0, y=0, width=40, height=40), 0.25)
    assert crop.shape == (60, 60)
    np.testing.assert_array_equal(crop[10:, 10:], image[:50, :50])
    np.testing.assert_array_equal(crop[:10, 10], np.full(10, image[0, 0]))


def test_crop_outside_the_image_is_an_error():
    with pytest.raises(ValueError, match="outside"):
        crop_face(gradient_image(), FaceBox(x=500, y=500, width=10, height=10), 0.0)


@pytest.mark.parametrize(
    "model_margin",
    [(-0.02, -0.1, 0.0, 0.08), 0.076, (0.1, 0.06, 0.1, 0.02)],
    ids=["mixed", "half-pixel", "asymmetric"],
)
def test_recrop_from_a_wider_crop_equals_cropping_the_frame(model_margin):
    """Every box side 1-260 px, at odd and even positions and at both edges of the frame.

    0.076 x 125 is exactly half a pixel: position-dependent rounding (the old crop_region)
    framed such boxes 1 px apart in the two paths.
    """
    image = gradient_image(301, 307)
    height, width = image.shape[:2]
    wide_margin = transmissible_margin(enclosing_margin([model_margin, 0.01]))
    checked = 0
    for side in range(1, 261):
        for x, y in ((0, 0), (1, 2), (37, 41), (width - side, height - side), (width - 1 - side, height - 1 - side)):
            if x < 0 or y < 0:
                continue
            box = FaceBox(x=x, y=y, width=side, height=side)
            wide = crop_face(image, box, wide_margin)
            mine = recrop(wide, box.width, box.height, wide_margin, model_margin)
            np.testing.assert_array_equal(mine, crop_face(image, box, model_margin), err_msg=f"{box}")
            checked += 1
    assert checked > 1200


def test_margin_pixels_do_not_depend_on_the_box_position():
    for x in range(0, 9):
        region = crop_region(FaceBox(x=100 + x, y=100 + x, width=125, height=375), 0.076)
        assert region == (100 + x - 10, 100 + x - 29, 145, 433)


def test_transmissible_margin_is_a_float32_that_encloses_the_margin():
    for margin in (0.0, 0.076, 0.1, 1 / 3, 0.25, 1.9999999):
        sent = transmissible_margin(margin)
        assert sent >= margin
        assert float(np.float32(sent)) == sent
        assert sent - margin <= np.spacing(np.float32(sent))


def test_recrop_refuses_a_margin_wider_than_the_crop():
    with pytest.raises(ValueError, match="cannot cut"):
        recrop(np.zeros((50, 50), np.uint8), 40, 40, 0.1, 0.2)


def test_grey_conversion_accepts_grey_bgr_and_bgra():
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 2] = 255  # pure red
    assert to_grey(bgr)[0, 0] == 76
    assert to_grey(np.dstack([bgr, np.full((4, 5), 255, np.uint8)]))[0, 0] == 76
    assert to_grey(bgr[..., 0]).shape == (4, 5)
    with pytest.raises(ValueError, match="shape"):
        to_grey(np.zeros((4, 5, 2), np.uint8))


def test_model_input_is_raw_pixels_at_model_size():
    batch = to_model_input([np.full((100, 80), 200, np.uint8), np.full((10, 10), 7, np.uint8)], 48, 48)
    assert batch.shape == (2, 1, 48, 48) and batch.dtype == np.float32
    assert batch[0].min() == batch[0].max() == 200.0
    assert batch[1].min() == batch[1].max() == 7.0


def test_resizing_gives_the_asked_size_and_keeps_flat_colour():
    frame = np.full((480, 640, 3), (10, 100, 200), np.uint8)
    for width, height in ((288, 216), (320, 240), (200, 150), (640, 480), (160, 137), (900, 700)):
        resized = resize_frame(frame, width, height)
        assert resized.shape == (height, width, 3)
        assert np.all(resized == (10, 100, 200))


def test_resizing_averages_fine_detail_instead_of_aliasing_it():
    """One-pixel stripes shrunk by 2.6 (a 210 px face's region to the re-detection width) come out
    mid-grey, as with area averaging; bilinear sampling alone leaves stripes of dark and light."""
    stripes = np.zeros((416, 416), np.uint8)
    stripes[:, ::2] = 255
    shrunk = resize_frame(stripes, 160, 160)
    assert shrunk.shape == (160, 160)
    assert np.abs(shrunk.astype(int) - 128).max() <= 2
    sampled = cv2.resize(stripes, (160, 160), interpolation=cv2.INTER_LINEAR)
    assert np.abs(sampled.astype(int) - 128).max() > 50
