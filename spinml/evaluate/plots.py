"""Privacy-utility figures from a sweep's tidy DataFrame (SpinML's Figure 3).

Error bars are 95 % t-intervals over runs (every user and seed):
``mean +- t_{0.975, n-1} * sd / sqrt(n)`` (NaN, drawn as none, with a single run).
Baseline arms (rows of utility only, e.g. ``public``, ``references``, ``oracle``) are
horizontal lines.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

__all__ = ["summarise", "privacy_utility", "mixing_curve", "METRIC_NAMES"]

METRIC_NAMES = {
    "mi": "normalised MI of the upload",
    "shape_leak": "IoU of an L0 object's outline recovered from the upload",
    "sim": "SIM (encoder cosine, synthetic vs real)",
    "memorisation_encoder": "nearest-neighbour distance (encoder)",
    "memorisation_pixel": "nearest-neighbour distance (RMS pixels)",
    "mia_auc": "membership-inference AUC",
    "mia_tpr_at_1pct_fpr": "membership-inference TPR at 1 % FPR",
    "accuracy": "test accuracy on real images",
    "macro_f1": "macro-F1 on real images",
}


def summarise(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean, 95 % CI half-width and seed count of ``value`` per group ``by``."""
    def half_width(values: pd.Series) -> float:
        n = len(values)
        if n < 2:
            return np.nan
        return float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n))

    grouped = frame.groupby(by, sort=True)["value"]
    return pd.DataFrame({"mean": grouped.mean(), "ci": grouped.apply(half_width),
                         "n": grouped.size()}).reset_index()


def _axes(ax: Axes | None, size: tuple[float, float] = (5.5, 4.0)) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size)
    return fig, ax


def privacy_utility(frame: pd.DataFrame, obj: str, metric: str, *,
                    utility: str = "accuracy", alpha: float = 0.0,
                    highlight: str | None = None, ax: Axes | None = None) -> Figure:
    """Mean privacy ``metric`` of object ``obj`` (x) against mean ``utility`` (y), one
    point per scheme at mixing fraction ``alpha``, with 95 % CIs over seeds on both
    axes; ``highlight`` (a scheme name such as ``"L2_L0"``) is ringed. Arms with
    utility but no privacy rows (the baselines) are horizontal lines."""
    data = frame[np.isclose(frame["alpha"], alpha)]
    x = summarise(data[(data["object"] == obj) & (data["metric"] == metric)], ["scheme"])
    y = summarise(data[(data["object"] == "model") & (data["metric"] == utility)], ["scheme"])
    if x.empty or y.empty:
        raise ValueError(f"no rows for object {obj!r}, metric {metric!r} and {utility!r} "
                         f"at alpha {alpha}")
    both = x.merge(y, on="scheme", suffixes=("_x", "_y"))
    fig, ax = _axes(ax)
    for (_, row), style in zip(y[~y["scheme"].isin(both["scheme"])].iterrows(),
                               ("--", ":", "-.", (0, (5, 1))) * len(y), strict=False):
        ax.axhline(row["mean"], color="grey", linestyle=style, linewidth=1)
        ax.annotate(row.scheme, (1.0, row["mean"]), xycoords=("axes fraction", "data"),
                    xytext=(-4, 2), textcoords="offset points", ha="right", fontsize=8,
                    color="dimgrey")
    palette = sns.color_palette("viridis", len(both))
    for (_, row), colour in zip(both.iterrows(), palette, strict=True):
        ax.errorbar(row.mean_x, row.mean_y, xerr=row.ci_x, yerr=row.ci_y, fmt="o",
                    color=colour, capsize=3, label=row.scheme)
        ax.annotate(row.scheme, (row.mean_x, row.mean_y), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
        if row.scheme == highlight:
            ax.scatter([row.mean_x], [row.mean_y], s=260, facecolors="none",
                       edgecolors="crimson", linewidths=2, zorder=3)
    ax.set_xlabel(f"{obj}: {METRIC_NAMES.get(metric, metric)}")
    ax.set_ylabel(METRIC_NAMES.get(utility, utility))
    runs = int(both["n_y"].max())
    ax.set_title(f"privacy vs utility ({obj}, {runs} run{'s' * (runs > 1)}, 95 % CI)",
                 fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def mixing_curve(frame: pd.DataFrame, *, utility: str = "accuracy",
                 ax: Axes | None = None) -> Figure:
    """Mean ``utility`` against the mixing fraction ``alpha`` (drawn from ``L0_L0``),
    one line per scheme, with 95 % CI bands over seeds."""
    data = summarise(frame[(frame["object"] == "model") & (frame["metric"] == utility)],
                     ["scheme", "alpha"])
    if data.empty:
        raise ValueError(f"no {utility!r} rows to plot")
    fig, ax = _axes(ax)
    for scheme, rows in data.groupby("scheme"):
        line = ax.plot(rows["alpha"], rows["mean"], marker="o", label=scheme)[0]
        ax.fill_between(rows["alpha"], rows["mean"] - rows["ci"], rows["mean"] + rows["ci"],
                        color=line.get_color(), alpha=0.2)
    ax.set_xlabel("alpha: fraction of the training set drawn from L0_L0")
    ax.set_ylabel(METRIC_NAMES.get(utility, utility))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
