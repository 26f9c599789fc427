"""One BN-inversion optimisation step against the teacher's bare forward + backward.

Both work on the same batch of images for the same teacher (a ResNet-20 on
RGB images, BatchNorm running statistics set from random images). The
generator's step is measured through the public API, as
``(t(generate, K) - t(generate, 0)) / K``: forward with the BatchNorm hooks,
``R_BN`` + cross-entropy, the gradient with respect to the images, the Adam
step and the clamp. The baselines are the plainest loops on one batch:

- ``bare (input grad)``: forward, cross-entropy, gradient w.r.t. the images
  only (the gradient the generator needs);
- ``bare (full backward)``: forward, cross-entropy, ``loss.backward()`` with
  the weight gradients too (a training step without the optimiser).

Every figure is the mean over ``--steps`` consecutive steps, and the fastest
of ``--repeats`` such means counts, which damps the noise of a shared
machine (the fastest of single steps would flatter the baselines). Target:
generator / bare (input grad) <= 1.3.

    .venv/bin/python benchmarks/bn_inversion.py                 # about a minute on 2 busy cores
    .venv/bin/python benchmarks/bn_inversion.py --size 32 --batch 120 --steps 5
"""

from __future__ import annotations

import argparse
import os
import time

# Busy-waiting OpenMP threads slow torch down many times over when other
# processes share the cores (read when torch loads, so set before the import).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn.functional as F

from spinml.generate import BNInversionGenerator
from spinml.train import build_model


def teacher(size: int, batch: int) -> torch.nn.Module:
    """A ResNet-20 (10 classes) whose BatchNorm running statistics are the
    average over 4 batches of uniform random images, in eval mode."""
    torch.manual_seed(0)
    model = build_model("resnet20", 10, size)
    for layer in model.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.momentum = None
    with torch.no_grad():
        for _ in range(4):
            model(torch.rand(batch, 3, size, size) * 2 - 1)
    return model.eval()


def bare_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, full: bool,
              steps: int) -> float:
    """Seconds per forward + cross-entropy + backward on ``x``, the mean of ``steps``."""
    x = x.clone().requires_grad_(True)
    start = time.perf_counter()
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        if full:
            loss.backward()
        else:
            torch.autograd.grad(loss, [x])
    elapsed = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    return elapsed / steps


def generator_step(model: torch.nn.Module, size: int, batch: int, steps: int) -> float:
    """Seconds per step of ``BNInversionGenerator``: ``(t(K) - t(0)) / K``."""
    def run(k: int) -> float:
        generator = BNInversionGenerator(steps=k, batch_size=batch, image_size=size,
                                         progress=False).fit(model)
        start = time.perf_counter()
        generator.generate(n_per_class=batch // len(generator.classes_), seed=0)
        return time.perf_counter() - start

    return (run(steps) - run(0)) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16, help="image side in pixels")
    parser.add_argument("--batch", type=int, default=250,
                        help="images per batch, a multiple of the 10 classes")
    parser.add_argument("--steps", type=int, default=10,
                        help="steps per timing (K of the timed generation)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    if args.batch % 10:
        parser.error("--batch must be a multiple of the teacher's 10 classes")
    torch.set_num_threads(args.threads)

    model = teacher(args.size, args.batch)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=torch.Generator()
                    .manual_seed(1)).clamp(-1, 1)
    y = torch.arange(args.batch) % 10
    times = {"bare (input grad)": [], "bare (full backward)": [], "BNInversionGenerator": []}
    for _ in range(args.repeats):
        times["bare (input grad)"].append(bare_step(model, x, y, False, args.steps))
        times["bare (full backward)"].append(bare_step(model, x, y, True, args.steps))
        times["BNInversionGenerator"].append(generator_step(model, args.size, args.batch,
                                                            args.steps))
    best = {name: min(t) for name, t in times.items()}
    reference = best["bare (input grad)"]
    print(f"resnet20, batch {args.batch} x 3 x {args.size} x {args.size}, "
          f"{args.threads} thread(s), best of {args.repeats}")
    print(f"{'step':<24}{'seconds':>10}{'ratio':>8}")
    for name, seconds in best.items():
        print(f"{name:<24}{seconds:>10.4f}{seconds / reference:>8.2f}")
    ratio = best["BNInversionGenerator"] / reference
    print(f"target generator / bare (input grad) <= 1.30: {'met' if ratio <= 1.3 else 'MISSED'}"
          f" ({ratio:.2f})")


if __name__ == "__main__":
    main()
