"""Derived seeds: NumPy's SeedSequence of the keys, 32-bit words or 63-bit ones; the
torch thread count of a block."""

import numpy as np
import pytest
import torch

from spinml.seeding import derive_seed, derive_seeds, torch_threads


def test_seeds_are_the_seed_sequence_words():
    state32 = np.random.SeedSequence([7, 1, 2]).generate_state(3)
    state64 = np.random.SeedSequence([7, 1, 2]).generate_state(3, np.uint64)
    assert derive_seeds(7, 1, 2, n=3) == [int(s) for s in state32]
    assert derive_seeds(7, 1, 2, n=3, bits=63) == [int(s >> 1) for s in state64]
    assert derive_seed(7, 1, 2) == int(state32[0])
    assert all(0 <= s < 2 ** 63 for s in derive_seeds(7, n=50, bits=63))


def test_keys_give_independent_seeds():
    seeds = {derive_seed(0, i, k) for i in range(20) for k in range(3)}
    assert len(seeds) == 60
    assert derive_seed(0, 1) != derive_seed(1, 0)


def test_bits_must_be_32_or_63():
    with pytest.raises(ValueError, match="bits must be 32 or 63"):
        derive_seed(0, bits=64)


def test_torch_threads_holds_the_count_in_the_block_and_restores_it():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"), torch_threads(before + 1):
        assert torch.get_num_threads() == before + 1
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before
