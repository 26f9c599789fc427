"""Seeds derived from a run's seed and the indices of what they seed, and the
torch thread count that reproducing a CPU run also needs.

Each random choice of a run (a batch's noise, a client's round, an image's
latents) gets its own seed ``derive_seed(seed, i, j, ...)``: NumPy's
:class:`~numpy.random.SeedSequence` of the keys, so different keys give
independent streams and the same keys the same numbers, however the work is
batched or ordered.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["derive_seed", "derive_seeds", "torch_threads"]


def derive_seeds(*keys: int, n: int, bits: int = 32) -> list[int]:
    """``n`` seeds from the non-negative integer ``keys``: the first ``n`` words of
    ``SeedSequence(keys)``'s state, 32-bit (``bits=32``) or 64-bit words shifted
    right by one (``bits=63``: below ``2**63``, what ``torch.manual_seed`` takes)."""
    sequence = np.random.SeedSequence(list(keys))
    if bits == 32:
        return [int(s) for s in sequence.generate_state(n)]
    if bits == 63:
        return [int(s >> 1) for s in sequence.generate_state(n, np.uint64)]
    raise ValueError(f"bits must be 32 or 63, got {bits!r}")


def derive_seed(*keys: int, bits: int = 32) -> int:
    """One seed from ``keys`` (:func:`derive_seeds` with ``n=1``)."""
    return derive_seeds(*keys, n=1, bits=bits)[0]


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block on ``threads`` torch intra-op CPU threads, then restore the
    count. Torch's CPU kernels may sum in another order on another number of
    threads, so a seed reproduces a CPU run's numbers only with its thread count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
