"""Paired differences over (user, seed) pairs."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spinml.evaluate.paired import minimum_detectable_difference, paired_difference, paired_table


def test_interval_is_the_paired_t_interval():
    rng = np.random.default_rng(0)
    a = rng.normal(0.7, 0.05, 15)
    b = a - 0.02 + rng.normal(0, 0.01, 15)
    diff = paired_difference(a, b)
    low, high = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert diff.n == 15
    assert diff.low == pytest.approx(low) and diff.high == pytest.approx(high)
    assert diff.half_width == pytest.approx((high - low) / 2)
    assert diff.mean == pytest.approx(np.mean(a - b))


def test_one_pair_gives_nan_never_zero():
    diff = paired_difference([0.8], [0.7])
    assert diff.mean == pytest.approx(0.1)
    assert math.isnan(diff.low) and math.isnan(diff.high) and math.isnan(diff.half_width)
    assert math.isnan(diff.mdd) and math.isnan(minimum_detectable_difference(0.1, 1))


def test_mdd_is_the_80_percent_power_difference():
    sd, n = 0.04, 15
    mdd = minimum_detectable_difference(sd, n)
    # a true difference of mdd is found by the two-sided 5 % t-test with ~80 % power
    shift = mdd / (sd / math.sqrt(n))
    power = 1 - stats.nct.cdf(stats.t.ppf(0.975, n - 1), n - 1, shift)
    assert power == pytest.approx(0.8, abs=0.02)


def test_table_pairs_arms_by_user_and_seed():
    runs = pd.DataFrame(
        [("L0_L0", u, s, 0.6 + 0.01 * u) for u in range(3) for s in range(2)]
        + [("L2_L2", u, s, 0.65 + 0.01 * u + 0.001 * s) for u in range(3) for s in range(2)]
        + [("public", 0, 0, 0.5)],
        columns=["arm", "user", "seed", "accuracy"])
    table = paired_table(runs).set_index("arm")
    assert list(table.index) == ["L0_L0", "L2_L2", "public"]
    assert table.loc["L2_L2", "diff_vs_L0_L0"] == pytest.approx(0.0505)
    assert table.loc["L2_L2", "half_width_vs_L0_L0"] < 0.001
    assert table.loc["L2_L2", "pairs"] == 6
    assert table.loc["L2_L2", "diff_vs_public"] == pytest.approx(0.15)
    assert math.isnan(table.loc["L2_L2", "half_width_vs_public"])  # one common pair
    with pytest.raises(ValueError, match="more than one"):
        paired_table(pd.concat([runs, runs.iloc[:1]]))



def test_clustered_interval_is_over_users_each_the_mean_of_its_seeds():
    # user 1's seeds disagree; the users' means (0.05, 0.10, 0.03) give the interval
    diffs = {(0, 0): 0.05, (0, 1): 0.05, (1, 0): 0.0, (1, 1): 0.2, (2, 0): 0.03, (2, 1): 0.03}
    runs = pd.DataFrame([("L0_L0", u, s, 0.5) for u, s in diffs]
                        + [("L2_L2", u, s, 0.5 + d) for (u, s), d in diffs.items()],
                        columns=["arm", "user", "seed", "accuracy"])
    by_user = paired_table(runs, ("L0_L0",), cluster="user").set_index("arm")
    expected = paired_difference([0.05, 0.10, 0.03], [0, 0, 0])
    assert by_user.loc["L2_L2", "diff_vs_L0_L0"] == pytest.approx(expected.mean)
    assert by_user.loc["L2_L2", "half_width_vs_L0_L0"] == pytest.approx(expected.half_width)
    pooled = paired_table(runs, ("L0_L0",)).set_index("arm")
    assert pooled.loc["L2_L2", "half_width_vs_L0_L0"] == pytest.approx(
        paired_difference(list(diffs.values()), [0] * 6).half_width)
    with pytest.raises(ValueError, match="cluster"):
        paired_table(runs, cluster="seed")
