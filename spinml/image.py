"""Pure image operations that the device side and the server side both use.

Nothing here knows either side: the sanitizer builds its uploads from these,
and the server-side evaluation, generator and zoo recompute the same
quantities on data they are allowed to hold.

- :func:`segment_on_black`: an object's pixels on black;
- :class:`Canny`: the L1 edge map, as the SpinML artifact computes it;
- :func:`to_unit_range` / :func:`from_unit_range`: uint8 pixels <-> ``[-1, 1]``;
- :func:`nhwc_to_nchw`: the numpy image layout -> torch's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = [
    "segment_on_black",
    "lowest_level_wins",
    "Canny",
    "to_unit_range",
    "from_unit_range",
    "nhwc_to_nchw",
]


def segment_on_black(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The object alone: ``image`` where ``mask`` is true, black (0, 0, 0) elsewhere.

    ``image`` is ``(..., H, W, 3)`` and ``mask`` the boolean ``(..., H, W)``."""
    return np.where(mask[..., None], image, np.uint8(0))


def lowest_level_wins(
    masks: Mapping[str, np.ndarray],
    levels: Mapping[str, int],
    *,
    background: np.ndarray | None = None,
    size: tuple[int, int],
) -> dict[str, np.ndarray]:
    """Object label -> the pixels it owns, ``"background"`` included (``levels``
    names every object of ``masks`` and the background).

    The background is ``background`` when given, else the image of ``size``
    minus every object of ``masks``. A pixel claimed by several objects stays
    only with those of the lowest level among them:
    ``owned[o] = mask[o] & ~OR{mask[p] : level[p] < level[o]}``.
    """
    masks = dict(masks)
    masks["background"] = background if background is not None else (
        ~np.logical_or.reduce([*masks.values(), np.zeros(size, dtype=bool)])
    )
    owned = {}
    for label, mask in masks.items():
        stricter = [m for other, m in masks.items() if levels[other] < levels[label]]
        owned[label] = mask & ~np.logical_or.reduce([*stricter, np.zeros_like(mask)])
    return owned


@dataclass(frozen=True)
class Canny:
    """Canny edge map, as the SpinML artifact computes it.

    ``edges = cv2.Canny(grey(segment), low, high)`` with the OpenCV grey
    conversion ``Y = 0.299 R + 0.587 G + 0.114 B`` and hysteresis thresholds
    ``low=100``, ``high=200`` (grey levels). Output values are 0 or 255.
    """

    low: int = 100
    high: int = 200
    kind: str = "canny"

    def __call__(self, segment: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(np.ascontiguousarray(segment), cv2.COLOR_RGB2GRAY)
        return cv2.Canny(grey, self.low, self.high)


def to_unit_range(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels ``p`` in [0, 255] -> float32 ``x = p / 127.5 - 1`` in [-1, 1]."""
    return pixels.float() / 127.5 - 1.0


def from_unit_range(x: torch.Tensor) -> np.ndarray:
    """``(N, 3, H, W)`` values ``x`` in [-1, 1] -> uint8 RGB ``(N, H, W, 3)``,
    ``p = round((x + 1) * 127.5)`` clipped to [0, 255]: the inverse of
    :func:`to_unit_range` up to 8-bit rounding."""
    import torch

    pixels = ((x.detach().float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).cpu().numpy()


def nhwc_to_nchw(images: np.ndarray) -> torch.Tensor:
    """``(N, H, W, C)`` array -> contiguous tensor ``(N, C, H, W)`` of the same dtype."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(np.asarray(images).transpose(0, 3, 1, 2)))
