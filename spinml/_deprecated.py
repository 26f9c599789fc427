"""Old import paths kept for one release (0.2 -> 0.3), each with a ``DeprecationWarning``."""

from __future__ import annotations

import importlib
import sys
import warnings


def moved(old: str, new: str) -> None:
    """Make module ``old`` an alias of module ``new``: ``import old`` warns once and
    returns ``new`` itself, so classes and functions keep their identity."""
    warnings.warn(f"{old} moved to {new}; the old path goes in spinml 0.3",
                  DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
