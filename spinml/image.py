"""Pure image operations that the device side and the server side both use.

Nothing here knows either side: the sanitizer builds its uploads from these,
and the server-side evaluation, generator and zoo recompute the same
quantities on data they are allowed to hold.

- :func:`segment_on_black`: an object's pixels on black;
- :func:`lowest_level_wins`, :func:`l0_cover`, :func:`shared_canvases`: which
  pixels each object owns, and what an object above ``L0`` is shared from;
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
from scipy import ndimage

if TYPE_CHECKING:
    import torch

__all__ = [
    "segment_on_black",
    "lowest_level_wins",
    "L0_SHAPES",
    "l0_cover",
    "shared_canvases",
    "Canny",
    "to_unit_range",
    "from_unit_range",
    "nhwc_to_nchw",
]


def segment_on_black(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The object alone: ``image`` where ``mask`` is true, black (0, 0, 0) elsewhere.

    ``image`` is ``(..., H, W, 3)`` and ``mask`` the boolean ``(..., H, W)``."""
    return np.where(mask[..., None], image, np.uint8(0))


L0_SHAPES = ("hull", "mask")
"""How an ``L0`` object is cut out of its neighbours' shares (see :func:`lowest_level_wins`)."""

INPAINT_RADIUS = 3
"""Radius in pixels of the neighbourhood ``cv2.inpaint`` fills each pixel from."""

_BACKGROUND = "background"


def l0_cover(mask: np.ndarray) -> np.ndarray:
    """The region that hides an ``L0`` object's outline: each 8-connected component
    of ``mask`` dilated by ``m = max(1, round(max(H, W) / 64))`` pixels (an
    elliptical kernel of ``2m + 1``; it also swallows anti-aliased fringes and
    joins fragments closer than ``2m``), replaced by its convex hull."""
    mask = np.asarray(mask, dtype=bool)
    margin = max(1, round(max(mask.shape) / 64))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1,) * 2)
    grown = cv2.dilate(mask.astype(np.uint8), kernel)
    contours, _ = cv2.findContours(grown, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    for contour in contours:
        cv2.fillConvexPoly(grown, cv2.convexHull(contour), 1)
    return grown.astype(bool)


def _check_shape(l0_shape: str) -> str:
    if l0_shape not in L0_SHAPES:
        raise ValueError(f"l0_shape: expected one of {L0_SHAPES}, got {l0_shape!r}")
    return l0_shape


def _covers(levels: Mapping[str, int], l0_shape: str) -> list[str]:
    """The objects whose outline is hidden: every ``L0`` object but the background
    (whose outline is the other objects', shared at their own levels)."""
    if _check_shape(l0_shape) == "mask":
        return []
    return [label for label, level in levels.items() if level == 0 and label != _BACKGROUND]


def lowest_level_wins(
    masks: Mapping[str, np.ndarray],
    levels: Mapping[str, int],
    *,
    background: np.ndarray | None = None,
    size: tuple[int, int],
    l0_shape: str = "mask",
) -> dict[str, np.ndarray]:
    """Object label -> the pixels it owns, ``"background"`` included (``levels``
    names every object of ``masks`` and the background).

    The background is ``background`` when given, else the image of ``size``
    minus every object of ``masks``. With ``l0_shape="hull"`` (the
    :class:`~spinml.Sanitizer`'s default) the mask of every ``L0`` object but
    the background is first replaced by its :func:`l0_cover`, so no object
    above ``L0`` keeps a pixel of the cover and none of their borders follows
    the ``L0`` object's outline; ``"mask"`` (this function's default) is the
    paper's plain masking. Then a pixel claimed by several objects stays only with
    those of the lowest level among them:
    ``owned[o] = mask[o] & ~OR{mask[p] : level[p] < level[o]}``.
    """
    masks = dict(masks)
    masks["background"] = background if background is not None else (
        ~np.logical_or.reduce([*masks.values(), np.zeros(size, dtype=bool)])
    )
    for label in _covers(levels, l0_shape):
        masks[label] = l0_cover(masks[label])
    owned = {}
    for label, mask in masks.items():
        stricter = [m for other, m in masks.items() if levels[other] < levels[label]]
        owned[label] = mask & ~np.logical_or.reduce([*stricter, np.zeros_like(mask)])
    return owned


def shared_canvases(
    image: np.ndarray,
    owned: Mapping[str, np.ndarray],
    levels: Mapping[str, int],
    *,
    l0_shape: str = "mask",
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Object label -> ``(region, canvas)`` for every object above ``L0``: its L1
    features are computed from ``canvas`` and its L2 share is ``canvas`` with
    mask ``region``.

    ``owned`` is :func:`lowest_level_wins`'s split. With ``l0_shape="mask"``,
    ``region = owned[o]`` and ``canvas = segment_on_black(image, owned[o])``.
    With ``"hull"``, let ``C`` be the union of the covers of the ``L0`` objects
    (their owned pixels). Each pixel ``p`` of ``C`` goes to the objects owning
    its nearest pixel outside ``C`` (Euclidean distance transform):
    ``region[o] = owned[o] | {p in C : owned[o][nearest(p)]}``, and on those
    pixels ``canvas`` is filled by ``cv2.inpaint`` (Navier-Stokes, radius
    :data:`INPAINT_RADIUS`; a flat colour stays exactly flat) from ``o``'s own
    pixels alone. So an ``L0`` object's place is filled with its surroundings:
    no hole outlines it in an L2 mask, no edge traces it in an L1 map, and no
    pixel of another object enters ``o``'s share. What remains visible is at
    most where the cover lies (an inpainted, texture-free patch the shape of a
    convex hull) and, where several objects surround it, the line between
    their parts of it.
    """
    image = np.asarray(image)
    shares = {label: (mask, segment_on_black(image, mask))
              for label, mask in owned.items() if levels[label] > 0}
    covered = np.logical_or.reduce(
        [owned[label] for label in _covers(levels, l0_shape)] + [np.zeros(image.shape[:2], bool)])
    if not covered.any() or covered.all():
        return shares
    nearest = ndimage.distance_transform_edt(covered, return_distances=False,
                                             return_indices=True)
    for label, (mask, canvas) in shares.items():
        gained = covered & mask[nearest[0], nearest[1]]
        if not gained.any():
            continue
        rows, cols = np.nonzero(gained)
        pad = INPAINT_RADIUS + 1
        box = (slice(max(rows.min() - pad, 0), rows.max() + pad + 1),
               slice(max(cols.min() - pad, 0), cols.max() + pad + 1))
        filled = cv2.inpaint(np.ascontiguousarray(canvas[box]),
                             (~mask[box]).astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_NS)
        canvas = canvas.copy()
        canvas[box] = np.where(gained[box][..., None], filled, canvas[box])
        shares[label] = (mask | gained, canvas)
    return shares


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
