"""The camera corruptions the robustness benchmark and model selection share: stated, seeded, doing what they say."""

import numpy as np
import pytest

from face_affect.corruptions import CORRUPTIONS, corrupted_sets, dim_light, low_contrast, occlusion, small_face

FACES = np.random.default_rng(0).integers(0, 256, (6, 48, 48), dtype=np.uint8)
FACES[:, 10:38, 10:38] = 200  # some structure, so blur and resolution loss have edges to soften


def test_every_corruption_keeps_the_crops_shape_changes_them_and_is_reproducible():
    first, again = corrupted_sets(FACES, seed=3), corrupted_sets(FACES, seed=3)
    assert list(first) == [severity.name for severity in CORRUPTIONS]
    for name, damaged in first.items():
        assert damaged.dtype == np.uint8 and damaged.shape == FACES.shape, name
        assert (damaged != FACES).any(), f"{name} changed nothing"
        np.testing.assert_array_equal(damaged, again[name])
    assert all(severity.description for severity in CORRUPTIONS)


@pytest.mark.parametrize("size", [48, 64])
def test_the_corruptions_take_either_models_crop_size(size: int):
    faces = np.full((2, size, size), 128, np.uint8)
    faces[:, size // 4 : 3 * size // 4] = 220
    assert all(damaged.shape == faces.shape for damaged in corrupted_sets(faces).values())


def test_each_corruption_does_what_its_name_says():
    rng = np.random.default_rng(0)
    assert dim_light(FACES, rng).mean() < 0.45 * FACES.mean()
    assert low_contrast(FACES, rng).std() < 0.4 * FACES.std()
    covered = occlusion(FACES, rng, 0.62, 0.95)
    band = covered[:, 30:45, 10:38]
    assert (band.std(axis=(1, 2)) == 0).all(), "the covered band is one flat grey per crop"
    assert small_face(FACES, rng, 12).std() < FACES.std()
