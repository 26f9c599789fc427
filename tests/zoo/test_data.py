"""The zoo's training pairs: scene, pet alone on black, empty room; captions and Canny maps."""

import numpy as np

from spinml.data import miniworld
from spinml.image import Canny
from spinml.zoo.config import ZooConfig
from spinml.zoo.data import creature_caption, render_pairs, render_room, room_caption


def test_caption_parts():
    text = "a photo of a striped orange creature eating in a blue room with a plant"
    assert creature_caption(text) == "a photo of a striped orange creature eating"
    assert room_caption(text) == "a photo of an empty blue room with a plant"


def test_three_pairs_per_public_scene():
    cfg = ZooConfig.tiny(n_per_class=1)
    data = render_pairs(cfg, progress=False)
    scenes = miniworld.public(1, seed=cfg.seed, size=cfg.image_size, progress=False)
    n = 3 * len(scenes)
    assert data.images.shape == (n, 16, 16, 3) and data.images.dtype == np.uint8
    assert data.edges.shape == (n, 16, 16) and len(data.captions) == len(data.activities) == n
    for k, scene in enumerate(scenes):
        image, alone, room = data.images[3 * k:3 * k + 3]
        assert np.array_equal(image, scene.image)
        background = scene.mask("background")
        assert not alone[background].any() and np.array_equal(alone[~background],
                                                              image[~background])
        assert data.captions[3 * k] == scene.caption
        assert data.captions[3 * k + 1] == creature_caption(scene.caption)
        assert data.captions[3 * k + 2].startswith("a photo of an empty ")
        assert data.activities[3 * k:3 * k + 3] == [scene.label] * 3
        assert room.std() > 0
    assert all(np.array_equal(e, Canny()(im)) for e, im in zip(data.edges, data.images,
                                                               strict=True))
    again = render_pairs(cfg, progress=False)
    assert np.array_equal(again.images, data.images) and again.captions == data.captions


def test_render_room_has_no_pet():
    pet, room = miniworld.user_home(0)
    empty = render_room(room, 32)
    scene = miniworld.render(pet, room, "sitting", seed=0, size=32)
    background = scene.mask("background")
    assert empty.shape == (32, 32, 3) and empty.dtype == np.uint8
    assert not np.array_equal(empty[~background], scene.image[~background])
    assert np.array_equal(render_room(room, 32, 1.0), empty)
    assert render_room(room, 32, 0.5).mean() < empty.mean()
