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

from spinml.data.imageio import encode_png, read_grey, read_image, read_mask, to_rgb
from spinml.data.references import ReferenceSet
from spinml.image import L0_SHAPES
from spinml.io import atomic_dir, read_manifest, safe_path, write_manifest
from spinml.policy import Level, SharingPolicy, check_label

__all__ = ["SharedObject", "SanitizedImage", "SanitizedSet", "require_sanitized"]

_FORMAT = "spinml.sanitized"
_VERSION = 1


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
        for im in self.images:
            if not isinstance(im, SanitizedImage):
                raise TypeError("SanitizedSet holds SanitizedImage objects")
            for obj in im.objects:
                if obj.level != policy[obj.label]:
                    raise ValueError(
                        f"image {im.id}: {obj.label!r} is at {obj.level.name}, "
                        f"the policy says {policy[obj.label].name}"
                    )
        self.classes = tuple(classes)
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
        with atomic_dir(folder, overwrite=overwrite) as tmp:
            entries = []
            for im in self.images:
                (tmp / im.id).mkdir()
                objects = []
                for obj in im.objects:
                    entry: dict[str, Any] = {"label": obj.label, "level": obj.level.name}
                    parts = {"feature": obj.feature, "segment": obj.segment, "mask": obj.mask}
                    for part, array in parts.items():
                        if array is not None:
                            rel = f"{im.id}/{obj.label}_{part}.png"
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
    def load(cls, folder: str | Path) -> SanitizedSet:
        """Read an upload folder written by :meth:`save`."""
        folder = Path(folder)
        data = read_manifest(folder, _FORMAT, (_VERSION,))
        manifest = folder / "manifest.json"
        try:
            policy = SharingPolicy.from_dict(data["policy"])
            images = []
            for entry in data["images"]:
                objects = []
                for obj in entry["objects"]:
                    def part(key: str, reader, obj=obj):
                        if key not in obj:
                            return None
                        return reader(safe_path(folder, obj[key], manifest=manifest))

                    objects.append(SharedObject(
                        label=obj["label"], level=Level.parse(obj["level"]),
                        feature=part("feature", read_grey),
                        feature_kind=obj.get("feature_kind"), segment=part("segment", read_image),
                        mask=part("mask", read_mask),
                    ))
                images.append(SanitizedImage(entry["id"], entry["class"], tuple(entry["size"]),
                                             tuple(objects)))
            return cls(images, tuple(data["classes"]), policy,
                       l0_shape=data.get("l0_shape", "mask"))
        except (KeyError, TypeError) as err:
            raise ValueError(f"manifest {manifest} is missing or has a bad entry: {err}") from None

    def __repr__(self) -> str:
        return f"SanitizedSet({len(self)} images, scheme={self.scheme}, policy='{self.policy}')"


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
