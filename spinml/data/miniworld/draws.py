"""Random draws of pet and room features: common, or rare with probability ``rarity``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

__all__ = ["Draws"]

T = TypeVar("T")


class Draws:
    """``rare()`` is true with probability ``rarity``; ``pick(options)`` is uniform."""

    def __init__(self, rng: np.random.Generator, rarity: float) -> None:
        if not 0.0 <= rarity <= 1.0:
            raise ValueError(f"rarity must be in [0, 1], got {rarity!r}")
        self.rng = rng
        self.rarity = rarity

    def rare(self) -> bool:
        return bool(self.rng.random() < self.rarity)

    def pick(self, options: Sequence[T]) -> T:
        return options[int(self.rng.integers(len(options)))]
