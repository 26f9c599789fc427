"""Segmenters: split an image into named objects.

Every segmenter implements ``segment(image, labels) -> list[Segment]``: for an
``H x W x 3`` uint8 image and the object labels wanted, the segments it finds
(only non-empty ones). The ``"background"`` object is not segmented: the
:class:`~spinml.Sanitizer` takes the image minus every other object.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from skimage.segmentation import slic

from spinml.data.references import BACKGROUND, ReferenceImage, Segment
from spinml.policy import check_label

__all__ = ["Segmenter", "GivenMasks", "SuperpixelSegmenter"]


@runtime_checkable
class Segmenter(Protocol):
    def segment(self, image: np.ndarray, labels: Sequence[str]) -> list[Segment]: ...


class GivenMasks:
    """Use the masks that come with the data (``ReferenceImage.segments``).

    The Sanitizer hands this segmenter the whole :class:`ReferenceImage`
    through :meth:`segment_reference`; ``segment`` alone has no masks to give.
    """

    def segment_reference(self, reference: ReferenceImage, labels: Sequence[str]) -> list[Segment]:
        wanted = set(labels)
        return [s for s in reference.segments if s.label in wanted and s.label != BACKGROUND]

    def segment(self, image: np.ndarray, labels: Sequence[str]) -> list[Segment]:
        raise TypeError("GivenMasks reads masks from a ReferenceImage: use segment_reference")

    def __repr__(self) -> str:
        return "GivenMasks()"


def _digest(image: np.ndarray) -> str:
    data = np.ascontiguousarray(image).tobytes() + str(image.shape).encode()
    return hashlib.sha1(data).hexdigest()


class SuperpixelSegmenter:
    """Objects made of clicked SLIC superpixels (for the object-picker widget).

    ``superpixels(image)`` labels the image with about ``n_segments`` SLIC
    superpixels (scikit-image, ``compactness`` trades colour for shape);
    ``select(image, label, ids)`` merges superpixels into object ``label``
    (adding to what was selected before), ``deselect`` removes them, and
    ``segment(image, labels)`` returns the selected objects. Selections are
    kept per image (by a digest of its pixels). An image pixel belongs to one
    object only: selecting a superpixel for a label removes it from others.
    """

    def __init__(self, n_segments: int = 100, compactness: float = 10.0, seed: int = 0) -> None:
        self.n_segments = n_segments
        self.compactness = compactness
        self.seed = seed
        self._maps: dict[str, np.ndarray] = {}
        self._selected: dict[str, dict[str, set[int]]] = {}

    def superpixels(self, image: np.ndarray) -> np.ndarray:
        """``H x W`` int array of superpixel ids (0 .. n-1) for ``image``."""
        if self.n_segments < 1:
            raise ValueError(f"n_segments must be >= 1, got {self.n_segments}")
        key = _digest(image)
        if key not in self._maps:
            labels = slic(image, n_segments=self.n_segments, compactness=self.compactness,
                          start_label=0, channel_axis=-1)
            self._maps[key] = labels.astype(np.int32)
        return self._maps[key]

    def select(self, image: np.ndarray, label: str, ids: Iterable[int]) -> None:
        """Add superpixels ``ids`` to object ``label`` of ``image``."""
        check_label(label)
        if label == BACKGROUND:
            raise ValueError("the background is what no object covers: select other objects")
        ids = {int(i) for i in ids}
        n = int(self.superpixels(image).max()) + 1
        bad = sorted(i for i in ids if not 0 <= i < n)
        if bad:
            raise ValueError(f"superpixel ids {bad} out of range 0..{n - 1}")
        chosen = self._selected.setdefault(_digest(image), {})
        for other in chosen.values():
            other -= ids
        chosen.setdefault(label, set()).update(ids)

    def deselect(self, image: np.ndarray, label: str, ids: Iterable[int] | None = None) -> None:
        """Remove superpixels ``ids`` (all when ``None``) from object ``label``."""
        chosen = self._selected.get(_digest(image), {})
        if label in chosen:
            if ids is None:
                chosen[label].clear()
            else:
                chosen[label] -= {int(i) for i in ids}

    def selection(self, image: np.ndarray) -> dict[str, set[int]]:
        """Object label -> selected superpixel ids for ``image``."""
        return {k: set(v) for k, v in self._selected.get(_digest(image), {}).items() if v}

    def segment(self, image: np.ndarray, labels: Sequence[str]) -> list[Segment]:
        sp = self.superpixels(image)
        chosen = self._selected.get(_digest(image), {})
        return [Segment(label, np.isin(sp, sorted(chosen[label])))
                for label in labels if chosen.get(label)]

    def __repr__(self) -> str:
        return f"SuperpixelSegmenter(n_segments={self.n_segments}, compactness={self.compactness})"
