"""Named colours, jitter and mixing."""

import numpy as np
import pytest

from spinml.data.miniworld.colours import COLOURS, jitter, mix


def test_jitter_stays_within_its_amount_and_the_unit_range():
    rng = np.random.default_rng(0)
    for name, base in COLOURS.items():
        value = jitter(rng, name, 0.05)
        assert all(0.0 <= c <= 1.0 for c in value)
        assert np.abs(np.subtract(value, base)).max() <= 0.05 + 1e-12
    assert jitter(np.random.default_rng(1), "red") == jitter(np.random.default_rng(1), "red")
    assert jitter(rng, "white", 0.0) == COLOURS["white"]
    with pytest.raises(KeyError):
        jitter(rng, "teal")


def test_mix_is_the_linear_blend():
    a, b = (0.0, 0.5, 1.0), (1.0, 0.5, 0.0)
    assert mix(a, b, 0.0) == a and mix(a, b, 1.0) == b
    assert mix(a, b, 0.25) == pytest.approx((0.25, 0.5, 0.75))
