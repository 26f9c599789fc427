"""Privacy-utility figures: summaries against hand-computed t-intervals, points at the means."""

import numpy as np
import pandas as pd
import pytest

from spinml.evaluate import RunMetrics
from spinml.evaluate.plots import mixing_curve, privacy_utility, summarise


def sweep() -> pd.DataFrame:
    """Two schemes, three seeds, alphas 0 and 1: accuracy and target SIM per run."""
    rows = []
    for scheme, base in (("L0_L0", 0.5), ("L2_L0", 0.7)):
        for alpha in (0.0, 1.0):
            for seed in range(3):
                values = {("model", "accuracy"): base + 0.1 * seed - 0.2 * alpha,
                          ("target", "sim"): base / 2 + 0.01 * seed}
                rows.append(RunMetrics(scheme, alpha, seed, values).to_frame())
    return pd.concat(rows, ignore_index=True)


def test_summarise_gives_mean_t_interval_and_count():
    frame = pd.DataFrame({"g": ["a", "a", "a", "b"], "value": [1.0, 2.0, 3.0, 5.0]})
    out = summarise(frame, ["g"]).set_index("g")
    # a: mean 2, sd 1, n 3: half-width t_{0.975, 2} / sqrt(3) = 4.302653 / 1.732051
    assert out.loc["a", "mean"] == 2.0 and out.loc["a", "n"] == 3
    assert out.loc["a", "ci"] == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    assert np.isnan(out.loc["b", "ci"]) and out.loc["b", "n"] == 1  # one seed: undefined


def test_privacy_utility_puts_each_scheme_at_its_means():
    fig = privacy_utility(sweep(), "target", "sim", highlight="L2_L0")
    ax = fig.axes[0]
    points = {t.get_text(): t.xy for t in ax.texts}
    assert points["L0_L0"] == pytest.approx((0.26, 0.6))
    assert points["L2_L0"] == pytest.approx((0.36, 0.8))
    assert "3 runs" in ax.get_title() and "SIM" in ax.get_xlabel()
    assert len(ax.collections) >= 1                       # the highlight ring
    with pytest.raises(ValueError, match="no rows for object 'bowl'"):
        privacy_utility(sweep(), "bowl", "sim")


def test_mixing_curve_draws_one_line_per_scheme():
    fig = mixing_curve(sweep())
    lines = fig.axes[0].get_lines()
    assert sorted(line.get_label() for line in lines) == ["L0_L0", "L2_L0"]
    by_label = {line.get_label(): line for line in lines}
    assert list(by_label["L2_L0"].get_xdata()) == [0.0, 1.0]
    assert list(by_label["L2_L0"].get_ydata()) == pytest.approx([0.8, 0.6])
    with pytest.raises(ValueError, match="no 'macro_f1' rows"):
        mixing_curve(sweep(), utility="macro_f1")


def test_baselines_are_horizontal_lines_at_their_mean_utility():
    public = [RunMetrics("public", 0.0, seed, {("model", "accuracy"): 0.55 + 0.01 * seed})
              .to_frame() for seed in range(3)]
    ax = privacy_utility(pd.concat([sweep(), *public]), "target", "sim").axes[0]
    lines = [line for line in ax.get_lines() if list(line.get_xdata()) == [0, 1]]
    assert [line.get_ydata()[0] for line in lines] == [pytest.approx(0.56)]
    assert "public" in [t.get_text() for t in ax.texts]
    assert "public" not in [t.get_text() for t in ax.texts if t.xy[0] < 1.0]
