"""Rendering: deterministic, masks partition the image, sizes draw the same scene."""

import numpy as np
import pytest

from spinml.data import ReferenceImage
from spinml.data import miniworld as mw

OBJECTS = {"target", "background", "bowl", "ball"}


def _assert_partition(image: ReferenceImage) -> None:
    total = np.zeros(image.size, dtype=np.int64)
    for segment in image.segments:
        assert segment.mask.shape == image.size
        assert segment.mask.any()
        total += segment.mask
    assert (total == 1).all(), f"{image.name}: masks do not partition the image"
    assert set(image.objects) <= OBJECTS
    assert {"target", "background"} <= set(image.objects)


def test_render_is_deterministic(home):
    pet, room = home
    a = mw.render(pet, room, "eating", seed=11)
    b = mw.render(pet, room, "eating", seed=11)
    c = mw.render(pet, room, "eating", seed=12)
    assert np.array_equal(a.image, b.image)
    assert a.objects == b.objects
    assert all(np.array_equal(a.mask(k), b.mask(k)) for k in a.objects)
    assert not np.array_equal(a.image, c.image)
    assert np.array_equal(
        mw.public(2, progress=False)[5].image, mw.public(2, progress=False)[5].image
    )


@pytest.mark.parametrize("size", [16, 32, 100, 512])
def test_sizes(home, size):
    pet, room = home
    image = mw.render(pet, room, "playing", seed=3, size=size)
    assert image.image.shape == (size, size, 3)
    _assert_partition(image)


def test_sizes_draw_the_same_scene(home):
    pet, room = home
    small = mw.render(pet, room, "sitting", seed=5, size=64).mask("target")
    large = mw.render(pet, room, "sitting", seed=5, size=256).mask("target")
    shrunk = large.reshape(64, 4, 64, 4).mean(axis=(1, 3)) > 0.5
    assert (shrunk == small).mean() > 0.97
