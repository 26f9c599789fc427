"""Safe reading and writing of images and masks.

Every reader names the file in its error and refuses images whose declared size
exceeds :data:`MAX_PIXELS` before decoding them (decompression bombs). Files are
read as a viewer shows them:

- only the formats of :data:`FORMATS` are opened (no EPS, which runs Ghostscript,
  nor any other of Pillow's many decoders);
- the EXIF orientation tag is applied (``ImageOps.exif_transpose``), to images
  and masks alike, as viewers and ``cv2.imread`` do;
- 16-bit grey pixels ``v`` in [0, 65535] become ``round(v / 257)`` in [0, 255]
  (Pillow's own conversion clips them at 255: a 16-bit photo would be white);
- a mask with an alpha channel that is not fully opaque (a cut-out) is read from
  its alpha channel, whatever its RGB values.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "MAX_PIXELS", "FORMATS", "ImageTooLargeError", "read_image", "read_grey", "read_mask",
    "read_mask_levels", "encode_png", "to_rgb",
]

MAX_PIXELS = 64 * 1024 * 1024
"""Largest image (width x height, in pixels) any reader decodes."""

FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP")
"""The only formats the readers open (Pillow format names; JPEG includes MPO)."""

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class ImageTooLargeError(ValueError):
    """An image declares more pixels than :data:`MAX_PIXELS`."""


def _open(path: Path, max_pixels: int) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist")
    try:
        with Image.open(path, formats=FORMATS) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise ImageTooLargeError(
                    f"image {path} declares {width}x{height} pixels, more than the "
                    f"{max_pixels} this reader decodes safely"
                )
            im.load()
            return ImageOps.exif_transpose(im)
    except ImageTooLargeError:
        raise
    except UnidentifiedImageError:
        raise ValueError(
            f"image {path} is corrupt or truncated, or not one of the formats read here: "
            f"{', '.join(FORMATS)}"
        ) from None
    except (OSError, SyntaxError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"image {path} is corrupt or truncated: {err}") from None
    except Image.DecompressionBombError as err:
        raise ImageTooLargeError(f"image {path}: {err}") from None


def _eight_bit(im: Image.Image, path: Path) -> Image.Image:
    """``im`` with 16-bit grey scaled to 8 bits; other modes as they are."""
    if im.mode in _SIXTEEN_BIT:
        values = np.asarray(im, dtype=np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(f"image {path}: {im.mode} pixels outside the 16-bit range")
        return Image.fromarray(((values + 128) // 257).astype(np.uint8))
    if im.mode == "F":
        raise ValueError(f"image {path}: floating-point pixels are not read; save 8 or 16 bit")
    return im


def to_rgb(array: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Return ``array`` as an ``H x W x 3`` uint8 RGB array (grey is repeated)."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"{name}: expected uint8 pixels, got {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3 or 0 in array.shape:
        raise ValueError(f"{name}: expected an H x W x 3 RGB array, got shape {array.shape}")
    return np.ascontiguousarray(array)


def read_image(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file to an ``H x W x 3`` uint8 RGB array."""
    with _open(Path(path), max_pixels) as im:
        return np.asarray(_eight_bit(im, Path(path)).convert("RGB"), dtype=np.uint8).copy()


def read_grey(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file to an ``H x W`` uint8 grey array."""
    with _open(Path(path), max_pixels) as im:
        return np.asarray(_eight_bit(im, Path(path)).convert("L"), dtype=np.uint8).copy()


def read_mask_levels(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode a mask file to ``H x W`` uint8 coverage levels (0: outside, 255: inside).

    The levels are the alpha channel when the file has one that is not fully
    opaque (a cut-out), else the grey values. Soft (anti-aliased) masks keep
    their intermediate levels: :class:`~spinml.data.Segment` decides what they mean.
    """
    path = Path(path)
    with _open(path, max_pixels) as im:
        if "A" in im.getbands() or "a" in im.getbands() or "transparency" in im.info:
            alpha = np.asarray(im.convert("RGBA").getchannel("A"), dtype=np.uint8)
            if (alpha < 255).any():
                return alpha.copy()
        return np.asarray(_eight_bit(im, path).convert("L"), dtype=np.uint8).copy()


def read_mask(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode a mask file to an ``H x W`` boolean array: level > 127 of
    :func:`read_mask_levels` is inside."""
    return read_mask_levels(path, max_pixels=max_pixels) > 127


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of a uint8 grey/RGB array or a boolean mask (stored as 0/255)."""
    array = np.asarray(array)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.dtype != np.uint8:
        raise ValueError(f"encode_png: expected uint8 or bool, got {array.dtype}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()
