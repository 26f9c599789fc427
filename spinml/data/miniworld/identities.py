"""Pets ("creatures"): the parameters that make one identity.

Lengths are in *body units*: a common pet's body is about one unit long; the
renderer maps one unit to about 0.3 of the image's width, whatever its size.
Every identity draws each of its feature groups (coat colour, markings,
pattern, body shape, size, ears, tail, eyes) either from the *common* range or,
with probability ``rarity``, from a *rare* one: unusual colours, patterns and
proportions. The public part of the world uses a small ``rarity`` and private
users a large one, which is what makes a user's own pet hard for a model that
has only seen public pets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spinml.data.miniworld.colours import RGB, jitter, mix
from spinml.data.miniworld.draws import Draws

__all__ = ["Pet", "PATTERNS", "EARS", "TAILS", "COMMON_COATS", "RARE_COATS"]

PATTERNS = ("plain", "spots", "stripes", "patches")
EARS = ("pointy", "round", "floppy")
TAILS = ("long", "short", "bushy", "curly")

COMMON_COATS = ("black", "white", "grey", "brown", "orange", "cream")
RARE_COATS = ("red", "yellow", "green", "blue", "purple", "pink")
_EYES_COMMON = ((0.08, 0.06, 0.05),)
_EYES_RARE = ((0.15, 0.55, 0.95), (0.2, 0.75, 0.25), (0.95, 0.8, 0.1))


@dataclass(frozen=True)
class Pet:
    """One creature identity (immutable and hashable).

    Colours are RGB in ``[0, 1]``; lengths in body units; ``marks`` are the
    pattern's elements in body-local normalised coordinates (the body ellipse
    is the unit disc): ``(u, v, ru, rv)`` ellipses for spots and patches;
    for stripes one ``(period, angle, phase, duty)`` tuple.
    """

    name: str
    coat: RGB
    coat_name: str
    marking: RGB
    pattern: str
    marks: tuple[tuple[float, float, float, float], ...]
    body_length: float
    body_height: float
    head_size: float
    snout: float
    leg_length: float
    leg_width: float
    ears: str
    ear_size: float
    ear_marked: bool
    tail: str
    tail_length: float
    tail_width: float
    tail_tip: bool
    socks: bool
    eye: RGB
    size: float

    @classmethod
    def sample(cls, rng: np.random.Generator, *, rarity: float = 0.05, name: str = "pet") -> Pet:
        """Draw an identity; each feature group is rare with probability ``rarity``."""
        draws = Draws(rng, rarity)
        rare, pick = draws.rare, draws.pick

        coat_name = pick(RARE_COATS if rare() else COMMON_COATS)
        coat = jitter(rng, coat_name, 0.06)
        if rare():
            marking_name = pick([c for c in RARE_COATS if c != coat_name])
        else:
            marking_name = pick([c for c in COMMON_COATS if c != coat_name])
        marking = jitter(rng, marking_name, 0.06)
        if marking_name == "black" or coat_name == "black":
            marking = mix(marking, (1.0, 1.0, 1.0), 0.1)

        pattern = pick(PATTERNS)
        marks = _marks(rng, pattern, rare())

        if rare():  # unusual proportions: a long low sausage or a short round ball
            stretched = rng.random() < 0.5
            body_length = rng.uniform(1.4, 1.7) if stretched else rng.uniform(0.62, 0.74)
            body_height = rng.uniform(0.3, 0.36) if stretched else rng.uniform(0.54, 0.64)
            leg_length = rng.uniform(0.16, 0.2) if stretched else rng.uniform(0.42, 0.5)
            head_size = rng.uniform(0.15, 0.18) if rng.random() < 0.5 else rng.uniform(0.3, 0.35)
        else:
            body_length = rng.uniform(0.85, 1.15)
            body_height = rng.uniform(0.38, 0.48)
            leg_length = rng.uniform(0.24, 0.36)
            head_size = rng.uniform(0.23, 0.29)
        if rare():  # unusually small or big
            size = rng.uniform(0.75, 0.85) if rng.random() < 0.5 else rng.uniform(1.15, 1.25)
        else:
            size = rng.uniform(0.9, 1.1)

        ears_rare = rare()
        ears = pick(EARS)
        ear_size = rng.uniform(0.24, 0.32) if ears_rare else rng.uniform(0.11, 0.17)
        tail = pick(TAILS)
        tail_length = rng.uniform(0.7, 0.95) if rare() else rng.uniform(0.3, 0.55)
        if tail == "short":
            tail_length *= 0.45
        tail_width = rng.uniform(0.035, 0.06) * (2.2 if tail == "bushy" else 1.0)
        eye = pick(_EYES_RARE if rare() else _EYES_COMMON)
        return cls(
            name=name,
            coat=coat,
            coat_name=coat_name,
            marking=marking,
            pattern=pattern,
            marks=marks,
            body_length=float(body_length),
            body_height=float(body_height),
            head_size=float(head_size),
            snout=float(rng.uniform(0.25, 0.55)),
            leg_length=float(leg_length),
            leg_width=float(rng.uniform(0.06, 0.09)),
            ears=ears,
            ear_size=float(ear_size),
            ear_marked=bool(rng.random() < 0.3),
            tail=tail,
            tail_length=float(tail_length),
            tail_width=float(tail_width),
            tail_tip=bool(rng.random() < 0.3),
            socks=bool(rng.random() < 0.3),
            eye=eye,
            size=float(size),
        )


def _marks(
    rng: np.random.Generator, pattern: str, rare: bool
) -> tuple[tuple[float, float, float, float], ...]:
    """Pattern elements in body-local normalised coordinates (see :class:`Pet`)."""
    if pattern == "spots":
        n = int(rng.integers(14, 22)) if rare else int(rng.integers(4, 9))
        radius = rng.uniform(0.09, 0.13) if rare else rng.uniform(0.16, 0.26)
        centres = rng.uniform(-0.9, 0.9, (n, 2))
        radii = radius * rng.uniform(0.7, 1.3, n)
        return tuple(map(tuple, np.column_stack([centres, radii, radii]).tolist()))
    if pattern == "stripes":
        period = rng.uniform(0.16, 0.22) if rare else rng.uniform(0.3, 0.45)
        angle = rng.uniform(-0.5, 0.5) + (np.pi / 2 if rare and rng.random() < 0.5 else 0.0)
        return ((float(period), float(angle), float(rng.uniform()), float(rng.uniform(0.3, 0.5))),)
    if pattern == "patches":
        n = int(rng.integers(1, 4))
        centres = rng.uniform(-0.7, 0.7, (n, 2))
        radii = rng.uniform(0.3, 0.6, (n, 2)) * (1.3 if rare else 1.0)
        return tuple(map(tuple, np.column_stack([centres, radii]).tolist()))
    return ()


def pattern_mask(pet: Pet, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Where the marking colour shows, at body-local normalised coordinates ``(p, q)``.

    Spots and patches are ellipses ``((p - u) / ru)^2 + ((q - v) / rv)^2 <= 1``;
    stripes are ``frac((p cos a + q sin a) / period + phase) < duty``.
    """
    if pet.pattern == "stripes":
        period, angle, phase, duty = pet.marks[0]
        t = (p * np.cos(angle) + q * np.sin(angle)) * (1.0 / period) + phase
        return t - np.floor(t) < duty
    inside = np.zeros(p.shape, dtype=bool)
    for u, v, ru, rv in pet.marks:
        inside |= ((p - u) / ru) ** 2 + ((q - v) / rv) ** 2 <= 1.0
    return inside
