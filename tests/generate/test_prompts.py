"""The generator's prompt sources: templates for any SD checkout, the mini-world's prompts."""

import pytest

from spinml.generate.prompts import MiniWorldPrompts, TemplatePrompts
from spinml.zoo.prompts import creature_prompts, room_prompts


def test_template_prompts_name_the_noun_label_and_identifier():
    prompts = TemplatePrompts({"target": "dog", "background": "garden"})
    assert prompts("target", "sleeping", 2, seed=0) == ["a photo of a dog sleeping"] * 2
    assert prompts("target", "eating", 1, seed=0, identifier="sks") == [
        "a photo of a sks dog eating"]
    assert prompts("background", "eating", 1, seed=0, identifier="zwx") == [
        "a photo of an empty zwx garden"]
    assert TemplatePrompts()("bowl", "eating", 1, seed=0) == ["a photo of a bowl eating"]


def test_miniworld_prompts_by_level():
    source = MiniWorldPrompts()
    assert source("target", "playing", 3, seed=2) == creature_prompts("playing", 3, 2)
    assert source("background", "playing", 3, seed=2) == room_prompts(3, 2)
    assert source("target", "playing", 1, seed=2, identifier="sks") == [
        "a photo of a sks creature playing"]
    with pytest.raises(ValueError, match="no stream 'bowl'"):
        source("bowl", "eating", 1, seed=0)
