"""utility_metrics against counts made by hand."""

import numpy as np
import pytest

from spinml.evaluate.utility import utility_metrics


def test_accuracy_macro_f1_and_per_class_recall():
    truth = np.array([0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0])
    out = utility_metrics(predicted, truth, ("a", "b", "c", "d"))
    assert out["accuracy"] == pytest.approx(3 / 5)
    # F1 per class: a: P = 1/2, R = 1/2 -> 1/2; b: P = 2/3, R = 1 -> 4/5; c: 0; d: absent -> 0
    assert out["macro_f1"] == pytest.approx((0.5 + 0.8 + 0 + 0) / 4)
    assert (out["accuracy/a"], out["accuracy/b"], out["accuracy/c"]) == (0.5, 1.0, 0.0)
    assert np.isnan(out["accuracy/d"])
    assert list(out) == ["accuracy", "macro_f1", "accuracy/a", "accuracy/b", "accuracy/c",
                         "accuracy/d"]


def test_perfect_predictions_and_refused_shapes():
    truth = np.array([2, 0, 1])
    out = utility_metrics(truth, truth, ("x", "y", "z"))
    assert out["accuracy"] == out["macro_f1"] == 1.0
    with pytest.raises(ValueError, match="one shape"):
        utility_metrics(np.array([0, 1]), truth, ("x", "y", "z"))
    with pytest.raises(ValueError, match="non-empty"):
        utility_metrics(np.array([]), np.array([]), ("x",))
