"""Memorisation distance, membership AUC and TPR at low FPR against direct computations."""

import numpy as np
import pytest

from spinml.evaluate import (
    membership_auc,
    memorisation_distance,
)
from spinml.evaluate.memorisation import tpr_at_fpr
from tests.evaluate.test_distances import images


def test_pixel_memorisation_is_the_rms_difference_to_the_closest_reference():
    synthetic, refs = images(1, 3), images(2, 5)
    direct = np.mean([min(np.sqrt(np.mean((s / 255.0 - r / 255.0) ** 2)) for r in refs)
                      for s in synthetic])
    assert memorisation_distance(synthetic, refs) == pytest.approx(direct, rel=1e-6)
    assert memorisation_distance(refs[:2], refs) == pytest.approx(0.0, abs=1e-6)


def test_membership_auc_separates_copied_members_and_is_chance_for_strangers(encoder):
    members, others = images(5, 8), images(6, 8)
    assert membership_auc(members, others, members.copy()) == 1.0
    assert membership_auc(members, others, others.copy()) == 0.0
    strangers = images(7, 8)
    assert 0.2 < membership_auc(members, others, strangers, encoder) < 0.8


def test_tpr_at_low_fpr():
    truth = np.r_[np.ones(10), np.zeros(200)]
    scores = np.r_[np.arange(10) + 100.0, np.arange(200.0) - 500.0]
    scores[10:12] = 1000.0  # two non-members above every member: FPR 1 % at the top
    assert tpr_at_fpr(truth, scores, 0.01) == 1.0
    assert tpr_at_fpr(truth, scores, 0.0) == 0.0
    with pytest.raises(ValueError, match="fpr"):
        tpr_at_fpr(truth, scores, 2.0)
