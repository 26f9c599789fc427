"""Draws: rare with probability ``rarity``, uniform picks."""

import numpy as np
import pytest

from spinml.data.miniworld.draws import Draws


def test_rare_rate_and_uniform_pick():
    draws = Draws(np.random.default_rng(0), 0.3)
    rate = np.mean([draws.rare() for _ in range(20_000)])
    assert rate == pytest.approx(0.3, abs=0.015)             # 4.6 standard errors
    counts = np.bincount([draws.pick(("a", "b", "c", "d")) == "c" for _ in range(8_000)])
    assert counts[1] / 8_000 == pytest.approx(0.25, abs=0.025)
    assert not any(Draws(np.random.default_rng(1), 0.0).rare() for _ in range(100))
    assert all(Draws(np.random.default_rng(1), 1.0).rare() for _ in range(100))
    with pytest.raises(ValueError, match="rarity"):
        Draws(np.random.default_rng(0), 1.5)
