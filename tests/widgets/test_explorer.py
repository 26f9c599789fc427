"""ResultsExplorer driven through its real dropdowns, on a sweep-shaped DataFrame."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from spinml.widgets import ObjectPicker, ResultsExplorer

from spinml.data import miniworld

SCHEMES = ["L0_L0", "L1_L1", "L2_L1", "L2_L2"]
T_975_2DF = 4.302652729911275  # Student's t, 97.5 % quantile, 2 degrees of freedom


def sweep_frame() -> pd.DataFrame:
    """Rows shaped like spinml.experiment's sweep: privacy rise with the level."""
    rng = np.random.default_rng(0)
    rows = []
    for rank, scheme in enumerate(SCHEMES):
        target, background = scheme.split("_")
        for alpha in (0.0, 0.5):
            for seed in range(3):
                run = (scheme, target, background, alpha)
                noise = rng.normal(0, 0.01, size=6)
                rows += [
                    (*run, "model", "accuracy", seed, 0.5 + 0.1 * rank - 0.05 * alpha + noise[0]),
                    (*run, "model", "macro_f1", seed, 0.4 + 0.1 * rank + noise[1]),
                ]
                for k, (obj, level) in enumerate((("target", target), ("background", background))):
                    rows += [
                        (*run, obj, "mi", seed, 0.1 * int(level[1]) + noise[2 + k]),
                        (*run, obj, "sim", seed, 0.3 + 0.2 * int(level[1]) + noise[4 + k]),
                    ]
    return pd.DataFrame(rows, columns=["scheme", "target_level", "background_level", "alpha",
                                       "object", "metric", "seed", "value"])


@pytest.fixture
def frame():
    return sweep_frame()


def test_summary_is_mean_and_ci_over_seeds(frame):
    explorer = ResultsExplorer(frame)
    explorer.object.value = "target"
    explorer.metric.value = "sim"
    explorer.alpha.value = 0.5
    summary = explorer.summary
    assert list(summary.index) == SCHEMES
    rows = frame[(frame.scheme == "L2_L1") & (frame.alpha == 0.5)]
    sim = rows[(rows.object == "target") & (rows.metric == "sim")].value.to_numpy()
    acc = rows[rows.metric == "accuracy"].value.to_numpy()
    assert summary.loc["L2_L1", "privacy"] == pytest.approx(sim.mean())
    assert summary.loc["L2_L1", "utility"] == pytest.approx(acc.mean())
    assert summary.loc["L2_L1", "privacy_ci"] == pytest.approx(
        T_975_2DF * sim.std(ddof=1) / np.sqrt(3))
    assert summary.loc["L2_L1", "utility_ci"] == pytest.approx(
        T_975_2DF * acc.std(ddof=1) / np.sqrt(3))
    assert not summary.isna().any().any() and (summary.seeds == 3).all()


def test_dropdowns_redraw_plot_and_table(frame):
    explorer = ResultsExplorer(frame)
    assert explorer.object.options == ("background", "target")
    assert explorer.metric.options == ("mi", "sim")
    first = (explorer.plot.value, explorer.table.value)
    assert bytes(first[0]).startswith(b"\x89PNG")
    explorer.object.value = "target"
    explorer.metric.value = "sim"
    assert explorer.plot.value != first[0] and explorer.table.value != first[1]
    assert f"{explorer.summary.loc['L2_L2', 'privacy']:.4f}" in explorer.table.value


def test_highlight_accepts_scheme_policy_and_follows_a_picker(frame):
    explorer = ResultsExplorer(frame, highlight="target=L2,background=L1")
    assert explorer.highlight == "L2_L1"
    before = explorer.plot.value
    explorer.highlight = "L0_L0"
    assert explorer.plot.value != before

    references, _ = miniworld.user(0, n_ref=1, n_test=0)
    picker = ObjectPicker(references, "target=L1,background=L1")
    explorer.link(picker)
    assert explorer.highlight == "L1_L1"
    picker.selectors["target"].value = "L2"
    picker.selectors["background"].value = "L2"
    assert explorer.highlight == "L2_L2"


def rings(explorer):
    """Centres of the rings drawn around highlighted points."""
    return [c.get_offsets().tolist() for c in explorer.figure.axes[0].collections
            if isinstance(c, PathCollection)]


def test_plot_rings_the_highlighted_scheme_only(frame):
    explorer = ResultsExplorer(frame)
    assert rings(explorer) == []
    explorer.highlight = "L2_L1"
    point = explorer.summary.loc["L2_L1", ["privacy", "utility"]].tolist()
    assert rings(explorer) == [[pytest.approx(point)]]


def test_utility_dropdown_switches_the_y_metric(frame):
    explorer = ResultsExplorer(frame)
    assert explorer.utility.value == "accuracy"
    explorer.utility.value = "macro_f1"
    rows = frame[(frame.scheme == "L0_L0") & (frame.alpha == 0) & (frame.metric == "macro_f1")]
    assert explorer.summary.loc["L0_L0", "utility"] == pytest.approx(rows.value.mean())


def test_bad_frames_are_refused(frame):
    with pytest.raises(ValueError, match="missing columns \\['seed'\\]"):
        ResultsExplorer(frame.drop(columns="seed"))
    with pytest.raises(ValueError, match="utility rows"):
        ResultsExplorer(frame[frame.object != "model"])
