"""What leaves the device: per image and per object, only what its level allows.

- ``L0``: the object's label.
- ``L1``: the object's feature map (e.g. Canny edges), nothing else.
- ``L2``: the object's segment on black and its mask.

A :class:`SanitizedSet` checks these rules on construction, so it cannot hold
more than its levels allow, in memory or in its saved folder. Server-side code
takes a :class:`SanitizedSet` only (:func:`require_sanitized`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spinml.data.imageio import (
    ImageTooLargeError,
    encode_png,
    read_grey,
    read_image,
    read_mask,
    to_rgb,
)
from spinml.data.references import ReferenceSet
from spinml.image import L0_SHAPES
from spinml.io import MANIFEST, atomic_dir, read_manifest, safe_name, safe_path, write_manifest
from spinml.policy import Level, SharingPolicy, check_label

__all__ = ["SharedObject", "SanitizedImage", "SanitizedSet", "require_sanitized",
           "MAX_UPLOAD_PIXELS"]

_FORMAT = "spinml.sanitized"
_VERSION = 1
_READERS = {"feature": read_grey, "segment": read_image, "mask": read_mask}
_MAX_SIDE = 1 << 16

MAX_UPLOAD_PIXELS = 1 << 27
"""Most pixels :meth:`SanitizedSet.load` decodes from one upload by default: width x
height summed over every image file the manifest names (134 M pixels, 400 MB as RGB)."""


@dataclass(frozen=True, eq=False)
class SharedObject:
    """One object as uploaded: its label, level and the level's payload only."""

    label: str
    level: Level
    feature: np.ndarray | None = None
    feature_kind: str | None = None
    segment: np.ndarray | None = None
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_label(self.label)
        level = Level.parse(self.level, name=f"level of {self.label!r}")
        object.__setattr__(self, "level", level)
        where = f"shared object {self.label!r} at {level.name}"
        has = {
            "feature": self.feature is not None,
            "segment": self.segment is not None,
            "mask": self.mask is not None,
        }
        allowed = {Level.L0: set(), Level.L1: {"feature"}, Level.L2: {"segment", "mask"}}[level]
        extra = {k for k, v in has.items() if v} - allowed
        missing = {k for k in allowed if not has[k]}
        if extra:
            raise ValueError(f"{where} may not carry {sorted(extra)}")
        if missing:
            raise ValueError(f"{where} needs {sorted(missing)}")
        if level == Level.L1:
            feature = np.asarray(self.feature)
            if feature.ndim != 2 or feature.dtype != np.uint8:
                raise ValueError(f"{where}: feature map must be an H x W uint8 array")
            if not isinstance(self.feature_kind, str) or not self.feature_kind:
                raise ValueError(f"{where}: feature_kind must name the feature (e.g. 'canny')")
        elif self.feature_kind is not None:
            raise ValueError(f"{where} may not carry a feature_kind")
        if level == Level.L2:
            segment = to_rgb(self.segment, name=f"{where}: segment")
            mask = np.asarray(self.mask, dtype=bool)
            if mask.shape != segment.shape[:2]:
                raise ValueError(f"{where}: mask and segment sizes differ")
            if segment[~mask].any():
                raise ValueError(f"{where}: segment has pixels outside its mask")
            object.__setattr__(self, "segment", segment)
            object.__setattr__(self, "mask", mask)


@dataclass(frozen=True, eq=False)
class SanitizedImage:
    """One uploaded reference: an anonymous id, the task label, the size and its objects."""

    id: str
    label: str
    size: tuple[int, int]
    objects: tuple[SharedObject, ...]

    def __post_init__(self) -> None:
        check_label(self.id, what="image id")
        safe_name(self.label, what=f"image {self.id}: class label")
        object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))
        object.__setattr__(self, "objects", tuple(self.objects))
        seen = set()
        for obj in self.objects:
            if not isinstance(obj, SharedObject):
                raise TypeError(f"image {self.id}: objects must be SharedObject")
            if obj.label in seen:
                raise ValueError(f"image {self.id}: object {obj.label!r} appears twice")
            seen.add(obj.label)
            for arr in (obj.feature, obj.segment, obj.mask):
                if arr is not None and arr.shape[:2] != self.size:
                    raise ValueError(f"image {self.id}: {obj.label!r} is not of size {self.size}")

    def object(self, label: str) -> SharedObject:
        for obj in self.objects:
            if obj.label == label:
                return obj
        raise KeyError(f"image {self.id} has no object {label!r}")


