"""SpinML's MI privacy metric: histogram mutual information between images.

Definitions follow the SpinML artifact: images are letter-boxed onto a black
512 x 512 canvas, flattened over their 3 RGB channels, and the mutual
information is the plug-in estimate from the 2-D histogram of
``numpy.histogram2d(a, b, bins=256)`` (edges from each input's own min to max),
in nats.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["letterbox", "mutual_information", "normalized_mutual_information", "entropy"]

_RESAMPLE = {"lanczos": Image.LANCZOS, "nearest": Image.NEAREST, "bilinear": Image.BILINEAR}


def letterbox(image: np.ndarray, size: int = 512, *, resample: str = "lanczos") -> np.ndarray:
    """Scale ``image`` by ``s = min(size / H, size / W)`` to ``int(W s) x int(H s)`` px
    (aspect kept) and paste it at ``((size - w) // 2, (size - h) // 2)`` on a black
    ``size x size`` canvas: the SpinML artifact's preprocessing, Lanczos resampling
    included. Grey (``H x W``) images stay grey.

    ``resample="nearest"`` keeps pixel values unchanged instead.
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3) or 0 in image.shape[:2] or image.dtype != np.uint8:
        raise ValueError(f"letterbox: expected an H x W (x 3) uint8 image, got {image.shape} "
                         f"{image.dtype}")
    if size < 1:
        raise ValueError(f"letterbox: size must be >= 1, got {size}")
    if resample not in _RESAMPLE:
        raise ValueError(f"letterbox: resample must be one of {sorted(_RESAMPLE)}")
    h, w = image.shape[:2]
    scale = min(size / h, size / w)
    nh, nw = max(1, int(h * scale)), max(1, int(w * scale))
    if (nh, nw) != (h, w):
        image = np.asarray(Image.fromarray(image).resize((nw, nh), _RESAMPLE[resample]))
    canvas = np.zeros((size, size, *image.shape[2:]), dtype=np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    canvas[top:top + nh, left:left + nw] = image
    return canvas


def _edges(lo: float, hi: float, bins: int) -> np.ndarray:
    """``np.histogram2d``'s bin edges for data in ``[lo, hi]``."""
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def _bin_of(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index (0 .. bins-1) of each value, as ``np.histogram2d`` bins it:
    right-open bins except the last, which is closed."""
    idx = np.searchsorted(edges, values, side="right") - 1
    idx[values == edges[-1]] -= 1
    return idx


def _joint_counts(a: np.ndarray, b: np.ndarray, bins: int) -> np.ndarray:
    """The ``bins x bins`` histogram of ``np.histogram2d(a.ravel(), b.ravel(), bins)``.

    For uint8 inputs the 256 x 256 histogram of raw value pairs is counted with
    one ``np.bincount`` over ``(a << 8) | b``; min, max and the binning then
    act on that small table, never on the pixels again.
    """
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    if a.size != b.size:
        raise ValueError(f"mutual_information: inputs have {a.size} and {b.size} values")
    if a.size == 0:
        raise ValueError("mutual_information: inputs are empty")
    if bins < 1:
        raise ValueError(f"mutual_information: bins must be >= 1, got {bins}")
    if a.dtype == np.uint8 and b.dtype == np.uint8:
        raw = np.bincount((a.astype(np.uint16) << 8) | b, minlength=65536).reshape(256, 256)
        rows, cols = np.flatnonzero(raw.any(axis=1)), np.flatnonzero(raw.any(axis=0))
        values = np.arange(256)
        bin_a = _bin_of(values, _edges(rows[0], rows[-1], bins))
        bin_b = _bin_of(values, _edges(cols[0], cols[-1], bins))
        rows_in, cols_in = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
        target = bin_a[rows_in, None] * bins + bin_b[None, cols_in]
        weights = raw[rows_in, cols_in].astype(np.float64)
        counts = np.bincount(target.ravel(), weights.ravel(), minlength=bins * bins)
        return counts.reshape(bins, bins)
    ia = _bin_of(a, _edges(a.min(), a.max(), bins))
    ib = _bin_of(b, _edges(b.min(), b.max(), bins))
    return np.bincount(ia * bins + ib, minlength=bins * bins).reshape(bins, bins).astype(float)


def _mi_from_counts(counts: np.ndarray) -> float:
    n = counts.sum()
    p_a = counts.sum(axis=1) / n
    p_b = counts.sum(axis=0) / n
    i, j = np.nonzero(counts)
    p = counts[i, j] / n
    return float(np.sum(p * np.log(p / (p_a[i] * p_b[j]))))


def mutual_information(a: np.ndarray, b: np.ndarray, bins: int = 256) -> float:
    """Plug-in mutual information of two equally sized arrays, in nats.

    ``MI(a, b) = sum_ij p_ij * log(p_ij / (p_i * p_j))`` over non-empty bins,
    where ``p_ij`` is the normalised ``np.histogram2d(a.ravel(), b.ravel(),
    bins)`` and ``p_i``, ``p_j`` its marginals. ``MI(a, a)`` is the entropy of
    ``a``'s histogram. Bin edges are exactly numpy's; uint8 inputs cost one
    ``np.bincount`` over the pixels.
    """
    return _mi_from_counts(_joint_counts(a, b, bins))


def entropy(a: np.ndarray, bins: int = 256) -> float:
    """Histogram entropy ``H(a) = -sum_i p_i log p_i`` in nats, computed as ``MI(a, a)``."""
    return mutual_information(a, a, bins)


def normalized_mutual_information(
    shared: np.ndarray, raw: np.ndarray, reference: np.ndarray | None = None, bins: int = 256
) -> float:
    """The paper's MI leakage: ``MI(shared, raw) / MI(reference, reference)``.

    ``reference`` defaults to ``raw``. SpinML measures an object's upload
    against the object's raw segment and normalises by the entropy of the
    whole raw image: ``MI(shared, segment) / H(image)`` (for ``L2`` the shared
    representation is the segment itself, so this is ``H(segment) / H(image)``).
    Returns 0 when the reference has zero entropy.
    """
    denominator = entropy(raw if reference is None else reference, bins)
    if denominator == 0.0:
        return 0.0
    return mutual_information(shared, raw, bins) / denominator
