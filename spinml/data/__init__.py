"""Data containers, folder I/O and the bundled data sets."""

from spinml.data import miniworld
from spinml.data.bundled import digits, photos
from spinml.data.folder import load_folder
from spinml.data.imageio import ImageTooLargeError, read_image, read_mask, read_mask_levels
from spinml.data.references import (
    BACKGROUND,
    ReferenceImage,
    ReferenceSet,
    Segment,
    merge_segments,
)
from spinml.data.sanitized import SanitizedImage, SanitizedSet, SharedObject, require_sanitized
from spinml.data.synthetic import SyntheticImage, SyntheticSet

__all__ = [
    "BACKGROUND",
    "Segment",
    "merge_segments",
    "ReferenceImage",
    "ReferenceSet",
    "SharedObject",
    "SanitizedImage",
    "SanitizedSet",
    "require_sanitized",
    "SyntheticImage",
    "SyntheticSet",
    "load_folder",
    "miniworld",
    "digits",
    "photos",
    "read_image",
    "read_mask",
    "read_mask_levels",
    "ImageTooLargeError",
]
