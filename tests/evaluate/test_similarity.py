"""SIM against a direct computation."""

import numpy as np
import pytest

from spinml.evaluate import similarity
from tests.evaluate.test_distances import images


def test_similarity_is_the_mean_of_the_cosine_matrix(encoder):
    a, b = images(3), images(4, 5)
    ea, eb = encoder.embed(a), encoder.embed(b)
    np.testing.assert_allclose(np.linalg.norm(ea, axis=1), 1.0, rtol=1e-5)
    assert similarity(a, b, encoder) == pytest.approx(float((ea @ eb.T).mean()), rel=1e-5)
