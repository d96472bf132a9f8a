import numpy as np
import pytest

from face_affect.cropping import crop_face, crop_region, enclosing_margin, recrop, to_model_input
from face_affect.frames import to_grey
from face_affect.types import FaceBox, as_margins


def gradient_image(height: int = 100, width: int = 120) -> np.ndarray:
    rows, columns = np.mgrid[0:height, 0:width]
    return ((rows * 2 + columns) % 256).astype(np.uint8)


def test_margins_grow_each_side_by_a_fraction_of_the_box():
    box = FaceBox(x=20, y=30, width=40, height=50)
    assert crop_region(box, 0.0) == (20, 30, 40, 50)
    assert crop_region(box, 0.25) == (10, 18, 60, 74)
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


def test_recrop_from_a_wider_crop_equals_cropping_the_frame():
    image = gradient_image(200, 200)
    box = FaceBox(x=60, y=50, width=80, height=80)
    model_margin = (-0.02, -0.1, 0.0, 0.08)
    wide_margin = enclosing_margin([model_margin, 0.01])
    assert wide_margin == pytest.approx(0.08)
    wide = crop_face(image, box, wide_margin)
    np.testing.assert_array_equal(recrop(wide, 80, 80, wide_margin, model_margin), crop_face(image, box, model_margin))


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
