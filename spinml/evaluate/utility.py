"""Utility of the specialised model on the user's real test images."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

__all__ = ["utility_metrics"]


def utility_metrics(predicted: np.ndarray, truth: np.ndarray,
                    classes: tuple[str, ...]) -> dict[str, float]:
    """``accuracy = 1/N sum_i [p_i = y_i]``; ``macro_f1`` = the unweighted mean over
    classes of ``2 P_c R_c / (P_c + R_c)``; ``accuracy/<c>`` = the recall of class ``c``
    (NaN for a class absent from the test set). Labels are indices into ``classes``.
    """
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    if predicted.shape != truth.shape or not len(truth):
        raise ValueError(f"predictions {predicted.shape} and labels {truth.shape} must be "
                         "non-empty and of one shape")
    out = {"accuracy": float((predicted == truth).mean()),
           "macro_f1": float(f1_score(truth, predicted, labels=range(len(classes)),
                                      average="macro", zero_division=0))}
    for k, name in enumerate(classes):
        rows = truth == k
        out[f"accuracy/{name}"] = float((predicted[rows] == k).mean()) if rows.any() else np.nan
    return out
