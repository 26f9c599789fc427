"""A figure of example images with their object masks outlined and their captions."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from spinml.data.miniworld.poses import ACTIVITIES
from spinml.data.miniworld.splits import public
from spinml.data.references import BACKGROUND, ReferenceImage

__all__ = ["gallery", "OUTLINE_COLOURS"]

OUTLINE_COLOURS = {"target": "#ff2d55", "bowl": "#ffd60a", "ball": "#30d5c8"}
"""Outline colour per object label; other labels get ``"white"``."""


def gallery(
    images: Iterable[ReferenceImage] | None = None,
    *,
    n: int = 8,
    columns: int = 4,
    outlines: bool = True,
    captions: bool = True,
    seed: int = 0,
    size: int = 64,
) -> Figure:
    """Draw up to ``n`` images in a grid, each object's mask outlined, captions as titles.

    Without ``images``, renders ``n`` public examples (``seed``, ``size``) covering
    every activity. Returns a :class:`matplotlib.figure.Figure` (not shown).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be an integer >= 1, got {columns!r}")
    if images is None:
        per_class = math.ceil(n / len(ACTIVITIES))
        images = public(per_class, seed=seed, size=size, progress=False)
    shown = list(images)[:n]
    if not shown:
        raise ValueError("images is empty: nothing to draw")
    columns = min(columns, len(shown))
    rows = math.ceil(len(shown) / columns)
    fig = Figure(figsize=(2.2 * columns, 2.2 * rows + (0.5 * rows if captions else 0.0)))
    axes = fig.subplots(rows, columns, squeeze=False)
    seen: dict[str, str] = {}
    for ax, image in zip(axes.flat, shown, strict=False):
        ax.imshow(image.image, interpolation="nearest")
        if outlines:
            for segment in image.segments:
                if segment.label == BACKGROUND:
                    continue
                colour = OUTLINE_COLOURS.get(segment.label, "white")
                seen.setdefault(segment.label, colour)
                ax.contour(
                    segment.mask.astype(np.float32), levels=[0.5], colors=[colour], linewidths=1.0
                )
        text = getattr(image, "caption", "") or image.label
        if captions:
            ax.set_title("\n".join(textwrap.wrap(text, 30)), fontsize=6.5)
        ax.set_axis_off()
    for ax in axes.flat[len(shown) :]:
        ax.set_axis_off()
    if seen:
        handles = [Line2D([], [], color=c, label=label) for label, c in seen.items()]
        fig.legend(
            handles=handles, loc="lower center", ncol=len(handles), fontsize=7, frameon=False
        )
    fig.tight_layout(rect=(0, 0.04 if seen else 0, 1, 1))
    return fig
