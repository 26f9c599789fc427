"""The mini-world's populations: public, private users, and a federated population.

- **public**: identities and rooms that no private user owns, mostly common
  features (``rarity`` :data:`PUBLIC_RARITY`). The bundled models pre-train
  on it; ``heldout=True`` gives other public identities and rooms, for
  validation.
- **private users** (:func:`user`): user ``i`` owns one pet and one room,
  drawn with many rare features (``rarity`` :data:`PRIVATE_RARITY`), a few
  reference images per class and a separate test set.
- **federated** (:func:`federated`): many users, each with one to three pets
  in their home, plus held-out identities for retrieval evaluation.

Every random draw comes from ``numpy.random.default_rng`` seeded from the tuple
``(split, kind, index, ..., seed)``, so a call's images never depend on how
many images were asked for: ``user(3, n_ref=5)`` holds the first five
references per class of ``user(3, n_ref=100)``, and both have the same test set.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from spinml.data.miniworld.identities import Pet
from spinml.data.miniworld.poses import ACTIVITIES
from spinml.data.miniworld.render import MiniWorldImage, check_seed, check_size, render
from spinml.data.miniworld.rooms import Room
from spinml.data.references import ReferenceSet

__all__ = [
    "PUBLIC_RARITY",
    "PRIVATE_RARITY",
    "Federation",
    "public",
    "user",
    "user_home",
    "federated",
]

PUBLIC_RARITY = 0.05
"""Probability that a public pet's or room's feature group is drawn from its rare range."""

PRIVATE_RARITY = 0.6
"""The same probability for private users' and the federated population's pets and rooms."""


def _seed(*keys: str | int) -> int:
    """A 64-bit seed from a tuple of names and integers (strings hashed with CRC-32)."""
    entropy = [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])


def _rng(*keys: str | int) -> np.random.Generator:
    return np.random.default_rng(_seed(*keys))


def _count(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _progress(total: int, progress: bool, what: str) -> tqdm:
    return tqdm(total=total, disable=not progress, desc=what, leave=False)


def public(
    n_per_class: int,
    *,
    n_pets: int | None = None,
    n_rooms: int | None = None,
    heldout: bool = False,
    seed: int = 0,
    size: int = 64,
    progress: bool = True,
) -> ReferenceSet:
    """The public part: ``n_per_class`` images of each activity, ``4 * n_per_class`` in all.

    Image ``4 k + a`` shows public pet ``(k + a n_per_class) mod n_pets`` doing
    activity ``a`` in a room drawn from ``n_rooms`` public rooms. Both default
    to ``n_per_class``: each pet does every activity once; ``n_pets = 4 n_per_class``
    gives every image its own pet. ``heldout=True`` draws from a disjoint
    set of public pets and rooms. Images are :class:`MiniWorldImage` (with
    ``caption`` and ``identity``).
    """
    n_per_class = _count(n_per_class, "n_per_class")
    n_pets = _count(n_per_class if n_pets is None else n_pets, "n_pets")
    n_rooms = _count(n_per_class if n_rooms is None else n_rooms, "n_rooms")
    seed, size = check_seed(seed), check_size(size)
    split = "public-heldout" if heldout else "public"
    pets = [
        Pet.sample(_rng(split, "pet", j, seed), rarity=PUBLIC_RARITY, name=f"{split}/pet{j}")
        for j in range(n_pets)
    ]
    rooms = [
        Room.sample(_rng(split, "room", j, seed), rarity=PUBLIC_RARITY, name=f"{split}/room{j}")
        for j in range(n_rooms)
    ]
    images = []
    with _progress(4 * n_per_class, progress, f"mini-world {split}") as bar:
        for k in range(n_per_class):
            for a, activity in enumerate(ACTIVITIES):
                i = 4 * k + a
                room = rooms[_seed(split, "room-of", i, seed) % n_rooms]
                images.append(
                    render(
                        pets[(k + a * n_per_class) % n_pets],
                        room,
                        activity,
                        size=size,
                        seed=_seed(split, "image", i, seed),
                        name=f"{split}/{i}",
                    )
                )
                bar.update()
    return ReferenceSet(images, classes=ACTIVITIES)


def user_home(index: int, *, seed: int = 0) -> tuple[Pet, Room]:
    """The pet and the room of private user ``index`` (0, 1, 2, ...)."""
    index = _count(index, "index", 0)
    seed = check_seed(seed)
    name = f"user{index}"
    pet = Pet.sample(_rng("user", "pet", index, seed), rarity=PRIVATE_RARITY, name=f"{name}/pet")
    room = Room.sample(
        _rng("user", "room", index, seed), rarity=PRIVATE_RARITY, name=f"{name}/room"
    )
    return pet, room


def user(
    index: int, *, n_ref: int = 5, n_test: int = 50, seed: int = 0, size: int = 64
) -> tuple[ReferenceSet, ReferenceSet]:
    """Private user ``index``: ``(references, test)``, ``n_ref`` / ``n_test`` images per class.

    All images show the user's own pet (:func:`user_home`) in their own room;
    the test set is disjoint from the references (other poses) and does not
    depend on ``n_ref``.
    """
    pet, room = user_home(index, seed=seed)
    n_ref = _count(n_ref, "n_ref")
    n_test = _count(n_test, "n_test", 0)
    size = check_size(size)

    def part(kind: str, n: int) -> ReferenceSet:
        images = [
            render(
                pet,
                room,
                activity,
                size=size,
                seed=_seed("user", kind, index, a, j, seed),
                name=f"user{index}/{kind}/{activity}/{j}",
            )
            for j in range(n)
            for a, activity in enumerate(ACTIVITIES)
        ]
        return ReferenceSet(images, classes=ACTIVITIES)

    return part("reference", n_ref), part("test", n_test)


@dataclass(frozen=True, eq=False)
class Federation:
    """A federated population for DP-FedEmb.

    ``users[u]`` holds the images of user ``u``'s one to three pets, all in that
    user's home; ``pets[u]`` names those pets. ``heldout`` holds images of
    identities that no user has, each image in a random room of a held-out
    pool, for retrieval evaluation. Every image carries its identity
    (``image.identity``, or :func:`~spinml.data.miniworld.identities` for a set)
    and its activity as the label.
    """

    users: tuple[ReferenceSet, ...]
    pets: tuple[tuple[str, ...], ...]
    heldout: ReferenceSet

    @property
    def n_identities(self) -> int:
        """Number of identities held by the users."""
        return sum(len(p) for p in self.pets)


def federated(
    n_users: int,
    *,
    n_identities: int | None = None,
    images_per_identity: int = 8,
    n_heldout: int = 100,
    heldout_images: int = 4,
    seed: int = 0,
    size: int = 64,
    progress: bool = True,
) -> Federation:
    """A federated population of ``n_users`` users holding ``n_identities`` pets in all.

    Each user holds one to three pets (so ``n_users <= n_identities <= 3 n_users``;
    default ``2 n_users``), each pet ``images_per_identity`` images cycling through
    the activities. ``n_heldout`` further identities get ``heldout_images`` images each.
    """
    n_users = _count(n_users, "n_users")
    n_identities = _count(2 * n_users if n_identities is None else n_identities, "n_identities")
    if n_identities < n_users:
        raise ValueError(
            f"n_users ({n_users}) is more than n_identities ({n_identities}): "
            "every user needs at least one pet"
        )
    if n_identities > 3 * n_users:
        raise ValueError(
            f"n_identities ({n_identities}) is more than 3 * n_users ({3 * n_users}): "
            "a user holds at most three pets"
        )
    images_per_identity = _count(images_per_identity, "images_per_identity")
    n_heldout = _count(n_heldout, "n_heldout", 0)
    heldout_images = _count(heldout_images, "heldout_images")
    seed, size = check_seed(seed), check_size(size)

    total = n_identities * images_per_identity + n_heldout * heldout_images
    bar = _progress(total, progress, "mini-world federated")
    users, pets, first = [], [], 0
    for u, count in enumerate(_pets_per_user(n_users, n_identities, seed)):
        images, names = _federated_user(u, range(first, first + count), images_per_identity,
                                        seed, size, bar)
        users.append(images)
        pets.append(names)
        first += count
    heldout = _federated_heldout(n_heldout, heldout_images, seed, size, bar)
    bar.close()
    return Federation(tuple(users), tuple(pets), heldout)


def _pets_per_user(n_users: int, n_identities: int, seed: int) -> np.ndarray:
    """How many pets each user holds: one each, plus ``n_identities - n_users`` extra
    pets given to distinct half-users (so no user gets more than three)."""
    counts = np.ones(n_users, dtype=np.int64)
    extra = _rng("federated", "assign", n_users, n_identities, seed).choice(
        2 * n_users, n_identities - n_users, replace=False
    )
    np.add.at(counts, extra // 2, 1)
    return counts


def _federated_user(
    u: int, pet_indices: range, images_per_identity: int, seed: int, size: int, bar: tqdm
) -> tuple[ReferenceSet, tuple[str, ...]]:
    """User ``u``'s images (its pets ``pet_indices``, all in its one room) and pet names."""
    room = Room.sample(
        _rng("federated", "room", u, seed),
        rarity=PRIVATE_RARITY,
        name=f"federated/user{u}/room",
    )
    images: list[MiniWorldImage] = []
    names = []
    for j in pet_indices:
        pet = Pet.sample(
            _rng("federated", "pet", j, seed), rarity=PRIVATE_RARITY, name=f"federated/pet{j}"
        )
        names.append(pet.name)
        for i in range(images_per_identity):
            activity = ACTIVITIES[i % len(ACTIVITIES)]
            images.append(
                render(
                    pet,
                    room,
                    activity,
                    size=size,
                    seed=_seed("federated", "image", j, i, seed),
                    name=f"federated/user{u}/pet{j}/{i}",
                )
            )
            bar.update()
    return ReferenceSet(images, classes=ACTIVITIES), tuple(names)


def _federated_heldout(
    n_heldout: int, heldout_images: int, seed: int, size: int, bar: tqdm
) -> ReferenceSet:
    """``n_heldout`` identities no user has, each image in a random held-out room."""
    rooms = [
        Room.sample(
            _rng("federated-heldout", "room", r, seed),
            rarity=PRIVATE_RARITY,
            name=f"federated-heldout/room{r}",
        )
        for r in range(max(n_heldout, 1))
    ]
    heldout = []
    for h in range(n_heldout):
        pet = Pet.sample(
            _rng("federated-heldout", "pet", h, seed),
            rarity=PRIVATE_RARITY,
            name=f"federated-heldout/pet{h}",
        )
        for i in range(heldout_images):
            room = rooms[_seed("federated-heldout", "room-of", h, i, seed) % len(rooms)]
            heldout.append(
                render(
                    pet,
                    room,
                    ACTIVITIES[i % len(ACTIVITIES)],
                    size=size,
                    seed=_seed("federated-heldout", "image", h, i, seed),
                    name=f"federated-heldout/pet{h}/{i}",
                )
            )
            bar.update()
    return ReferenceSet(heldout, classes=ACTIVITIES)
