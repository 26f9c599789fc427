import math

import numpy as np
import pytest

from spinml.data import photos
from spinml.evaluate import (
    entropy,
    letterbox,
    mutual_information,
    normalized_mutual_information,
)
from spinml.sanitize import Canny, segment_on_black


def double_loop_mi(a, b, bins=256):
    """The SpinML artifact's formula, written out: histogram2d, then a loop over all bins."""
    joint, _, _ = np.histogram2d(np.ravel(a), np.ravel(b), bins=bins)
    p = joint / joint.sum()
    p_a, p_b = p.sum(axis=1), p.sum(axis=0)
    total = 0.0
    for i in range(bins):
        for j in range(bins):
            if p[i, j] > 0:
                total += p[i, j] * math.log(p[i, j] / (p_a[i] * p_b[j]))
    return total


@pytest.fixture(scope="module")
def real_pairs():
    refs = photos(size=128)
    pairs = []
    for ref in refs:
        segment = segment_on_black(ref.image, ref.mask("target"))
        edges = np.repeat(Canny()(segment)[:, :, None], 3, axis=2)
        pairs += [(letterbox(segment, 128), letterbox(ref.image, 128)),
                  (letterbox(edges, 128), letterbox(segment, 128))]
    pairs.append((refs[0].image[:, :, 0], refs[0].image[:, :, 0]))
    return pairs


def test_matches_the_double_loop_on_real_images(real_pairs):
    for a, b in real_pairs:
        assert mutual_information(a, b) == pytest.approx(double_loop_mi(a, b), abs=1e-9)


def test_other_bins_dtypes_and_constant_inputs(real_pairs):
    a, b = real_pairs[0]
    for bins in (2, 17, 300):
        assert mutual_information(a, b, bins) == pytest.approx(double_loop_mi(a, b, bins), abs=1e-9)
    af = a.astype(np.float64) * 0.7 + 3
    assert mutual_information(af, b) == pytest.approx(double_loop_mi(af, b), abs=1e-9)
    flat = np.full_like(a, 9)
    assert mutual_information(flat, b) == pytest.approx(double_loop_mi(flat, b), abs=1e-12)
    assert mutual_information(flat, b) == 0.0


def test_entropy_is_self_information():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 4000).astype(np.uint8)
    counts = np.bincount(a) / a.size
    assert entropy(a) == pytest.approx(-(counts * np.log(counts)).sum(), abs=1e-12)
    assert mutual_information(a, a) == pytest.approx(entropy(a), abs=1e-12)


def test_normalized_mi():
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    assert normalized_mutual_information(raw, raw) == pytest.approx(1.0)
    seg = raw.copy()
    seg[:16] = 0
    value = normalized_mutual_information(seg, seg, reference=raw)
    assert value == pytest.approx(entropy(seg) / entropy(raw)) and 0 < value < 1
    assert normalized_mutual_information(seg, np.zeros_like(raw)) == 0.0


def test_letterbox_keeps_aspect_and_values():
    image = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3) + 1
    assert letterbox(image, 8).shape == (8, 8, 3)
    boxed = letterbox(image, 8, resample="nearest")
    assert boxed.shape == (8, 8, 3)
    assert not boxed[:2].any() and not boxed[6:].any()
    assert set(np.unique(boxed)) - {0} == set(np.unique(image))
    assert letterbox(np.ones((3, 3), np.uint8), 6).shape == (6, 6)
    with pytest.raises(ValueError, match="size"):
        letterbox(image, 0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="values"):
        mutual_information(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="empty"):
        mutual_information(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="bins"):
        mutual_information(np.zeros(3), np.zeros(3), bins=0)
