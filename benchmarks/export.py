"""The specialised model on the device: size, latency and accuracy, torch eager vs ONNX fp32/int8.

For each architecture, a model is trained with the library's ``Trainer`` on
public mini-world renders (``miniworld.public``, no image of the user), then
adapted on the device to mini-world user 0's unlabelled references (BatchNorm
statistics, :meth:`TrainedModel.adapt`, as the report's ``adapt=True``). It
is exported to ONNX (fp32) and quantised to int8, calibrated on the same
references; :func:`spinml.evaluate.device.device_table` then measures, in
this one process, each format's file size, latency per image (median over
``--runs`` calls, batch 1, 1 thread, preprocessing included) and accuracy on
the user's real test set. Torch eager, same threads, is the baseline.

    .venv/bin/python benchmarks/export.py            # about 10 minutes on 2 busy cores
    .venv/bin/python benchmarks/export.py --archs resnet20 --per-class 50 --epochs 3
"""

from __future__ import annotations

import argparse
import os
import time

# Busy-waiting OpenMP threads slow torch down many times over when other
# processes share the cores (read when torch loads, so set before the import).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pandas as pd

from spinml.data import miniworld
from spinml.evaluate.device import device_table
from spinml.train import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=["resnet20", "mobilenet_v2"])
    parser.add_argument("--user", type=int, default=0)
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--per-class", type=int, default=150, help="public training images")
    parser.add_argument("--n-ref", type=int, default=5, help="references per class")
    parser.add_argument("--n-test", type=int, default=50, help="test images per class")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--runs", type=int, default=200, help="timed calls per format")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    public = miniworld.public(args.per_class, size=args.size, seed=args.seed, progress=False)
    references, test = miniworld.user(args.user, n_ref=args.n_ref, n_test=args.n_test,
                                      size=args.size)
    print(f"trained on {len(public)} public renders ({args.size} px, {args.epochs} epochs, "
          f"seed {args.seed}); adapted and int8-calibrated on user {args.user}'s "
          f"{len(references)} unlabelled references; tested on the user's {len(test)} real "
          f"test images; latency: median of {args.runs} calls, batch 1, 1 thread")
    frames = []
    for arch in args.archs:
        start = time.perf_counter()
        trainer = Trainer(arch, epochs=args.epochs, batch_size=32, color_jitter=0.25,
                          seed=args.seed, device="cpu", progress=False)
        model = trainer.fit(public).adapt(references)
        trained = time.perf_counter() - start
        frame = device_table(model, references, test, runs=args.runs, threads=1)
        frame.insert(0, "arch", arch)
        frames.append(frame)
        print(f"{arch}: trained in {trained:.0f} s, measured in "
              f"{time.perf_counter() - start - trained:.0f} s")
    table = pd.concat(frames, ignore_index=True)
    with pd.option_context("display.width", 120):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
