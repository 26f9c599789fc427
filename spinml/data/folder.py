"""Read reference images from folders on disk.

Two layouts are understood:

1. The SpinML artifact layout::

       <root>/real/raw/<class>/<name>.<ext>
       <root>/real/raw_split/mask/<class>/<name>.<ext>        (binary mask of the target)
       <root>/real/raw_split/{foreground,background}/...      (not needed: derived)

   ``<root>`` may also be the ``real`` folder itself. The mask gives the
   ``target`` segment; the background is the rest of the image.

2. A plain layout::

       <root>/images/<class>/<name>.<ext>
       <root>/masks/<class>/<name>/<object>.png                (one mask per object)

Every image must have its masks; nothing is silently skipped: a file that is
not an image (by its suffix) is refused, hidden files (``.name``) aside. Images
and masks are read as a viewer shows them (:mod:`spinml.data.imageio`: EXIF
orientation applied, 16-bit scaled, masks from the alpha channel of a
cut-out); a soft mask keeps its coverage levels (:class:`Segment`).
"""

from __future__ import annotations

from pathlib import Path

from spinml.data.imageio import MAX_PIXELS, read_image, read_mask_levels
from spinml.data.references import ReferenceImage, ReferenceSet, Segment

__all__ = ["load_folder", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def _files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    for path in files:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(
                f"{path} is not an image file: expected one of {', '.join(IMAGE_SUFFIXES)}")
    return files


def _class_dirs(folder: Path) -> list[Path]:
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ValueError(f"{folder} has no class folders (expected {folder}/<class>/<image>)")
    return classes


def _by_stem(folder: Path, stem: str) -> Path:
    matches = [p for p in _files(folder) if p.stem == stem] if folder.is_dir() else []
    if len(matches) != 1:
        raise FileNotFoundError(
            f"expected one mask named {stem}.* in {folder}, found {len(matches)}")
    return matches[0]


def _artifact(real: Path, max_pixels: int) -> ReferenceSet:
    raw, masks = real / "raw", real / "raw_split" / "mask"
    images = []
    class_dirs = _class_dirs(raw)
    for class_dir in class_dirs:
        for path in _files(class_dir):
            image = read_image(path, max_pixels=max_pixels)
            mask_path = _by_stem(masks / class_dir.name, path.stem)
            try:
                segment = Segment("target", read_mask_levels(mask_path, max_pixels=max_pixels))
                images.append(ReferenceImage(image, class_dir.name, (segment,), str(path)))
            except ValueError as err:
                raise ValueError(f"{err} (mask file {mask_path})") from None
    return ReferenceSet(images, classes=tuple(d.name for d in class_dirs))


def _plain(root: Path, max_pixels: int) -> ReferenceSet:
    images = []
    class_dirs = _class_dirs(root / "images")
    for class_dir in class_dirs:
        for path in _files(class_dir):
            image = read_image(path, max_pixels=max_pixels)
            mask_dir = root / "masks" / class_dir.name / path.stem
            mask_files = _files(mask_dir) if mask_dir.is_dir() else []
            if not mask_files:
                raise FileNotFoundError(
                    f"image {path} has no masks: expected {mask_dir}/<object>.png")
            segments = []
            try:
                for mask_path in mask_files:
                    mask = read_mask_levels(mask_path, max_pixels=max_pixels)
                    segments.append(Segment(mask_path.stem, mask))
                images.append(ReferenceImage(image, class_dir.name, tuple(segments), str(path)))
            except ValueError as err:
                raise ValueError(f"{err} (masks in {mask_dir})") from None
    return ReferenceSet(images, classes=tuple(d.name for d in class_dirs))


def load_folder(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> ReferenceSet:
    """Load a :class:`ReferenceSet` from the artifact layout or the plain layout.

    Raises ``FileNotFoundError`` naming the missing folder or mask, and
    ``ValueError`` naming the file for corrupt images, masks of the wrong size,
    empty masks or images larger than ``max_pixels``.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist")
    if (root / "real" / "raw").is_dir():
        return _artifact(root / "real", max_pixels)
    if (root / "raw").is_dir() and (root / "raw_split").is_dir():
        return _artifact(root, max_pixels)
    if (root / "images").is_dir():
        return _plain(root, max_pixels)
    raise FileNotFoundError(
        f"{root} is neither the SpinML artifact layout (real/raw, real/raw_split/mask) "
        "nor the plain layout (images/<class>/..., masks/<class>/<name>/<object>.png)"
    )
