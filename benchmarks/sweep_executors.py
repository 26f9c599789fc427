"""One sweep three ways: sequentially, on a process pool, on Ray; wall times and equality.

Each way starts from an empty cache of its own, so each builds every
synthetic set, model and metric; the frames must be equal to the last bit::

    python benchmarks/sweep_executors.py --seeds 0 1 2 --workers 2 \\
        --json benchmarks/results/sweep_executors.json

``--set name=value`` changes a :class:`~spinml.experiment.Settings` field;
the defaults are tiny (seconds per run) so the table measures scheduling
and parallelism, not the report's real cost. Every run computes on
``Settings.threads`` torch threads (``--set threads=2``) wherever it runs, so
the frames should be equal; the table says how many values differ and by how
much. ``--ways`` picks among ``sequential``, ``process``, ``ray``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time

import pandas as pd

from spinml.executors import RayExecutor, cores, process_pool
from spinml.experiment import Settings, all_schemes, sweep
from spinml.io import atomic_write_text, library_versions

TINY = Settings(n_ref=2, n_test=10, n_oracle=3, lora_steps=10, n_per_class=4, sample_steps=4,
                epochs=2, batch_size=8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ways", nargs="+", default=["sequential", "process", "ray"],
                        choices=["sequential", "process", "ray"])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    changes = dict(item.split("=", 1) for item in args.set)
    types = {f.name: type(getattr(TINY, f.name)) for f in dataclasses.fields(TINY)}
    settings = dataclasses.replace(TINY, **{k: types[k](v) for k, v in changes.items()})

    rows, frames = [], {}
    for way in args.ways:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as cache:
            if way == "sequential":
                executor = None
            elif way == "process":
                executor = process_pool(args.workers)
            else:
                executor = RayExecutor(num_cpus=args.workers)
            try:
                frames[way] = sweep(all_schemes(), seeds=args.seeds, baselines=(),
                                    settings=settings, cache=cache, progress=False,
                                    executor=executor)
            finally:
                if executor is not None:
                    executor.shutdown()
        seconds = time.perf_counter() - start
        first, this = frames[args.ways[0]], frames[way]
        same_rows = this.drop(columns="value").equals(first.drop(columns="value"))
        diff = (this.value - first.value).abs()
        rows.append({"way": way, "workers": 1 if way == "sequential" else args.workers,
                     "threads": settings.threads, "seconds": round(seconds, 1),
                     "runs": 9 * len(args.seeds), "equal": this.equals(first),
                     "same rows": same_rows, "values differing": int((diff > 0).sum()),
                     "max |diff|": float(diff.max())})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if args.json:
        atomic_write_text(args.json, json.dumps(
            {"table": rows, "settings": settings.to_dict(), "seeds": args.seeds,
             "cores": cores(), "versions": library_versions("spinml", "torch", "ray")},
            indent=1))


if __name__ == "__main__":
    main()
