"""The user's private reference images: pixels, task label and object segments.

A :class:`ReferenceSet` never leaves the device. Only the
:class:`~spinml.Sanitizer` reads it, and what it produces, a
:class:`~spinml.SanitizedSet`, is the one thing that may be uploaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from spinml.data.imageio import to_rgb
from spinml.data.labelled import LabelledSet
from spinml.policy import check_label

__all__ = ["BACKGROUND", "Segment", "merge_segments", "ReferenceImage", "ReferenceSet"]

BACKGROUND = "background"
"""Label of the background object: the image minus every other object."""


@dataclass(frozen=True, eq=False)
class Segment:
    """One object of an image: its label and a boolean ``H x W`` mask.

    ``mask`` is every pixel the object *might* own; ``core`` (default: ``mask``)
    the pixels it certainly owns. They differ for a soft mask, given as uint8
    coverage levels ``v`` (anti-aliased edges, a JPEG mask): ``mask = v > 0``
    and ``core = v == 255``. The background is the complement of the other
    objects' cores, so a partly covered pixel is claimed by both the object and
    the background, and the ownership rule (:func:`spinml.image.lowest_level_wins`)
    gives it to the stricter one: a soft edge is thresholded toward the stricter
    object, never splitting a pixel's colours between two levels. (A JPEG
    mask's noise thus also goes to the stricter side: save masks as PNG.)
    Boolean masks and masks of 0/1/255 values are hard (``core == mask``).
    """

    label: str
    mask: np.ndarray
    core: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_label(self.label)
        mask = np.asarray(self.mask)
        if mask.ndim != 2:
            raise ValueError(f"mask of {self.label!r}: expected H x W, got shape {mask.shape}")
        core = None if self.core is None else np.asarray(self.core, dtype=bool)
        if mask.dtype != bool:
            if mask.dtype != np.uint8 and not np.isin(mask, (0, 1, 255)).all():
                raise ValueError(f"mask of {self.label!r}: expected booleans, 0/1/255 values "
                                 f"or uint8 coverage levels, got {mask.dtype}")
            if np.isin(mask, (0, 1, 255)).all():
                mask = mask > 0
            else:
                if core is not None:
                    raise ValueError(f"mask of {self.label!r}: a soft mask gives its own core")
                mask, core = mask > 0, mask == 255
        if core is None:
            core = mask
        elif core.shape != mask.shape or (core & ~mask).any():
            raise ValueError(f"core of {self.label!r}: expected a part of its mask")
        object.__setattr__(self, "mask", np.ascontiguousarray(mask))
        object.__setattr__(self, "core", np.ascontiguousarray(core))

    @property
    def area(self) -> int:
        """Number of pixels inside the mask."""
        return int(self.mask.sum())


def merge_segments(segments: Iterable[Segment]) -> list[Segment]:
    """One segment per label, in first-seen order: several segments of one label
    (a segmenter's instances, e.g. two bowls) become their union."""
    merged: dict[str, Segment] = {}
    for seg in segments:
        if not isinstance(seg, Segment):
            raise TypeError(f"expected Segment objects, got {type(seg).__name__}")
        if seg.label in merged:
            first = merged[seg.label]
            if first.mask.shape != seg.mask.shape:
                raise ValueError(f"two masks of {seg.label!r} have different sizes")
            seg = Segment(seg.label, first.mask | seg.mask, first.core | seg.core)
        merged[seg.label] = seg
    return list(merged.values())


@dataclass(frozen=True, eq=False)
class ReferenceImage:
    """A private image: RGB uint8 pixels, its task label and its object segments.

    ``name`` identifies the image in error messages (usually its file path).
    Every mask has the image's size and is non-empty; labels are unique.
    """

    image: np.ndarray
    label: str
    segments: tuple[Segment, ...] = ()
    name: str = "image"

    def __post_init__(self) -> None:
        image = to_rgb(self.image, name=f"image {self.name}")
        object.__setattr__(self, "image", image)
        if not isinstance(self.label, str) or not self.label:
            raise ValueError(f"image {self.name}: task label must be a non-empty string")
        segments = tuple(self.segments)
        seen: set[str] = set()
        for seg in segments:
            if not isinstance(seg, Segment):
                raise TypeError(f"image {self.name}: segments must be Segment objects")
            if seg.mask.shape != image.shape[:2]:
                raise ValueError(
                    f"image {self.name}: mask of {seg.label!r} is {seg.mask.shape[1]}x"
                    f"{seg.mask.shape[0]}, the image is {image.shape[1]}x{image.shape[0]}"
                )
            if not seg.mask.any():
                raise ValueError(f"image {self.name}: mask of {seg.label!r} is empty")
            if seg.label in seen:
                raise ValueError(f"image {self.name}: object {seg.label!r} appears twice "
                                 "(merge_segments joins instances of one label)")
            seen.add(seg.label)
        object.__setattr__(self, "segments", segments)

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return self.image.shape[0], self.image.shape[1]

    @property
    def objects(self) -> tuple[str, ...]:
        """Labels of the segments."""
        return tuple(s.label for s in self.segments)

    def mask(self, label: str) -> np.ndarray:
        """The mask of object ``label``; ``"background"`` defaults to the complement
        of the other objects' cores (:class:`Segment`)."""
        for seg in self.segments:
            if seg.label == label:
                return seg.mask
        if label == BACKGROUND:
            others = np.zeros(self.size, dtype=bool)
            for seg in self.segments:
                others |= seg.core
            return ~others
        raise KeyError(f"image {self.name} has no object {label!r} (it has {self.objects})")


class ReferenceSet(LabelledSet[ReferenceImage]):
    """The user's private images. ``classes`` lists the task's labels in order."""

    item_type = ReferenceImage

    @property
    def objects(self) -> tuple[str, ...]:
        """Every object label present, plus ``"background"``, in first-seen order."""
        labels = [s.label for im in self.images for s in im.segments]
        return tuple(dict.fromkeys([*labels, BACKGROUND]))
