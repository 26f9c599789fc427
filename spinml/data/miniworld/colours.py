"""The mini-world's named colours: every colour a caption can say.

Colours are RGB triples in ``[0, 1]``. A pet's coat or a room's wall is drawn
from a named colour plus a small jitter, and keeps its name, so captions never
have to guess a colour word from pixels.
"""

from __future__ import annotations

import numpy as np

__all__ = ["COLOURS", "RGB", "jitter", "mix"]

RGB = tuple[float, float, float]

COLOURS: dict[str, RGB] = {
    "black": (0.12, 0.11, 0.10),
    "white": (0.94, 0.93, 0.90),
    "grey": (0.55, 0.55, 0.56),
    "brown": (0.46, 0.29, 0.15),
    "orange": (0.92, 0.52, 0.14),
    "cream": (0.93, 0.84, 0.62),
    "red": (0.80, 0.14, 0.12),
    "yellow": (0.96, 0.84, 0.18),
    "green": (0.24, 0.62, 0.26),
    "blue": (0.20, 0.40, 0.84),
    "purple": (0.52, 0.24, 0.68),
    "pink": (0.96, 0.58, 0.72),
}
"""Colour word -> RGB in ``[0, 1]``."""


def jitter(rng: np.random.Generator, name: str, amount: float = 0.05) -> RGB:
    """``COLOURS[name]`` with each channel moved by ``U(-amount, amount)``, clipped to [0, 1]."""
    base = np.asarray(COLOURS[name])
    value = np.clip(base + rng.uniform(-amount, amount, 3), 0.0, 1.0)
    return tuple(float(c) for c in value)  # type: ignore[return-value]


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """Linear blend ``(1 - t) * a + t * b``."""
    return tuple(float((1.0 - t) * x + t * y) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]
