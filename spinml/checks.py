"""Checks of single settings: each returns the value when it is allowed and raises a
``ValueError`` naming the setting (``name``) and what was expected otherwise.

``name`` is the setting's argument name, optionally with a gloss, e.g.
``"q (client sampling rate)"``. Booleans are never numbers here; integers are
any :class:`numbers.Integral` (``int``, ``numpy.int64``), numbers any finite
:class:`numbers.Real`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

__all__ = ["is_integer", "is_number", "positive_int", "non_negative_int", "positive_number",
           "non_negative_number", "in_interval", "boolean", "one_of"]


def is_integer(value: object) -> bool:
    """``value`` is an integer and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """``value`` is a finite real number and not a bool."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def positive_int(value: object, name: str) -> int:
    """``value`` if it is an integer >= 1."""
    if not is_integer(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def non_negative_int(value: object, name: str) -> int:
    """``value`` if it is an integer >= 0."""
    if not is_integer(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def positive_number(value: object, name: str) -> float:
    """``value`` if it is a finite number > 0."""
    if not is_number(value) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return value


def non_negative_number(value: object, name: str) -> float:
    """``value`` if it is a finite number >= 0."""
    if not is_number(value) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return value


def in_interval(value: object, name: str, low: float, high: float,
                closed: str = "[)") -> float:
    """``value`` if it is a number in the interval from ``low`` to ``high``;
    ``closed`` gives its brackets: ``"[)"``, ``"(]"``, ``"()"`` or ``"[]"``."""
    left, right = closed
    ok = is_number(value) and (low <= value if left == "[" else low < value) and (
        value <= high if right == "]" else value < high)
    if not ok:
        raise ValueError(f"{name} must be in {left}{low}, {high}{right}, got {value!r}")
    return value


def boolean(value: object, name: str) -> bool:
    """``value`` if it is ``True`` or ``False`` (a ``TypeError`` otherwise)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def one_of(value: Any, name: str, choices: Collection[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value
