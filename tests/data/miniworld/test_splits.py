"""The mini-world splits: public, user, federated; disjoint pets and rooms; bad arguments."""

import numpy as np
import pytest

from spinml.data import ReferenceImage, ReferenceSet
from spinml.data import miniworld as mw
from tests.data.miniworld.test_render import _assert_partition


def test_masks_partition_the_image_and_props_match_activities():
    refs = mw.public(6, progress=False)
    assert isinstance(refs, ReferenceSet) and refs.classes == mw.ACTIVITIES
    assert len(refs) == 24
    for image in refs:
        assert isinstance(image, ReferenceImage) and image.size == (64, 64)
        _assert_partition(image)
        if "bowl" in image.objects:
            assert image.label == "eating"
        if "ball" in image.objects:
            assert image.label == "playing"
    assert sum("bowl" in im.objects for im in refs) >= 4
    assert sum("ball" in im.objects for im in refs) >= 4
    x, y = refs.to_arrays()
    assert x.shape == (24, 64, 64, 3) and list(y[:4]) == [0, 1, 2, 3]
    assert len(set(mw.identities(refs))) == 6
    assert len(set(mw.identities(mw.public(2, n_pets=8, progress=False)))) == 8


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda p, r: mw.render(p, r, "running", seed=0), "activity"),
        (lambda p, r: mw.render(p, r, "eating", seed=0, size=0), "size"),
        (lambda p, r: mw.render(p, r, "eating", seed=0, size=513), "size"),
        (lambda p, r: mw.render(p, r, "eating", seed=-1), "seed"),
        (lambda p, r: mw.public(0), "n_per_class"),
        (lambda p, r: mw.public(2, size=1024), "size"),
        (lambda p, r: mw.user(-1), "index"),
        (lambda p, r: mw.user(0, n_ref=0), "n_ref"),
        (lambda p, r: mw.federated(5, n_identities=3), "n_users"),
        (lambda p, r: mw.federated(2, n_identities=7), "n_identities"),
        (lambda p, r: mw.federated(0), "n_users"),
        (lambda p, r: mw.Pet.sample(np.random.default_rng(0), rarity=2.0), "rarity"),
        (lambda p, r: mw.gallery([], n=1), "empty"),
    ],
)
def test_bad_parameters_raise(home, call, argument):
    with pytest.raises(ValueError, match=argument):
        call(*home)


def test_user_sets_do_not_depend_on_their_sizes():
    refs2, test2 = mw.user(1, n_ref=2, n_test=2)
    refs3, test3 = mw.user(1, n_ref=3, n_test=2)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(refs2, refs3[:8], strict=True))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(test2, test3, strict=True))
    assert not any(np.array_equal(a.image, b.image) for a in refs3 for b in test3)


def test_splits_are_disjoint():
    fed = mw.federated(6, n_heldout=5, heldout_images=2, images_per_identity=2, progress=False)
    assert fed.n_identities == 12 and len(fed.users) == 6
    assert all(1 <= len(p) <= 3 for p in fed.pets)
    for refs, pets in zip(fed.users, fed.pets, strict=True):
        assert set(mw.identities(refs)) == set(pets)
        assert len({im.room for im in refs}) == 1
    parts = {
        "public": mw.public(4, progress=False),
        "heldout": mw.public(4, heldout=True, progress=False),
        "users": ReferenceSet([im for u in range(4) for im in mw.user(u, n_ref=1, n_test=0)[0]]),
        "federated": ReferenceSet([im for refs in fed.users for im in refs]),
        "retrieval": fed.heldout,
    }
    pets = {k: set(mw.identities(v)) for k, v in parts.items()}
    rooms = {k: {im.room for im in v} for k, v in parts.items()}
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not pets[a] & pets[b], (a, b)
            assert not rooms[a] & rooms[b], (a, b)
    homes = [mw.user_home(u) for u in range(4)]
    assert len({pet for pet, _ in homes}) == 4 and len({room for _, room in homes}) == 4


