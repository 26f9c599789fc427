"""The zoo's prompts: public-like captions in the zoo's vocabulary, seeded."""

import pytest

from spinml.data.miniworld import VOCABULARY
from spinml.zoo.data import EXTRA_WORDS
from spinml.zoo.prompts import creature_prompts, room_prompts, scene_prompts


def test_prompts_name_the_activity_and_stay_in_the_vocabulary():
    scenes = scene_prompts("eating", 6, seed=1)
    creatures = creature_prompts("eating", 6, seed=1)
    rooms = room_prompts(6, seed=1)
    assert len(scenes) == len(creatures) == len(rooms) == 6
    words = set(VOCABULARY) | set(EXTRA_WORDS)
    for scene, creature, room in zip(scenes, creatures, rooms, strict=True):
        assert scene.startswith("a photo of a ") and " creature eating in " in scene
        assert creature.startswith("a photo of a ") and creature.endswith(" creature eating")
        assert creature[len("a photo of a "):] in scene
        assert room.startswith("a photo of an empty ") and "creature" not in room
        assert set(f"{scene} {creature} {room}".split()) <= words


def test_same_seed_same_prompts():
    assert scene_prompts("sitting", 5, seed=3) == scene_prompts("sitting", 5, seed=3)
    assert scene_prompts("sitting", 5, seed=3) != scene_prompts("sitting", 5, seed=4)
    assert scene_prompts("sitting", 3, seed=3) == scene_prompts("sitting", 5, seed=3)[:3]
    with pytest.raises(ValueError, match="activity"):
        scene_prompts("running", 1)
