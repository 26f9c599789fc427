"""Prompts of the generator's streams.

A prompt source is called as ``source(stream, label, n, seed=..., identifier=...)``
and returns ``n`` prompts for object stream ``stream`` (``"target"`` or
``"background"``) of class ``label``. ``identifier`` is the rare token of an
L2 object's adapter, ``None`` for L0 and L1 streams. Prompts never depend on
private pixels: only on the class label the user requested.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from spinml.zoo.prompts import creature_prompts, room_prompts

__all__ = ["PromptSource", "TemplatePrompts", "MiniWorldPrompts"]


class PromptSource(Protocol):
    def __call__(self, stream: str, label: str, n: int, *, seed: int,
                 identifier: str | None = None) -> list[str]: ...


@dataclass(frozen=True)
class TemplatePrompts:
    """Fixed templates for any Stable Diffusion checkout:
    ``"a photo of a [id] {noun} {label}"`` for the target and
    ``"a photo of an empty [id] {noun}"`` for the background, ``noun`` from ``nouns``
    (e.g. ``{"target": "dog", "background": "room"}``)."""

    nouns: Mapping[str, str] = field(
        default_factory=lambda: {"target": "creature", "background": "room"})

    def __call__(self, stream: str, label: str, n: int, *, seed: int,
                 identifier: str | None = None) -> list[str]:
        noun = self.nouns.get(stream, stream)
        token = f"{identifier} " if identifier else ""
        if stream == "background":
            return [f"a photo of an empty {token}{noun}"] * n
        return [f"a photo of a {token}{noun} {label}"] * n


@dataclass(frozen=True)
class MiniWorldPrompts:
    """For the bundled zoo: L0/L1 prompts describe random public-distribution pets
    and rooms in the zoo's vocabulary (``"a photo of a striped orange creature
    eating"``, ``"a photo of an empty blue room with a plant"``); L2 prompts name
    the adapter's identifier (:class:`TemplatePrompts`)."""

    def __call__(self, stream: str, label: str, n: int, *, seed: int,
                 identifier: str | None = None) -> list[str]:
        if identifier is not None:
            return TemplatePrompts()(stream, label, n, seed=seed, identifier=identifier)
        if stream == "target":
            return creature_prompts(label, n, seed)
        if stream == "background":
            return room_prompts(n, seed)
        raise ValueError(f"MiniWorldPrompts has no stream {stream!r}")
