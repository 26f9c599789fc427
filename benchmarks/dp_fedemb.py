"""One DP-FedEmb round's client work: vectorised (``vmap``) against the per-client loop.

Both compute the clipped backbone deltas of the same ``--clients`` virtual
clients of a mini-world-shaped population (users with one to three identities
of 8 images each, 16 px, hashed into virtual clients of 2 users on average;
the few empty ones get a zero delta without training) from the same backbone,
with the same local settings (SGD lr 0.01, batch 16, one epoch, 2 head steps).
The vectorised path trains ``--chunk`` clients at once, sorted by size, as
:meth:`DPFedEmbTrainer.round_sum` does. Runs alternate and the fastest of
``--repeats`` counts. Target: speedup >= 5, max |difference| <= 1e-5.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dp_fedemb.py        # about 1 minute
    .venv/bin/python benchmarks/dp_fedemb.py --clients 256 --chunk 128
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch

from spinml.federated.aggregators import clip_deltas
from spinml.federated.dp_fedemb import LocalSettings, client_deltas, virtual_clients
from spinml.federated.embedding import EmbeddingNet


def population(n_users: int, seed: int = 0) -> list[tuple[np.ndarray, list[str]]]:
    rng = np.random.default_rng(seed)
    users = []
    for u in range(n_users):
        pets = int(rng.integers(1, 4))
        X = rng.integers(0, 256, (8 * pets, 16, 16, 3), dtype=np.uint8)
        users.append((X, [f"u{u}/pet{i // 8}" for i in range(len(X))]))
    return users


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    backbone = EmbeddingNet()
    theta = {k: v.detach() for k, v in backbone.named_parameters()}
    settings = LocalSettings(head_steps=2)
    clients = virtual_clients(population(2 * max(args.clients)), 2, seed=0)

    def vectorised(ids: list[int]) -> torch.Tensor:
        order = sorted(ids, key=lambda i: len(clients[i].labels))
        out = torch.zeros(len(ids), sum(v.numel() for v in theta.values()))
        for start in range(0, len(order), args.chunk):
            part = order[start:start + args.chunk]
            d = client_deltas(backbone, theta, [clients[i] for i in part], settings, 0, part)
            out[part] = clip_deltas(d, 1.0)
        return out

    def sequential(ids: list[int]) -> torch.Tensor:
        d = client_deltas(backbone, theta, [clients[i] for i in ids], settings, 0, ids,
                          vectorised=False)
        return clip_deltas(d, 1.0)

    vectorised(list(range(8)))  # first vmap call builds its batching machinery
    print(f"{'clients':>8} {'vectorised s':>13} {'sequential s':>13} {'speedup':>8} "
          f"{'max |diff|':>11}")
    for n in args.clients:
        ids = list(range(n))
        best = {"vectorised": np.inf, "sequential": np.inf}
        for _ in range(args.repeats):
            for name, fn in (("vectorised", vectorised), ("sequential", sequential)):
                start = time.perf_counter()
                out = fn(ids)
                best[name] = min(best[name], time.perf_counter() - start)
                if name == "vectorised":
                    fast = out
                else:
                    diff = (fast - out).abs().max().item()
        print(f"{n:>8} {best['vectorised']:>13.3f} {best['sequential']:>13.3f} "
              f"{best['sequential'] / best['vectorised']:>8.1f} {diff:>11.2e}")


if __name__ == "__main__":
    main()
