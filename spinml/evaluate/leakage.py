"""Per-object leakage of an upload: what each shared representation reveals.

For object ``o`` of reference image ``x`` with raw segment ``s_o`` (the
object's pixels on black) and upload ``u_o``:

    MI_o = MI(letterbox(u_o), letterbox(s_o)) / H(letterbox(x))

with ``u_o = s_o`` at ``L2``, ``u_o = features(s_o)`` (repeated over the 3
RGB channels) at ``L1``, and ``MI_o = 0`` at ``L0``. MI and H are the
histogram estimates of :mod:`spinml.evaluate.information`.

An ``L0`` object shares no pixels, but its neighbours' shares may outline it:
:func:`shape_leak` measures how well its mask can be recovered from the upload.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import cv2
import numpy as np
import pandas as pd
from skimage.segmentation import expand_labels

from spinml.data.references import BACKGROUND, ReferenceImage, ReferenceSet
from spinml.data.sanitized import SanitizedSet, SharedObject
from spinml.evaluate.information import entropy, letterbox, mutual_information
from spinml.image import lowest_level_wins, segment_on_black
from spinml.policy import Level, SharingPolicy

__all__ = ["leakage_table", "shape_leak"]

COLUMNS = ["image", "class", "object", "level", "metric", "value"]


class ObjectSplitter(Protocol):
    """What splits a reference into owned object masks: a ``spinml.Sanitizer``."""

    def object_masks(self, reference: ReferenceImage,
                     policy: SharingPolicy) -> dict[str, np.ndarray]: ...


class _GivenMasks:
    """The default Sanitizer's split: the references' own masks, lowest level wins,
    ``L0`` objects cut out as ``l0_shape`` says (the upload records it)."""

    def __init__(self, l0_shape: str) -> None:
        self.l0_shape = l0_shape

    def object_masks(self, reference: ReferenceImage,
                     policy: SharingPolicy) -> dict[str, np.ndarray]:
        masks = {s.label: s.mask for s in reference.segments if s.label != BACKGROUND}
        return lowest_level_wins(masks, {label: policy[label] for label in [*masks, BACKGROUND]},
                                 background=reference.mask(BACKGROUND), size=reference.size,
                                 l0_shape=self.l0_shape)


def _iou(candidates: np.ndarray, n: int, truth: np.ndarray) -> float:
    """Largest IoU with ``truth`` of the regions ``1..n`` of the label image ``candidates``."""
    if n < 1:
        return 0.0
    inter = np.bincount(candidates[truth], minlength=n + 1)[1:]
    area = np.bincount(candidates.ravel(), minlength=n + 1)[1:]
    return float((inter / np.maximum(area + truth.sum() - inter, 1)).max())


def _enclosed(edges: np.ndarray) -> tuple[np.ndarray, int]:
    """Regions closed by an edge map: the 4-connected components of the pixels
    farther than 1 px from an edge, each grown back over the 2 px next to it."""
    closed = cv2.dilate((edges > 0).astype(np.uint8), np.ones((3, 3), np.uint8))
    n, labels = cv2.connectedComponents((closed == 0).astype(np.uint8), connectivity=4)
    return expand_labels(labels, distance=2), n - 1


def _holes(mask: np.ndarray, truth: np.ndarray) -> float:
    """Best IoU of the complement of an L2 mask, whole or one 8-connected part of it."""
    outside = (~mask).astype(np.uint8)
    n, parts = cv2.connectedComponents(outside, connectivity=8)
    return max(_iou(outside.astype(np.int64), 1, truth), _iou(parts, n - 1, truth))


def shape_leak(truth: np.ndarray, shared: Iterable[SharedObject]) -> float:
    """How well an ``L0`` object's mask ``truth`` can be recovered from the other
    objects' shares of its image: the IoU of the best recovery,

        shape_leak = max_{R in candidates} |R & T| / |R | T|

    over the candidate recoveries ``R`` of the mask ``T``:

    - L2 masks: the complement ``~M_o`` of every ``L2`` object's mask and the
      complement of their union ``~OR_o M_o``, each whole and each of its
      8-connected parts (the pet's hole apart from the props' holes);
    - L1 edges: every region closed by an ``L1`` object's feature map (the
      4-connected components of the pixels farther than 1 px from an edge,
      each grown over the 2 px next to it: the fill of closed edge contours).

    1 means the outline is in the upload; a region as large as the image
    gives ``|T| / (H W)``. Under plain masking (``l0_shape="mask"``) an ``L2``
    background's mask is exactly ``~T`` (1.0) and an ``L1`` background's edges
    trace ``T``; with ``"hull"`` neither does.
    """
    truth = np.asarray(truth, dtype=bool)
    best = 0.0
    masks = []
    for obj in shared:
        if obj.level == Level.L2:
            masks.append(obj.mask)
            best = max(best, _holes(obj.mask, truth))
        elif obj.level == Level.L1:
            best = max(best, _iou(*_enclosed(obj.feature), truth))
    if len(masks) > 1:
        best = max(best, _holes(np.logical_or.reduce(masks), truth))
    return best


def leakage_table(
    sanitized: SanitizedSet,
    references: ReferenceSet,
    *,
    sanitizer: ObjectSplitter | None = None,
    size: int = 512,
) -> pd.DataFrame:
    """Tidy table of leakage per (image, object): columns ``image``, ``class``,
    ``object``, ``level``, ``metric``, ``value``. Metric ``"mi"``: the normalised
    MI of every object (see the module); ``"shape_leak"``: :func:`shape_leak`
    of every ``L0`` object but the background (whose outline is the other
    objects', shared at their own levels).

    ``references`` are the images ``sanitized`` was made from, in the same
    order; ``sanitizer`` must split them as it did (default: the given masks,
    with the upload's ``l0_shape``). Runs on the device: it reads the raw
    references.
    """
    if len(sanitized) != len(references):
        raise ValueError(f"{len(sanitized)} sanitised images but {len(references)} references")
    sanitizer = sanitizer or _GivenMasks(sanitized.l0_shape)
    rows = []
    for shared, ref in zip(sanitized, references, strict=True):
        if shared.size != ref.size or shared.label != ref.label:
            raise ValueError(f"sanitised image {shared.id} does not match reference {ref.name}")
        owned = sanitizer.object_masks(ref, sanitized.policy)
        h_raw = entropy(letterbox(ref.image, size))
        for obj in shared.objects:
            value = 0.0
            if obj.level > Level.L0 and h_raw > 0:
                raw = letterbox(segment_on_black(ref.image, owned[obj.label]), size)
                upload = obj.segment if obj.level == Level.L2 else np.repeat(
                    obj.feature[:, :, None], 3, axis=2)
                value = mutual_information(letterbox(upload, size), raw) / h_raw
            rows.append((shared.id, shared.label, obj.label, obj.level.name, "mi", value))
            if obj.level == Level.L0 and obj.label != BACKGROUND:
                others = [o for o in shared.objects if o.label != obj.label]
                truth = ref.mask(obj.label) if obj.label in ref.objects else owned[obj.label]
                rows.append((shared.id, shared.label, obj.label, obj.level.name, "shape_leak",
                             shape_leak(truth, others)))
    return pd.DataFrame(rows, columns=COLUMNS)
