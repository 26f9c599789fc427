"""Edge agreement: how well an image follows a conditioning edge map (ControlNet)."""

from __future__ import annotations

import cv2
import numpy as np

from spinml import checks

__all__ = ["edge_f1"]


def edge_f1(reference: np.ndarray, edges: np.ndarray, tolerance: int = 1) -> float:
    """F1 of edge map ``edges`` against ``reference`` (both ``H x W``, non-zero = edge).

    An edge pixel matches when the other map has an edge within ``tolerance``
    pixels (Chebyshev distance, a ``(2t+1)^2`` square), as edge benchmarks allow
    for one-pixel shifts:

        P = |E ∩ dilate(R)| / |E|,  R_c = |R ∩ dilate(E)| / |R|,  F1 = 2 P R_c / (P + R_c).

    Two empty maps agree (1.0); one empty map against a non-empty one gives 0.
    """
    reference, edges = np.asarray(reference) > 0, np.asarray(edges) > 0
    if reference.shape != edges.shape:
        raise ValueError(f"edge maps differ in size: {reference.shape} and {edges.shape}")
    checks.non_negative_number(tolerance, "tolerance")
    if not reference.any() and not edges.any():
        return 1.0
    if not reference.any() or not edges.any():
        return 0.0
    kernel = np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)
    near_reference = cv2.dilate(reference.astype(np.uint8), kernel) > 0
    near_edges = cv2.dilate(edges.astype(np.uint8), kernel) > 0
    precision = (edges & near_reference).sum() / edges.sum()
    recall = (reference & near_edges).sum() / reference.sum()
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))
