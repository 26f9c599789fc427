"""Utility of every arm, paired over private users and seeds: what each scheme buys.

For each user and seed, every arm (the baselines ``public``, ``references``,
``oracle`` and each scheme) is trained by the same Trainer from the same start
(``Settings.init``) and scored on the same real test images
(:mod:`spinml.experiment`). The table gives each arm's mean accuracy and its
paired difference to ``L0_L0`` and to ``public`` with the 95 % t-interval over
(user, seed) pairs and the minimum detectable difference at that sample size
(80 % power; :mod:`spinml.evaluate.paired`); ``+-u`` is the half-width of the
interval over users instead (each user's seeds averaged first), the honest one
where users differ more than seeds. Runs go through the experiment
cache, so a rerun only reads files::

    python benchmarks/utility.py --users $(seq 0 24) --seeds 0 1 2 \\
        --schemes L0_L0 L1_L1 L2_L0 L0_L2 L2_L2 --workers 2 --diagnose \\
        --json benchmarks/results/utility.json

``--set name=value`` changes a :class:`~spinml.experiment.Settings` field
(e.g. ``--set n_per_class=100`` or ``--set init=`` for training from scratch).
After the table, :func:`spread` splits each difference's spread into seeds and
users and gives the pairs (or users) a 3-point half-width would need.
``--diagnose`` adds, per scheme, the accuracy on its synthetic images of the
``oracle`` model (trained on the user's real images: does the generated set
show the activities as the user's world does?) and of the ``public`` model, and
per user the zoo VAE's round trip of the real test images (:func:`vae_roundtrip`).

``--json`` writes ``{"runs": [{"arm", "user", "seed", "accuracy"}, ...],
"settings": ..., "table": ..., "table_by_user": ..., "spread": ...,
"diagnostics": ..., "vae_roundtrip": ..., "seconds": ...}``, rewritten after every
seed (all users of a seed on ``--workers`` processes).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from spinml.evaluate.paired import paired_table
from spinml.executors import make_executor
from spinml.experiment import BASELINES, Experiment, Settings, sweep, utility_runs
from spinml.io import atomic_write_text, library_versions
from spinml.policy import SharingPolicy


def policy_of(scheme: str) -> str:
    """``"L2_L0"`` -> ``"target=L2,background=L0"`` (a policy string passes through)."""
    if "=" in scheme:
        return str(SharingPolicy(scheme))
    target, _, background = scheme.partition("_")
    if not background:
        raise ValueError(f"--schemes: {scheme!r} is not of the form L<t>_L<b>")
    return f"target={target},background={background}"


def settings_from(pairs: list[str], users: list[int]) -> Settings:
    """Settings with ``name=value`` overrides, each read as its field's type."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    changes: dict[str, object] = {"users": tuple(users)}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in fields or name == "users":
            raise ValueError(f"--set {pair!r}: expected NAME=VALUE with NAME a Settings field "
                             f"other than users: {sorted(set(fields) - {'users'})}")
        default = getattr(Settings(), name)
        changes[name] = (text.lower() in ("1", "true", "yes") if isinstance(default, bool)
                         else type(default)(text))
    return Settings(**changes)


def _fmt(value: float, points: bool = True) -> str:
    return "   n/a" if math.isnan(value) else f"{100 * value:+6.1f}" if points else \
        f"{100 * value:6.1f}"


def print_table(table: pd.DataFrame, by_user: pd.DataFrame,
                references: tuple[str, ...]) -> None:
    """The pooled table, with each interval's half-width over users (``+-u``) beside it."""
    head = f"{'arm':<11} {'pairs':>5} {'acc %':>6}"
    for ref in references:
        head += f" | {'vs ' + ref:>9} {'95 % CI':>15} {'+-':>5} {'MDD':>5} {'+-u':>5}"
    print(head)
    for (_, row), (_, user_row) in zip(table.iterrows(), by_user.iterrows(), strict=True):
        line = f"{row.arm:<11} {row.pairs:>5} {_fmt(row.accuracy, False)}"
        for ref in references:
            if f"diff_vs_{ref}" not in row:
                continue
            if row.arm == ref:
                line += f" | {'':43}"
                continue
            low, high = row[f"low_vs_{ref}"], row[f"high_vs_{ref}"]
            interval = ("n/a" if math.isnan(low)
                        else f"[{100 * low:+.1f}, {100 * high:+.1f}]")
            line += (f" | {_fmt(row[f'diff_vs_{ref}'])}    {interval:>15} "
                     f"{_fmt(row[f'half_width_vs_{ref}'], False).strip():>5} "
                     f"{_fmt(row[f'mdd_vs_{ref}'], False).strip():>5} "
                     f"{_fmt(user_row[f'half_width_vs_{ref}'], False).strip():>5}")
        print(line)


