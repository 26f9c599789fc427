"""SIM: SpinML's embedding similarity between synthetic and real images."""

from __future__ import annotations

import numpy as np

from spinml.evaluate.encoder import ImageEncoder

__all__ = ["similarity", "mean_cosine"]


def similarity(synthetic: np.ndarray, real: np.ndarray,
               encoder: ImageEncoder | None = None) -> float:
    """``SIM = 1 / (N M) * sum_i sum_j cos(e(s_i), e(r_j))``: the mean of the full
    synthetic x real cosine matrix of image embeddings (uint8 ``(N, H, W, 3)`` inputs).

    ``encoder=None`` uses the bundled zoo encoder.
    """
    if len(synthetic) == 0 or len(real) == 0:
        raise ValueError("similarity needs at least one synthetic and one real image")
    encoder = encoder or ImageEncoder()
    return mean_cosine(encoder.embed(synthetic), encoder.embed(real))


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """``1 / (N M) sum_ij <a_i, b_j>`` of unit rows, computed as ``mean(a) . mean(b)``."""
    return float(a.mean(0) @ b.mean(0))
