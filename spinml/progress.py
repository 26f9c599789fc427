"""Progress-bar switches shared by the modules that load Hugging Face models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

__all__ = ["loading_bars"]


@contextmanager
def loading_bars(progress: bool, *libraries: ModuleType) -> Iterator[None]:
    """The loading bars of ``libraries`` off while loading when ``progress`` is off.

    ``libraries`` are Hugging Face logging modules (``diffusers.utils.logging``,
    ``transformers.utils.logging``). Their switches are global to the process; each is
    restored afterwards.
    """
    shown = [(lib, lib.is_progress_bar_enabled()) for lib in libraries]
    if not progress:
        for lib, _ in shown:
            lib.disable_progress_bar()
    try:
        yield
    finally:
        for lib, enabled in shown:
            if enabled:
                lib.enable_progress_bar()
