"""Nearest-neighbour distances against a double loop."""

import numpy as np
import pytest

from spinml.evaluate import (
    features,
    nearest_distances,
)


def images(seed, n=6, size=32):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_nearest_distances_match_a_double_loop():
    rng = np.random.default_rng(0)
    q, r = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    direct = [min(np.linalg.norm(a - b) for b in r) for a in q]
    np.testing.assert_allclose(nearest_distances(q, r), direct, rtol=1e-9)


def test_feature_rows_of_one_image_size_only():
    with pytest.raises(ValueError, match="differ"):
        nearest_distances(features(images(1, size=16)), features(images(2, size=32)))
