"""The zoo's training pairs, rendered from the public mini-world.

Three kinds of (image, caption) pairs, so that the generator can produce each
object's stream alone and compose them (as SpinML does):

- a scene and its full caption;
- the pet alone on black, with the props of its activity (bowl, ball):
  ``"a photo of a striped orange creature eating"``;
- the room alone: ``"a photo of an empty blue room with a plant"``.

Each comes with its Canny map (OpenCV 100/200, as the Sanitizer makes it) for
the ControlNet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spinml.data import miniworld
from spinml.data.miniworld.canvas import Canvas
from spinml.data.miniworld.rooms import apply_light, draw_room
from spinml.image import Canny, segment_on_black
from spinml.zoo.config import ZooConfig

__all__ = ["ZooData", "EXTRA_WORDS", "creature_caption", "room_caption", "render_room",
           "render_pairs"]

EXTRA_WORDS = ("empty",)
"""Words of the zoo's prompts beyond the mini-world's caption vocabulary."""


def creature_caption(caption: str) -> str:
    """The pet part of a mini-world caption (``... creature sleeping``)."""
    return caption.split(" in ", 1)[0]


def room_caption(caption: str) -> str:
    """The room part of a mini-world caption, as an empty room."""
    room = caption.split(" in ", 1)[1].split(" ", 1)[1]
    return f"a photo of an empty {room}"


def render_room(room: miniworld.Room, size: int, brightness: float = 1.0) -> np.ndarray:
    """The room alone, no pet and no prop: ``size x size x 3`` uint8 pixels."""
    canvas = Canvas(size)
    draw_room(canvas, room)
    apply_light(canvas, room, brightness)
    return np.clip(canvas.rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ZooData:
    """Images ``(N, H, W, 3)`` uint8, their captions, Canny maps ``(N, H, W)`` and
    the activity of the scene each pair comes from."""

    images: np.ndarray
    captions: list[str]
    edges: np.ndarray
    activities: list[str]


def render_pairs(cfg: ZooConfig, *, progress: bool = True) -> ZooData:
    """Render the public mini-world at ``cfg.image_size`` and derive the three pair kinds.

    Empty rooms are public-distribution rooms drawn from their own seeds, so no
    private user's room is among them.
    """
    scenes = miniworld.public(cfg.n_per_class, seed=cfg.seed, size=cfg.image_size,
                              progress=progress)
    rng = np.random.default_rng([cfg.seed, 7])
    canny = Canny()
    images, captions, activities = [], [], []
    for scene in scenes:
        room = miniworld.Room.sample(rng, rarity=miniworld.PUBLIC_RARITY, name="zoo-room")
        pet = miniworld.Pet.sample(rng, rarity=miniworld.PUBLIC_RARITY, name="zoo-pet")
        empty = render_room(room, cfg.image_size, float(rng.uniform(0.94, 1.06)))
        pet_and_props = ~scene.mask("background")
        images += [scene.image, segment_on_black(scene.image, pet_and_props), empty]
        captions += [scene.caption, creature_caption(scene.caption),
                     room_caption(miniworld.caption(pet, room, scene.label))]
        activities += [scene.label] * 3
    images = np.stack(images)
    edges = np.stack([canny(im) for im in images])
    return ZooData(images, captions, edges, activities)
