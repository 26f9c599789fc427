"""Nearest-neighbour memorisation distance, membership-inference AUC and TPR at low FPR."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from spinml.evaluate.distances import features, nearest_distances
from spinml.evaluate.encoder import ImageEncoder

__all__ = ["memorisation_distance", "membership_auc", "membership_auc_of_rows",
           "membership_tpr_of_rows", "tpr_at_fpr"]


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


def _scores(members: np.ndarray, nonmembers: np.ndarray,
            synthetic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.concatenate([-nearest_distances(members, synthetic),
                             -nearest_distances(nonmembers, synthetic)])
    return np.r_[np.ones(len(members)), np.zeros(len(nonmembers))], scores


def membership_auc_of_rows(members: np.ndarray, nonmembers: np.ndarray,
                           synthetic: np.ndarray) -> float:
    """:func:`membership_auc` on feature rows (see :func:`~spinml.evaluate.features`)."""
    return float(roc_auc_score(*_scores(members, nonmembers, synthetic)))


def tpr_at_fpr(truth: np.ndarray, scores: np.ndarray, fpr: float = 0.01) -> float:
    """The attack's true-positive rate at false-positive rate ``fpr``: the largest
    TPR over the ROC's thresholds whose FPR is at most ``fpr`` (the convention of
    LiRA, Carlini et al. 2022, and ml_privacy_meter). With ``n`` non-members the
    smallest FPR above 0 is ``1/n``: at 1 % it needs >= 100 non-members to be
    more than the TPR at FPR 0."""
    if not 0 <= fpr <= 1:
        raise ValueError(f"fpr must be in [0, 1], got {fpr!r}")
    false_positive, true_positive, _ = roc_curve(truth, scores)
    return float(true_positive[false_positive <= fpr].max())


def membership_tpr_of_rows(members: np.ndarray, nonmembers: np.ndarray, synthetic: np.ndarray,
                           fpr: float = 0.01) -> float:
    """:func:`tpr_at_fpr` of the distance-to-synthetic attack of :func:`membership_auc`."""
    return tpr_at_fpr(*_scores(members, nonmembers, synthetic), fpr=fpr)