class SanitizedSet:
    """The upload: sanitised references, the task's classes and the policy used.

    ``l0_shape`` records how ``L0`` objects were cut out of their neighbours
    (``"hull"``: outlines hidden, ``"mask"``: the paper's plain masking; see
    :class:`~spinml.Sanitizer`); uploads saved without it were plain masking.

    ``save(dir)`` writes the upload folder (a manifest plus PNGs) atomically;
    ``load(dir)`` reads one back, refusing paths that leave the folder.
    """

    def __init__(
        self,
        images: list[SanitizedImage],
        classes: tuple[str, ...],
        policy: SharingPolicy,
        *,
        l0_shape: str = "mask",
    ) -> None:
        if l0_shape not in L0_SHAPES:
            raise ValueError(f"l0_shape: expected one of {L0_SHAPES}, got {l0_shape!r}")
        self.l0_shape = l0_shape
        self.images = list(images)
        self.classes = tuple(safe_name(c, what="class label") for c in classes)
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes {self.classes} name a class twice")
        ids = set()
        for im in self.images:
            if not isinstance(im, SanitizedImage):
                raise TypeError("SanitizedSet holds SanitizedImage objects")
            if im.id in ids:
                raise ValueError(f"image id {im.id!r} appears twice")
            ids.add(im.id)
            if im.label not in self.classes:
                raise ValueError(f"image {im.id}: class {im.label!r} is not in classes "
                                 f"{self.classes}")
            for obj in im.objects:
                if obj.level != policy[obj.label]:
                    raise ValueError(
                        f"image {im.id}: {obj.label!r} is at {obj.level.name}, "
                        f"the policy says {policy[obj.label].name}"
                    )
        self.policy = policy

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[SanitizedImage]:
        return iter(self.images)

    def __getitem__(self, index: int) -> SanitizedImage:
        return self.images[index]

    @property
    def scheme(self) -> str:
        return self.policy.scheme

    @property
    def objects(self) -> tuple[str, ...]:
        """Object labels present, in first-seen order."""
        return tuple(dict.fromkeys(o.label for im in self.images for o in im.objects))

    def shared(self, label: str) -> list[tuple[SanitizedImage, SharedObject]]:
        """Every ``(image, object)`` pair of object ``label``."""
        return [(im, o) for im in self.images for o in im.objects if o.label == label]

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write the upload folder: ``manifest.json`` and ``<id>/<object>_<part>.png``."""
        folder = Path(folder)
        with atomic_dir(folder, overwrite=overwrite, kind=_FORMAT) as tmp:
            entries = []
            for im in self.images:
                (tmp / safe_name(im.id, what="image id")).mkdir()
                objects = []
                for obj in im.objects:
                    entry: dict[str, Any] = {"label": obj.label, "level": obj.level.name}
                    parts = {"feature": obj.feature, "segment": obj.segment, "mask": obj.mask}
                    for part, array in parts.items():
                        if array is not None:
                            rel = f"{im.id}/{safe_name(f'{obj.label}_{part}.png')}"
                            (tmp / rel).write_bytes(encode_png(array))
                            entry[part] = rel
                    if obj.feature_kind is not None:
                        entry["feature_kind"] = obj.feature_kind
                    objects.append(entry)
                entries.append(
                    {"id": im.id, "class": im.label, "size": list(im.size), "objects": objects}
                )
            body = {"classes": list(self.classes), "policy": self.policy.to_dict(),
                    "l0_shape": self.l0_shape, "images": entries}
            write_manifest(tmp, _FORMAT, _VERSION, body)
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, max_pixels: int = MAX_UPLOAD_PIXELS) -> SanitizedSet:
        """Read an upload folder written by :meth:`save`, an untrusted input.

        Every manifest field is checked before any image is decoded: types,
        labels and ids (:func:`~spinml.policy.check_label`), class labels
        (:func:`~spinml.io.safe_name`, each listed in ``classes``), sizes, and
        paths (:func:`~spinml.io.safe_path`). The pixels the manifest's entries
        declare (height x width per image file) may sum to at most
        ``max_pixels``, and no file may hold more pixels than its entry's size,
        so at most ``max_pixels`` pixels are decoded however many entries name
        the same small file. Raises ``ValueError`` or ``FileNotFoundError``
        naming the manifest or the image file.
        """
        folder = Path(folder)
        data = read_manifest(folder, _FORMAT, (_VERSION,))
        manifest = folder / MANIFEST
        try:
            entries, classes, policy = _checked(data)
        except ValueError as err:
            raise ValueError(f"manifest {manifest}: {err}") from None
        declared = sum(h * w * len(parts) for _, _, (h, w), objects in entries
                       for _, _, parts, _ in objects)
        if declared > max_pixels:
            raise ValueError(f"manifest {manifest}: its images hold {declared} pixels, more "
                             f"than max_pixels={max_pixels} (SanitizedSet.load)")
        arrays = [[{key: _read(folder, manifest, rel, key, size) for key, rel in parts.items()}
                   for _, _, parts, _ in objects] for _, _, size, objects in entries]
        try:
            images = []
            for (image_id, label, size, objects), decoded in zip(entries, arrays, strict=True):
                shared = tuple(SharedObject(obj_label, level, feature_kind=kind, **parts)
                               for (obj_label, level, _, kind), parts
                               in zip(objects, decoded, strict=True))
                images.append(SanitizedImage(image_id, label, size, shared))
            return cls(images, classes, policy, l0_shape=data.get("l0_shape", "mask"))
        except ValueError as err:
            raise ValueError(f"manifest {manifest}: {err}") from None

    def __repr__(self) -> str:
        return f"SanitizedSet({len(self)} images, scheme={self.scheme}, policy='{self.policy}')"


def _field(entry: object, key: str, kind: type, where: str) -> Any:
    """``entry[key]``, refused unless ``entry`` is an object holding a ``kind`` there."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(entry).__name__}")
    if key not in entry:
        raise ValueError(f"{where} has no {key!r}")
    value = entry[key]
    if type(value) is not kind:
        raise ValueError(f"{where}.{key} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _checked(data: dict[str, Any]) -> tuple[list, tuple[str, ...], SharingPolicy]:
    """The manifest's entries as ``(id, class, (h, w), [(label, level, parts,
    feature_kind)])``, its classes and policy; ``ValueError`` for any bad field."""
    classes = tuple(safe_name(c, what="class label")
                    for c in _field(data, "classes", list, "the manifest"))
    policy = SharingPolicy.from_dict(_field(data, "policy", dict, "the manifest"))
    entries = []
    for i, entry in enumerate(_field(data, "images", list, "the manifest")):
        where = f"images[{i}]"
        image_id = check_label(_field(entry, "id", str, where), what=f"{where}.id")
        label = _field(entry, "class", str, where)
        if label not in classes:
            raise ValueError(f"{where}: class {label!r} is not in classes {classes}")
        size = _field(entry, "size", list, where)
        if len(size) != 2 or any(type(v) is not int or not 1 <= v <= _MAX_SIDE for v in size):
            raise ValueError(f"{where}.size must be [height, width] of integers in "
                             f"[1, {_MAX_SIDE}], got {size!r}")
        objects = []
        for j, obj in enumerate(_field(entry, "objects", list, where)):
            at = f"{where}.objects[{j}]"
            obj_label = check_label(_field(obj, "label", str, at), what=f"{at}.label")
            level = Level.parse(_field(obj, "level", str, at), name=f"{at}.level")
            parts = {key: _field(obj, key, str, at) for key in _READERS if key in obj}
            kind = _field(obj, "feature_kind", str, at) if "feature_kind" in obj else None
            objects.append((obj_label, level, parts, kind))
        entries.append((image_id, label, (size[0], size[1]), objects))
    return entries, classes, policy


def _read(folder: Path, manifest: Path, rel: str, part: str, size: tuple[int, int]
          ) -> np.ndarray:
    """Decode one part of an upload; a file larger than its entry's ``size`` is refused
    before decoding."""
    path = safe_path(folder, rel, manifest=manifest)
    try:
        return _READERS[part](path, max_pixels=size[0] * size[1])
    except ImageTooLargeError:
        raise ValueError(f"image {path} holds more pixels than its manifest entry's size "
                         f"{size[0]}x{size[1]} ({manifest})") from None


def require_sanitized(data: object, *, argument: str = "data") -> SanitizedSet:
    """Return ``data`` if it is a :class:`SanitizedSet`; refuse anything else.

    This is the device boundary: server-side code never sees raw pixels.
    """
    if isinstance(data, SanitizedSet):
        return data
    if isinstance(data, ReferenceSet):
        raise TypeError(
            f"{argument}: got a ReferenceSet (the user's raw private images). Server-side code "
            "takes only what may leave the device: run Sanitizer().sanitize(references, policy) "
            "and pass the SanitizedSet it returns."
        )
    raise TypeError(f"{argument}: expected a SanitizedSet, got {type(data).__name__}")
