"""Per-object leakage of an upload: what each shared representation reveals.

For object ``o`` of reference image ``x`` with raw segment ``s_o`` (the
object's pixels on black) and upload ``u_o``:

    MI_o = MI(letterbox(u_o), letterbox(s_o)) / H(letterbox(x))

with ``u_o = s_o`` at ``L2``, ``u_o = features(s_o)`` (repeated over the 3
RGB channels) at ``L1``, and ``MI_o = 0`` at ``L0``. MI and H are the
histogram estimates of :mod:`spinml.evaluate.information`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from spinml.data.references import BACKGROUND, ReferenceImage, ReferenceSet
from spinml.data.sanitized import SanitizedSet
from spinml.evaluate.information import entropy, letterbox, mutual_information
from spinml.image import lowest_level_wins, segment_on_black
from spinml.policy import Level, SharingPolicy

__all__ = ["leakage_table"]

COLUMNS = ["image", "class", "object", "level", "metric", "value"]


class ObjectSplitter(Protocol):
    """What splits a reference into owned object masks: a ``spinml.Sanitizer``."""

    def object_masks(self, reference: ReferenceImage,
                     policy: SharingPolicy) -> dict[str, np.ndarray]: ...


class _GivenMasks:
    """The default Sanitizer's split: the references' own masks, lowest level wins."""

    def object_masks(self, reference: ReferenceImage,
                     policy: SharingPolicy) -> dict[str, np.ndarray]:
        masks = {s.label: s.mask for s in reference.segments if s.label != BACKGROUND}
        background = reference.mask(BACKGROUND) if BACKGROUND in reference.objects else None
        return lowest_level_wins(masks, {label: policy[label] for label in [*masks, BACKGROUND]},
                                 background=background, size=reference.size)


def leakage_table(
    sanitized: SanitizedSet,
    references: ReferenceSet,
    *,
    sanitizer: ObjectSplitter | None = None,
    size: int = 512,
) -> pd.DataFrame:
    """Tidy table of normalised MI per (image, object): columns ``image``, ``class``,
    ``object``, ``level``, ``metric`` (``"mi"``), ``value``.

    ``references`` are the images ``sanitized`` was made from, in the same
    order; ``sanitizer`` must split them as it did (default: the given masks).
    Runs on the device: it reads the raw references.
    """
    if len(sanitized) != len(references):
        raise ValueError(f"{len(sanitized)} sanitised images but {len(references)} references")
    sanitizer = sanitizer or _GivenMasks()
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
    return pd.DataFrame(rows, columns=COLUMNS)
