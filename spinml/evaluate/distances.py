"""Feature spaces and nearest-neighbour distances shared by SIM, memorisation and MIA."""

from __future__ import annotations

import numpy as np

from spinml.evaluate.encoder import ImageEncoder

__all__ = ["features", "nearest_distances"]


def features(images: np.ndarray, encoder: ImageEncoder | None = None) -> np.ndarray:
    """Rows to compare, ``(N, D)`` float32.

    Pixel space (``encoder=None``): ``x / 255 / sqrt(H W C)``, so the Euclidean
    distance of two rows is the RMS pixel difference in [0, 1] units.
    Encoder space: unit embeddings, so ``||a - b||^2 / 2 = 1 - cos(a, b)``.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be (N, H, W, C), got {images.shape}")
    if encoder is not None:
        return encoder.embed(images)
    flat = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return flat / np.sqrt(flat.shape[1])


def nearest_distances(queries: np.ndarray, references: np.ndarray,
                      chunk: int = 1024) -> np.ndarray:
    """``d_i = min_j ||q_i - r_j||_2`` for feature rows; ``(N,)`` float64."""
    if len(references) == 0:
        raise ValueError("nearest_distances needs at least one reference row")
    if queries.shape[1:] != references.shape[1:]:
        raise ValueError(f"query rows {queries.shape[1:]} and reference rows "
                         f"{references.shape[1:]} differ: compare images of one size")
    r = references.astype(np.float64)
    r2 = (r * r).sum(1)
    out = np.empty(len(queries))
    for i in range(0, len(queries), chunk):
        q = queries[i:i + chunk].astype(np.float64)
        d2 = (q * q).sum(1)[:, None] + r2[None, :] - 2.0 * q @ r.T
        out[i:i + chunk] = np.sqrt(np.maximum(d2.min(1), 0.0))
    return out