def diagnose(experiment: Experiment, schemes: list[str], seed: int) -> list[dict]:
    """Accuracy of the ``oracle`` and ``public`` models on each scheme's synthetic set."""
    oracle = experiment.baseline_model("oracle", seed)
    public = experiment.baseline_model("public", seed)
    rows = []
    for scheme in schemes:
        synthetic = experiment.synthetic(policy_of(scheme), seed)
        rows.append({"arm": scheme, "user": experiment.settings.user, "seed": seed,
                     "oracle_on_synthetic": oracle.score(synthetic),
                     "public_on_synthetic": public.score(synthetic)})
    return rows


def vae_roundtrip(experiment: Experiment, seed: int) -> dict:
    """The zoo VAE's reconstruction of the user's real test images: PSNR (dB, 8-bit
    peak) and the ``oracle`` model's accuracy on the originals and on the round trip
    (does decoding through the generator's VAE lose the activity or the room?)."""
    import torch

    from spinml.image import from_unit_range, nhwc_to_nchw, to_unit_range

    vae = experiment.generator().pipe_.vae
    test = experiment.data()[1]
    images, labels = test.to_arrays()
    with torch.no_grad():
        latents = vae.encode(to_unit_range(nhwc_to_nchw(images))).latent_dist.mean
        decoded = from_unit_range(vae.decode(latents).sample)
    mse = float(np.mean((decoded.astype(np.float64) - images) ** 2))
    oracle = experiment.baseline_model("oracle", seed)
    return {"user": experiment.settings.user, "seed": seed,
            "psnr_db": 10 * math.log10(255 ** 2 / mse),
            "oracle_on_test": oracle.score(test),
            "oracle_on_vae_test": oracle.score((decoded, labels, test.classes))}


def _needed(sd: float, target: float) -> float:
    """The smallest ``n`` with ``t_{0.975, n-1} * sd / sqrt(n) <= target`` (NaN if none
    up to 10,000)."""
    if not sd > 0:
        return math.nan
    for n in range(2, 10_001):
        if stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) <= target:
            return n
    return math.nan


