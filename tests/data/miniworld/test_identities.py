"""Pet identities are separable by a nearest-neighbour colour histogram."""

import numpy as np

from spinml.data import ReferenceImage
from spinml.data import miniworld as mw


def _pet_histogram(image: ReferenceImage) -> np.ndarray:
    pixels = image.image[image.mask("target")] // 64
    codes = pixels[:, 0].astype(np.int64) * 16 + pixels[:, 1] * 4 + pixels[:, 2]
    hist = np.bincount(codes, minlength=64).astype(np.float64)
    return np.sqrt(hist / hist.sum())


def test_identities_are_separable_by_nearest_neighbour():
    n = 30
    refs = mw.public(n, n_pets=n, n_rooms=2 * n, heldout=True, seed=3, progress=False)
    pairs = [(refs[4 * k], refs[4 * k + 2]) for k in range(n)]  # sleeping and playing
    feats = np.stack([_pet_histogram(im) for pair in pairs for im in pair])
    ids = np.repeat(np.arange(n), 2)
    dist = np.linalg.norm(feats[:, None] - feats[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    top1 = (ids[dist.argmin(1)] == ids).mean()
    chance = 1 / (2 * n - 1)
    assert top1 > 5 * chance
