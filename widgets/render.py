"""Pictures the widgets show: images with outlined objects, and upload panels.

Everything here only draws; what the upload holds comes from the
:class:`~spinml.Sanitizer` (see :mod:`spinml.widgets.picker`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from skimage.segmentation import find_boundaries

from spinml.data.sanitized import SharedObject
from spinml.policy import Level

__all__ = ["PALETTE", "colour", "outlined", "upscale", "shared_pixels"]

PALETTE = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230),
)
"""Outline colours, one per object in order of appearance."""


def colour(index: int) -> tuple[int, int, int]:
    """The outline colour of the ``index``-th object."""
    return PALETTE[index % len(PALETTE)]


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` with every pixel repeated ``factor`` times along both axes."""
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def outlined(
    image: np.ndarray,
    masks: Mapping[str, np.ndarray],
    colours: Mapping[str, tuple[int, int, int]],
    *,
    factor: int = 1,
    tint: np.ndarray | None = None,
    grid: np.ndarray | None = None,
) -> np.ndarray:
    """``image`` upscaled by ``factor`` with each mask's boundary in its colour.

    ``tint`` (an ``H x W`` bool array) lightens the pixels it marks (the
    superpixels just selected); ``grid`` (an ``H x W`` label array) draws its
    region boundaries in grey (the superpixels one can click).
    """
    big = upscale(np.asarray(image, dtype=np.uint8), factor).copy()
    if tint is not None:
        mark = upscale(tint, factor)
        big[mark] = (big[mark].astype(np.uint16) + 255) // 2
    if grid is not None:
        edges = find_boundaries(upscale(grid, factor), mode="inner")
        big[edges] = (big[edges].astype(np.uint16) * 2 + 128) // 3
    for label, mask in masks.items():
        edges = find_boundaries(upscale(mask, factor), mode="inner")
        big[edges] = colours[label]
    return big


def shared_pixels(obj: SharedObject, size: tuple[int, int]) -> np.ndarray:
    """The array uploaded for ``obj``: its segment (L2), feature map (L1), or black (L0)."""
    if obj.level == Level.L2:
        return obj.segment
    if obj.level == Level.L1:
        return obj.feature
    return np.zeros((*size, 3), dtype=np.uint8)
