"""Composing per-object streams into one labelled image, the way SpinML does:
the generated foreground (the target, on black) is pasted onto the generated
background through its mask."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["foreground_mask", "compose", "augment_condition"]

MASK_THRESHOLD = 10
"""Grey level above which a pixel of a foreground generated on black is foreground."""


def foreground_mask(foreground: np.ndarray, threshold: int = MASK_THRESHOLD,
                    min_area: int = 3) -> np.ndarray:
    """Where a foreground generated on black is: ``max(R, G, B) > threshold`` (grey
    levels), without 8-connected specks of fewer than ``min_area`` pixels, then a
    3 x 3 morphological closing.

    Thin parts survive (a leg or tail one pixel wide at 32 px), and so do dark
    pets: a generated black stays within a few grey levels of 0, while a navy
    pet's brightest channel is around 40.
    """
    mask = (np.asarray(foreground).max(axis=2) > threshold).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    mask = keep[labels].astype(np.uint8)
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)).astype(bool)


def compose(foreground: np.ndarray, background: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``mask * foreground + (1 - mask) * background`` for uint8 ``H x W x 3`` images."""
    if foreground.shape != background.shape or mask.shape != foreground.shape[:2]:
        raise ValueError(f"cannot compose {foreground.shape} onto {background.shape} through "
                         f"a {mask.shape} mask")
    return np.where(mask[:, :, None], foreground, background)


def augment_condition(feature: np.ndarray, rng: np.random.Generator, max_shift: float = 0.1
                      ) -> np.ndarray:
    """A varied copy of a shared feature map: a horizontal flip with probability 1/2 and
    a shift of up to ``max_shift`` of the side in x and y (edges leaving the map are
    dropped), so a few maps give varied images."""
    h, w = feature.shape
    out = feature[:, ::-1] if rng.random() < 0.5 else feature
    dy, dx = (int(round(s)) for s in rng.uniform(-max_shift, max_shift, 2) * (h, w))
    shifted = np.zeros_like(out)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    shifted[yd, xd] = out[ys, xs]
    return shifted
