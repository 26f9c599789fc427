"""Text prompts in the zoo's vocabulary, drawn without looking at any private image.

A prompt for an activity describes a pet and a room sampled from the public
mini-world distribution: it carries the class label and nothing of the user.
"""

from __future__ import annotations

import numpy as np

from spinml.data.miniworld import PUBLIC_RARITY, Pet, Room, caption
from spinml.zoo.data import creature_caption, room_caption

__all__ = ["scene_prompts", "creature_prompts", "room_prompts"]


def scene_prompts(activity: str, n: int, seed: int = 0) -> list[str]:
    """``n`` full captions, e.g. ``"a photo of a striped orange creature sleeping in a blue
    room with a plant"``, of public-like pets and rooms doing ``activity``."""
    rng = np.random.default_rng(seed)
    return [caption(Pet.sample(rng, rarity=PUBLIC_RARITY), Room.sample(rng, rarity=PUBLIC_RARITY),
                    activity) for _ in range(n)]


def creature_prompts(activity: str, n: int, seed: int = 0) -> list[str]:
    """``n`` pet-alone prompts: ``"a photo of a striped orange creature sleeping"``."""
    return [creature_caption(p) for p in scene_prompts(activity, n, seed)]


def room_prompts(n: int, seed: int = 0) -> list[str]:
    """``n`` empty-room prompts: ``"a photo of an empty blue room with a plant"``."""
    return [room_caption(p) for p in scene_prompts("sitting", n, seed)]
