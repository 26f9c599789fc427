"""Paired comparisons of arms (schemes and baselines) over (user, seed) pairs.

Every arm of one user and seed is scored on the same test images, so arms are
compared pair by pair: for arms ``a`` and ``b`` and the ``n`` (user, seed)
pairs both have, ``d_i = acc_a,i - acc_b,i``. The 95 % interval is the
Student-t interval

    d_bar +- t_{0.975, n-1} * s_d / sqrt(n),   s_d = sqrt(sum (d_i - d_bar)^2 / (n - 1)),

pooled over users and seeds (each pair one observation). Seeds of one user
share the user's test images and world, so where users differ much that
interval is too narrow; ``cluster="user"`` gives the interval over users
instead: each user's ``d`` averaged over its seeds first, then the t-interval
over the ``n_users`` means (``n_users - 1`` degrees of freedom). With fewer
than two pairs (or users) it is undefined: NaN, never 0.

The minimum detectable difference at that sample size is the true paired
difference a two-sided 5 % t-test finds with 80 % power:

    MDD = (t_{0.975, n-1} + t_{0.80, n-1}) * s_d / sqrt(n).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["PairedDifference", "paired_difference", "minimum_detectable_difference",
           "paired_table", "PAIR"]

PAIR = ("user", "seed")
"""The columns that identify a pair: one user's test images and one seed."""


@dataclass(frozen=True)
class PairedDifference:
    """``mean`` of ``d_i = a_i - b_i`` over ``n`` pairs, its 95 % t-interval
    ``[low, high]`` (``half_width`` each side) and the minimum detectable
    difference ``mdd``; NaN where ``n < 2``."""

    mean: float
    low: float
    high: float
    half_width: float
    mdd: float
    n: int


def _t(q: float, n: int) -> float:
    return float(stats.t.ppf(q, n - 1)) if n >= 2 else math.nan


def minimum_detectable_difference(sd: float, n: int, *, level: float = 0.95,
                                  power: float = 0.8) -> float:
    """``(t_{(1+level)/2, n-1} + t_{power, n-1}) * sd / sqrt(n)``; NaN for ``n < 2``."""
    if n < 2:
        return math.nan
    return (_t((1 + level) / 2, n) + _t(power, n)) * sd / math.sqrt(n)


def paired_difference(a: Sequence[float], b: Sequence[float], *,
                      level: float = 0.95) -> PairedDifference:
    """The paired difference ``a - b`` (equal-length sequences, pair ``i`` in both)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(f"paired_difference needs two equal, non-empty 1-d sequences, "
                         f"got shapes {a.shape} and {b.shape}")
    d = a - b
    n = len(d)
    sd = float(d.std(ddof=1)) if n >= 2 else math.nan
    half = _t((1 + level) / 2, n) * sd / math.sqrt(n) if n >= 2 else math.nan
    mean = float(d.mean())
    return PairedDifference(mean, mean - half, mean + half, half,
                            minimum_detectable_difference(sd, n, level=level), n)


def paired_table(runs: pd.DataFrame, references: Sequence[str] = ("L0_L0", "public"),
                 value: str = "accuracy", *, cluster: str | None = None) -> pd.DataFrame:
    """One row per arm of ``runs`` (columns ``arm``, ``user``, ``seed``, ``value``):
    its mean ``value`` over pairs, the number of pairs, and for each reference
    arm ``r`` in ``references`` present in ``runs`` the paired difference
    ``arm - r`` (``diff_vs_<r>``, ``low_vs_<r>``, ``high_vs_<r>``,
    ``half_width_vs_<r>``, ``mdd_vs_<r>``) over the pairs both arms have;
    with ``cluster="user"`` over users, each the mean of its seeds (see the
    module). Arms keep their order of first appearance."""
    missing = {"arm", *PAIR, value} - set(runs.columns)
    if missing:
        raise ValueError(f"runs lack the columns {sorted(missing)}")
    if cluster not in (None, "user"):
        raise ValueError(f"cluster must be None or 'user', got {cluster!r}")
    if runs.duplicated(["arm", *PAIR]).any():
        raise ValueError("runs hold more than one value for some (arm, user, seed)")
    wide = runs.pivot(index=list(PAIR), columns="arm", values=value)
    rows = []
    for arm in dict.fromkeys(runs["arm"]):
        row = {"arm": arm, value: float(wide[arm].mean()), "pairs": int(wide[arm].notna().sum())}
        for ref in references:
            if ref not in wide:
                continue
            d = (wide[arm] - wide[ref]).dropna()
            if cluster == "user":
                d = d.groupby(level="user").mean()
            diff = (paired_difference(d, np.zeros(len(d))) if len(d)
                    else PairedDifference(*[math.nan] * 5, 0))
            row.update({f"diff_vs_{ref}": diff.mean, f"low_vs_{ref}": diff.low,
                        f"high_vs_{ref}": diff.high, f"half_width_vs_{ref}": diff.half_width,
                        f"mdd_vs_{ref}": diff.mdd})
        rows.append(row)
    return pd.DataFrame(rows)
