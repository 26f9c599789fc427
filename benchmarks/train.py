"""One training epoch of :class:`spinml.train.Trainer` against a bare torch loop.

Both train the same architecture on the same images (the first 1024 of
scikit-learn's digits, upsampled to 32x32 RGB), with Adam and the same batch
size, without augmentation or validation. The Trainer's time is a whole
``fit(epochs=1)``: Accelerate setup, data conversion, model building and
the epoch. Runs alternate and the fastest of ``--repeats`` counts, which damps
the noise of a shared machine. Target: ratio <= 1.1.

    .venv/bin/python benchmarks/train.py                # about 2 minutes on 2 busy cores
    .venv/bin/python benchmarks/train.py --repeats 5 --archs resnet20
"""

from __future__ import annotations

import argparse
import os
import time

# Busy-waiting OpenMP threads slow torch down many times over when other
# processes share the cores; passive waiting costs nothing measurable here.
# (Read when torch loads, so it is set before the import.)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from spinml.image import nhwc_to_nchw, to_unit_range
from spinml.train import Trainer, build_model


def digits_rgb(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The digits as uint8 RGB ``(N, size, size, 3)`` (pixel repetition) and labels."""
    digits = load_digits()
    grey = (digits.images * (255 / 16)).round().astype(np.uint8)
    grey = grey.repeat(size // 8, axis=1).repeat(size // 8, axis=2)
    return np.repeat(grey[..., None], 3, axis=-1), digits.target.astype(np.int64)


def bare_epoch(arch: str, X: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    """Seconds for one epoch of the plainest loop: shuffle, index, normalise, step."""
    torch.manual_seed(0)
    model = build_model(arch, 10, X.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = nhwc_to_nchw(X)
    labels = torch.from_numpy(y)
    start = time.perf_counter()
    model.train()
    for index in torch.randperm(len(labels)).split(batch_size):
        loss = F.cross_entropy(model(to_unit_range(images[index])), labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def trainer_epoch(arch: str, X: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    """Seconds for ``Trainer(epochs=1).fit`` on the same data, everything included."""
    trainer = Trainer(arch, epochs=1, batch_size=batch_size, val_fraction=0.0, augment=False,
                      device="cpu", progress=False)
    start = time.perf_counter()
    trainer.fit((X, y, tuple(str(d) for d in range(10))))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=["resnet20", "mobilenet_v2"])
    parser.add_argument("--images", type=int, default=1024, help="at most 1797")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    X, y = digits_rgb(args.size)
    X, y = X[:args.images], y[:args.images]
    print(f"{len(X)} images of {args.size}x{args.size} px, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads (OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}), "
          f"best of {args.repeats} alternating runs")
    print(f"{'architecture':<14}{'bare loop (s)':>15}{'Trainer (s)':>13}{'ratio':>8}")
    for arch in args.archs:
        bare, trainer = [], []
        for _ in range(args.repeats):
            bare.append(bare_epoch(arch, X, y, args.batch_size))
            trainer.append(trainer_epoch(arch, X, y, args.batch_size))
        print(f"{arch:<14}{min(bare):>15.2f}{min(trainer):>13.2f}"
              f"{min(trainer) / min(bare):>8.2f}", flush=True)


if __name__ == "__main__":
    main()
