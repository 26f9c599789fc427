"""Generated training data: composed images with labels and provenance.

Each :class:`SyntheticImage` keeps, where the generator made them, the
per-object parts it was composed from (foreground, background, mask) and a
provenance record (scheme, seed, prompt, adapter or condition, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spinml.data.imageio import MAX_PIXELS, encode_png, read_image, read_mask, to_rgb
from spinml.data.labelled import LabelledSet
from spinml.io import MANIFEST, atomic_dir, read_manifest, safe_name, safe_path, write_manifest

__all__ = ["SyntheticImage", "SyntheticSet"]

_FORMAT = "spinml.synthetic"
_VERSION = 1
_PARTS = ("image", "foreground", "background", "mask")


@dataclass(frozen=True, eq=False)
class SyntheticImage:
    """A generated image, its class label, optional parts and its provenance."""

    image: np.ndarray
    label: str
    foreground: np.ndarray | None = None
    background: np.ndarray | None = None
    mask: np.ndarray | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        image = to_rgb(self.image, name="synthetic image")
        object.__setattr__(self, "image", image)
        for part in ("foreground", "background"):
            value = getattr(self, part)
            if value is not None:
                value = to_rgb(value, name=f"synthetic {part}")
                if value.shape != image.shape:
                    raise ValueError(f"synthetic {part} is {value.shape}, image is {image.shape}")
                object.__setattr__(self, part, value)
        if self.mask is not None:
            mask = np.asarray(self.mask, dtype=bool)
            if mask.shape != image.shape[:2]:
                raise ValueError(f"synthetic mask is {mask.shape}, image is {image.shape[:2]}")
            object.__setattr__(self, "mask", mask)


class SyntheticSet(LabelledSet[SyntheticImage]):
    """A labelled synthetic training set.

    ``save(dir)`` writes ``manifest.json`` plus
    ``{image,foreground,background,mask}/<class>/<index>.png``, the layout of
    the SpinML artifact's ``synthetic/{scheme}/`` folders.
    """

    item_type = SyntheticImage

    @property
    def schemes(self) -> tuple[str, ...]:
        """Distinct ``provenance["scheme"]`` values, in first-seen order."""
        return tuple(dict.fromkeys(str(im.provenance.get("scheme")) for im in self.images))

    def mix(self, other: SyntheticSet, alpha: float, seed: int = 0, *,
            replace: bool = False) -> SyntheticSet:
        """The paper's mixing: a set of ``len(self)`` images, a fraction ``alpha``
        from ``other`` (e.g. ``L0_L0``) and the rest from ``self``, class by class.

        Of the ``n_c`` images of class ``c`` in ``self``, ``round(alpha * n_c)``
        are drawn from ``other``'s class ``c`` and the rest from ``self``'s. By
        default the draws are without replacement, so ``alpha = 0`` gives
        ``self``'s images and ``alpha = 1`` ``other``'s, each image at most once.
        ``replace=True`` draws with replacement, as the SpinML artifact does: a
        training set drawn so holds about 63 % distinct images at any ``alpha``.
        """
        if not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        if set(other.classes) != set(self.classes):
            raise ValueError(f"cannot mix classes {self.classes} with {other.classes}")
        if not len(self) or (alpha > 0 and not len(other)):
            raise ValueError("cannot mix an empty SyntheticSet")
        rng = np.random.default_rng(seed)
        picks: list[SyntheticImage] = []
        for label in self.classes:
            own = [im for im in self.images if im.label == label]
            theirs = [im for im in other.images if im.label == label]
            n_other = int(round(alpha * len(own)))
            if not replace and n_other > len(theirs):
                raise ValueError(f"alpha={alpha} needs {n_other} images of class {label!r} "
                                 f"from the other set, which has {len(theirs)}: mix with "
                                 f"replace=True")
            for source, k in ((theirs, n_other), (own, len(own) - n_other)):
                if k:
                    index = (rng.integers(0, len(source), k) if replace
                             else rng.choice(len(source), k, replace=False))
                    picks += [source[i] for i in index]
        return SyntheticSet(picks, classes=self.classes)

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        folder = Path(folder)
        with atomic_dir(folder, overwrite=overwrite, kind=_FORMAT) as tmp:
            entries = []
            for i, im in enumerate(self.images):
                entry: dict[str, Any] = {"label": im.label, "provenance": im.provenance}
                for part in _PARTS:
                    array = getattr(im, part)
                    if array is None:
                        continue
                    rel = f"{part}/{safe_name(im.label, what='class label')}/{i:06d}.png"
                    (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                    (tmp / rel).write_bytes(encode_png(array))
                    entry[part] = rel
                entries.append(entry)
            write_manifest(tmp, _FORMAT, _VERSION, {"classes": list(self.classes),
                                                    "images": entries})
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, max_pixels: int | None = None) -> SyntheticSet:
        """Read a folder written by :meth:`save`. Every manifest field is checked
        (class labels by :func:`~spinml.io.safe_name`, each image's label listed in
        ``classes``, paths by :func:`~spinml.io.safe_path`); with ``max_pixels``, at
        most that many pixels (width x height summed over the files) are decoded,
        each file's size read from its header first."""
        folder = Path(folder)
        data = read_manifest(folder, _FORMAT, (_VERSION,))
        manifest = folder / MANIFEST
        readers = {"image": read_image, "foreground": read_image, "background": read_image,
                   "mask": read_mask}
        try:
            classes, entries = _checked(data)
        except ValueError as err:
            raise ValueError(f"manifest {manifest}: {err}") from None
        left, images = max_pixels, []
        for entry in entries:
            parts = {}
            for part in (p for p in _PARTS if p in entry):
                limit = MAX_PIXELS if left is None else min(MAX_PIXELS, left)
                parts[part] = readers[part](safe_path(folder, entry[part], manifest=manifest),
                                            max_pixels=limit)
                if left is not None:
                    left -= parts[part].shape[0] * parts[part].shape[1]
            try:
                images.append(SyntheticImage(label=entry["label"],
                                             provenance=dict(entry.get("provenance", {})),
                                             **parts))
            except ValueError as err:
                raise ValueError(f"manifest {manifest}: {err}") from None
        return cls(images, classes=classes)


def _checked(data: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The manifest's classes and image entries; ``ValueError`` for any bad field."""
    classes = data.get("classes")
    if type(classes) is not list:
        raise ValueError(f"classes must be a list, got {type(classes).__name__}")
    classes = [safe_name(c, what="class label") for c in classes]
    entries = data.get("images")
    if type(entries) is not list or not all(type(e) is dict for e in entries):
        raise ValueError("images must be a list of JSON objects")
    for i, entry in enumerate(entries):
        if entry.get("label") not in classes:
            raise ValueError(f"images[{i}]: label {entry.get('label')!r} is not in "
                             f"classes {classes}")
        if type(entry.get("provenance", {})) is not dict:
            raise ValueError(f"images[{i}].provenance must be a JSON object")
        if type(entry.get("image")) is not str:
            raise ValueError(f"images[{i}] has no 'image' path")
        for part in _PARTS:
            if part in entry and type(entry[part]) is not str:
                raise ValueError(f"images[{i}].{part} must be a path")
    return classes, entries
