"""Safe reading and writing of images and masks.

Every reader names the file in its error and refuses images whose declared size
exceeds :data:`MAX_PIXELS` before decoding them (decompression bombs).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = [
    "MAX_PIXELS", "ImageTooLargeError", "read_image", "read_grey", "read_mask", "encode_png",
    "to_rgb",
]

MAX_PIXELS = 64 * 1024 * 1024
"""Largest image (width x height, in pixels) any reader decodes."""


class ImageTooLargeError(ValueError):
    """An image declares more pixels than :data:`MAX_PIXELS`."""


def _open(path: Path, max_pixels: int) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file {path} does not exist")
    try:
        with Image.open(path) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise ImageTooLargeError(
                    f"image {path} declares {width}x{height} pixels, more than the "
                    f"{max_pixels} this reader decodes safely"
                )
            im.load()
            return im.copy()
    except ImageTooLargeError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"image {path} is corrupt or truncated: {err}") from None
    except Image.DecompressionBombError as err:
        raise ImageTooLargeError(f"image {path}: {err}") from None


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
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def read_grey(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image file to an ``H x W`` uint8 grey array."""
    with _open(Path(path), max_pixels) as im:
        return np.asarray(im.convert("L"), dtype=np.uint8).copy()


def read_mask(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode a mask file to an ``H x W`` boolean array (grey value > 127 is inside)."""
    with _open(Path(path), max_pixels) as im:
        return np.asarray(im.convert("L"), dtype=np.uint8) > 127


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
