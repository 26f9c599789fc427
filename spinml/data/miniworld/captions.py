"""Captions from a small fixed vocabulary, for the zoo's text encoder.

Every caption follows one template::

    a photo of a {pattern} {coat colour} creature {activity} in a(n) {wall colour} room
    with a {furniture}[ and a {furniture}]

e.g. ``"a photo of a striped orange creature sleeping in a blue room with a plant"``.
All its words are in :data:`VOCABULARY`.
"""

from __future__ import annotations

from collections.abc import Iterable

from spinml.data.miniworld.colours import COLOURS
from spinml.data.miniworld.identities import Pet
from spinml.data.miniworld.poses import ACTIVITIES, check_activity
from spinml.data.miniworld.rooms import FURNITURE, Room
from spinml.data.references import ReferenceImage

__all__ = ["VOCABULARY", "PATTERN_WORDS", "caption", "captions", "identities"]

PATTERN_WORDS = {"plain": "plain", "spots": "spotted", "stripes": "striped", "patches": "patched"}
"""Coat pattern -> its caption adjective."""

VOCABULARY: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            "a",
            "an",
            "photo",
            "of",
            "creature",
            "in",
            "room",
            "with",
            "and",
            *PATTERN_WORDS.values(),
            *COLOURS,
            *ACTIVITIES,
            *FURNITURE,
        ]
    )
)
"""Every word a caption can contain."""


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption(pet: Pet, room: Room, activity: str) -> str:
    """The caption of ``pet`` doing ``activity`` in ``room``, naming up to two furniture pieces."""
    activity = check_activity(activity)
    pattern = PATTERN_WORDS[pet.pattern]
    text = (
        f"a photo of a {pattern} {pet.coat_name} creature {activity} "
        f"in {_article(room.wall_name)} {room.wall_name} room"
    )
    kinds = [item.kind for item in room.furniture][:2]
    if kinds:
        text += " with " + " and ".join(f"a {kind}" for kind in kinds)
    return text


def _attribute(images: Iterable[ReferenceImage], attribute: str) -> list[str]:
    values = []
    for image in images:
        value = getattr(image, attribute, None)
        if not value:
            raise ValueError(
                f"image {image.name} has no {attribute}: only mini-world renders carry one"
            )
        values.append(value)
    return values


def captions(images: Iterable[ReferenceImage]) -> list[str]:
    """The caption of every mini-world image in ``images`` (e.g. a ``ReferenceSet``)."""
    return _attribute(images, "caption")


def identities(images: Iterable[ReferenceImage]) -> list[str]:
    """The pet identity (its name) of every mini-world image in ``images``."""
    return _attribute(images, "identity")
