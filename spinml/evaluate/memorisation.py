"""Nearest-neighbour memorisation distance and membership-inference AUC."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from spinml.evaluate.distances import features, nearest_distances
from spinml.evaluate.encoder import ImageEncoder

__all__ = ["memorisation_distance", "membership_auc", "membership_auc_of_rows"]


def memorisation_distance(synthetic: np.ndarray, references: np.ndarray,
                          encoder: ImageEncoder | None = None) -> float:
    """``D = 1/N sum_i min_j d(s_i, r_j)``: the mean distance from each synthetic
    image to its closest reference image (small = memorised).

    ``d`` is the RMS pixel difference in [0, 1] units (``encoder=None``) or the
    Euclidean distance of unit embeddings, ``sqrt(2 - 2 cos)``.
    """
    return float(nearest_distances(features(synthetic, encoder),
                                   features(references, encoder)).mean())


def membership_auc(members: np.ndarray, nonmembers: np.ndarray, synthetic: np.ndarray,
                   encoder: ImageEncoder | None = None) -> float:
    """Distance-to-synthetic membership inference.

    Each real image ``x`` scores ``-min_j d(x, s_j)``; the AUC is
    ``P(score(member) > score(non-member)) + P(tie) / 2`` (Mann-Whitney), with
    the user's reference images as members and held-out real images as
    non-members. 0.5 means the synthetic set does not tell them apart.
    """
    if len(members) == 0 or len(nonmembers) == 0:
        raise ValueError("membership_auc needs at least one member and one non-member")
    return membership_auc_of_rows(features(members, encoder), features(nonmembers, encoder),
                                  features(synthetic, encoder))


def membership_auc_of_rows(members: np.ndarray, nonmembers: np.ndarray,
                           synthetic: np.ndarray) -> float:
    """:func:`membership_auc` on feature rows (see :func:`~spinml.evaluate.features`)."""
    scores = np.concatenate([-nearest_distances(members, synthetic),
                             -nearest_distances(nonmembers, synthetic)])
    truth = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
    return float(roc_auc_score(truth, scores))