def spread(runs: pd.DataFrame, reference: str, target: float = 0.03) -> pd.DataFrame:
    """Where each arm's paired difference to ``reference`` varies, and what would bring
    its 95 % half-width down to ``target``. With ``d`` the difference per (user, seed),
    ``k`` seeds per user: ``sd_seeds`` = sqrt of the mean within-user variance of ``d``
    (one-way random effects), ``sd_users`` = sqrt(var(user means of d) - sd_seeds^2 / k)
    (0 where negative); ``pairs`` the (user, seed) pairs the pooled interval needs at
    the observed ``sd(d)``, ``users`` the users (``k`` seeds each) the interval over
    users needs at sd sqrt(sd_users^2 + sd_seeds^2 / k)."""
    wide = runs.pivot(index=["user", "seed"], columns="arm", values="accuracy")
    rows = []
    for arm in wide.columns:
        if arm == reference or reference not in wide:
            continue
        d = (wide[arm] - wide[reference]).dropna()
        by_user = d.groupby(level="user")
        k = float(by_user.size().mean())
        within = float(by_user.var(ddof=1).mean()) if k > 1 else math.nan
        between = max(0.0, float(by_user.mean().var(ddof=1)) - within / k)
        rows.append({"arm": arm, "sd": float(d.std(ddof=1)), "sd_seeds": math.sqrt(within),
                     "sd_users": math.sqrt(between),
                     "pairs": _needed(float(d.std(ddof=1)), target),
                     "users": _needed(math.sqrt(between + within / k), target)})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--schemes", nargs="+",
                        default=["L0_L0", "L1_L1", "L2_L0", "L0_L2", "L2_L2"])
    parser.add_argument("--baselines", nargs="*", default=list(BASELINES))
    parser.add_argument("--set", dest="changes", nargs="*", default=[], metavar="NAME=VALUE")
    parser.add_argument("--cache", default=None, help="experiment cache ($SPINML_CACHE)")
    parser.add_argument("--diagnose", action="store_true")
    parser.add_argument("--json", default=None, help="write the runs here")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--workers", type=int, default=1,
                        help="parallel runs on a process pool (0: cores // threads; 1: here)")
    args = parser.parse_args()
    settings = settings_from(args.changes, args.users)
    policies = [policy_of(s) for s in args.schemes]

    began = time.perf_counter()
    experiments = {u: Experiment(dataclasses.replace(settings, users=(u,)), cache=args.cache,
                                 progress=args.progress) for u in settings.users}
    pool = make_executor(args.workers, threads=settings.threads)
    frames, diagnostics, roundtrips = [], [], []
    try:
        for seed in args.seeds:  # seeds outside: a run stopped early still pairs over users
            start = time.perf_counter()
            frames.append(sweep(policies, seeds=[seed], baselines=args.baselines,
                                settings=settings, cache=args.cache, progress=args.progress,
                                executor=pool))
            if args.diagnose:
                for experiment in experiments.values():
                    diagnostics += diagnose(experiment, args.schemes, seed)
                    roundtrips.append(vae_roundtrip(experiment, seed))
            print(f"seed {seed}, {len(experiments)} users: {time.perf_counter() - start:.0f} s",
                  flush=True)
            if args.json:
                write(args.json, utility_runs(pd.concat(frames, ignore_index=True)), settings,
                      diagnostics, roundtrips, time.perf_counter() - began)
    finally:
        if pool is not None:
            pool.shutdown()
    runs = utility_runs(pd.concat(frames, ignore_index=True))
    references = tuple(r for r in ("L0_L0", "public") if r in set(runs.arm))
    table = paired_table(runs, references)
    by_user = paired_table(runs, references, cluster="user")
    seconds = time.perf_counter() - began
    print(f"\n{len(settings.users)} users x {len(args.seeds)} seeds; accuracy on "
          f"{4 * settings.n_test} real test images per user; init {settings.init or 'scratch'}; "
          f"{seconds:.0f} s")
    print_table(table, by_user, references)
    for ref in references:
        print(f"\nspread of the difference to {ref} (points) and the sample needed for a "
              "95 % half-width of 3 points:")
        sds = spread(runs, ref)
        sds[["sd", "sd_seeds", "sd_users"]] *= 100
        print(sds.round(1).to_string(index=False))
    if diagnostics:
        diag = pd.DataFrame(diagnostics).groupby("arm", sort=False)[
            ["oracle_on_synthetic", "public_on_synthetic"]].mean()
        print("\naccuracy on each scheme's synthetic images (mean over users and seeds):")
        print((100 * diag).round(1).to_string())
    if roundtrips:
        print("\nthe zoo VAE's round trip of the users' real test images (mean over users, seeds):")
        print(pd.DataFrame(roundtrips)[["psnr_db", "oracle_on_test", "oracle_on_vae_test"]]
              .mean().round(3).to_string())
    if args.json:
        write(args.json, runs, settings, diagnostics, roundtrips, seconds)


def write(path: str, runs: pd.DataFrame, settings: Settings, diagnostics: list[dict],
          roundtrips: list[dict], seconds: float) -> None:
    """The JSON record: the runs so far, their paired table, settings and diagnostics."""
    references = tuple(r for r in ("L0_L0", "public") if r in set(runs.arm))
    record = {"runs": runs.to_dict("records"), "settings": settings.to_dict(),
              "table": paired_table(runs, references).to_dict("records"),
              "table_by_user": paired_table(runs, references, cluster="user").to_dict("records"),
              "spread": {ref: spread(runs, ref).to_dict("records") for ref in references},
              "diagnostics": diagnostics, "vae_roundtrip": roundtrips,
              "seconds": round(seconds, 1),
              "versions": library_versions("spinml", "torch", "diffusers")}
    atomic_write_text(Path(path), json.dumps(record, indent=1, default=float))

if __name__ == "__main__":
    main()
