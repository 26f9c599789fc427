"""DP-FedEmb: user-level differentially private federated embedding training (DP-FedEmb,
CVPR 2023: "Learning to Generate Image Embeddings with User-level Differential Privacy").

A global backbone (:class:`~spinml.federated.embedding.EmbeddingNet`) is
pre-trained on public data, then trained privately over a population of users::

    from spinml.data import miniworld
    fed = miniworld.federated(2000, size=32)
    pub = miniworld.public(2000, n_pets=1000, size=32)
    trainer = DPFedEmbTrainer(q=0.1, sigma=1.0, rounds=30, crop="target", norm="none",
                              client_lr=0.1, local_epochs=3, server_lr=0.5)
    trainer.pretrain(pub).fit(fed)
    trainer.evaluate(fed.heldout)        # {'recall_at_1': ..., 'tar_at_far': ..., ...}
    print(trainer.epsilon(delta=1 / 2000))

``crop="target"`` trains and evaluates on the pet alone (:func:`crop_target`):
on whole mini-world images the embedding learns each user's room, which
held-out identities never share, and recall@1 stays at chance.

Each round (:meth:`DPFedEmbTrainer.fit`): sample virtual clients, run their
local updates (vectorised over clients), clip each
backbone delta to norm ``C``, sum, add noise and average
(:mod:`spinml.federated.aggregators`), and step the server optimiser. The local
heads never leave the clients. Privacy: :mod:`spinml.federated.accounting`.

The noise and the client sample come from a secret key drawn from the operating
system for each run (:mod:`spinml.federated.noise`), not from ``seed``: ``seed``
is public (the virtual clients' salt, the initialisation, the clients' local
data order and heads). ``noise_seed=n`` makes them reproducible for tests, and
the privacy record then says that the guarantee does not hold. At ``sigma = 0``
there is no guarantee to keep and the sample comes from ``seed``, so
non-private runs reproduce.

The client side: virtual clients and the local update.

A virtual client merges users (:func:`virtual_clients`): with
``users_per_client = 1`` it is one user; with ``users_per_client = k > 1``
there are ``B`` clients (public, fixed for the run; ``max(1, floor(U / k))`` by
default) and user ``u`` goes to client
``int(blake2b(f"{seed}:{key_u}")) mod B``, where ``key_u`` comes from the user's
own data only. Adding or removing one user then changes the data of exactly
one client, which is what makes the epsilon of :mod:`spinml.federated.accounting`
user-level. A client's identities are relabelled ``0 .. K-1`` in order of first
appearance. Its local update, from the global backbone ``theta``:

1. a fresh local head (``K x D``, rows ``N(0, 1/D)``, cosine scale ``s_0``) from
   the generator of ``(seed, round, client)``;
2. ``head_steps`` SGD steps on the head only (reconstruction), on the first
   batches of the shuffled images (cycling);
3. ``epochs`` epochs of SGD on backbone and head together, batches of
   ``batch_size`` in a fresh order each epoch;
4. it returns the backbone delta ``theta_local - theta`` only; the head stays local.

Every step minimises the mean cross-entropy of the head's logits over the batch.
:func:`client_deltas` runs this for many clients at once with
``torch.func.vmap`` (padding batches with zero-weight rows and steps with
all-zero weights, which leave the parameters exactly unchanged), or client by
client (``vectorised=False``, the reference). A client without users (an empty
hashed bucket) does not train: its delta is exactly zero.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap
from tqdm.auto import tqdm

from spinml import checks
from spinml.estimator import Estimator
from spinml.federated import accounting
from spinml.federated.aggregators import DPFTRL, DPFedAvg, ServerMomentum, clip_deltas
from spinml.federated.embedding import (
    EmbeddingNet,
    check_shape,
    head_logits,
    recall_at_1,
    tar_at_far,
)
from spinml.federated.noise import NoiseSource
from spinml.image import nhwc_to_nchw, segment_on_black, to_unit_range
from spinml.seeding import derive_seed

__all__ = ["DPFedEmbTrainer", "Client", "LocalSettings", "virtual_clients", "user_key",
           "client_of", "client_deltas", "user_arrays", "crop_target", "CROPS", "sample_clients",
           "population_users", "RoundSum",
           "flatten", "unflatten"]


@dataclass(frozen=True, eq=False)
class Client:
    """One virtual client: uint8 images ``(n, 3, H, W)``, labels in ``[0, n_classes)``,
    and the indices of the users it merges (none, ``n = 0``, for an empty bucket)."""

    images: torch.Tensor
    labels: torch.Tensor
    n_classes: int
    users: tuple[int, ...]


@dataclass(frozen=True)
class LocalSettings:
    """The client's training settings (client SGD learning rate ``lr``, batch size,
    epochs, reconstruction steps ``head_steps``, cosine head and its initial scale)."""

    lr: float = 0.01
    batch_size: int = 16
    epochs: int = 1
    head_steps: int = 0
    cosine: bool = True
    head_scale: float = 10.0
    seed: int = 0


CROPS = (None, "target")
"""The identity inputs :func:`user_arrays` can prepare: the whole image, or ``"target"``
(:func:`crop_target`)."""


def _bounds(occupied: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last true index along axis 1 of a boolean ``(n, L)`` array."""
    return occupied.argmax(axis=1), occupied.shape[1] - 1 - occupied[:, ::-1].argmax(axis=1)


def crop_target(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The target alone, on black, centred and scaled to fill the image.

    Image ``i`` (uint8 ``(H, W, 3)``) is first reduced to its target segment on
    black (:func:`spinml.sanitize.segment_on_black` with the boolean mask
    ``masks[i]``). Its mask's bounding box, rows ``[r_0, r_1]`` and columns
    ``[c_0, c_1]`` (pixel centres), gives the centre ``(r_c, c_c) = ((r_0 + r_1) / 2,
    (c_0 + c_1) / 2)`` and the side ``s = max(r_1 - r_0, c_1 - c_0) + 1`` of the
    square crop around it; that square (black outside the image) is resampled
    bilinearly to ``H x W``:
    ``out(y, x) = in(r_c + (y + 1/2 - H/2) s / H, c_c + (x + 1/2 - W/2) s / W)``.
    This is what a pet-identity embedding sees after detection and cropping: the
    pet at a fixed scale, without its room. An all-false mask gives a black image.
    """
    X = np.asarray(images)
    M = np.asarray(masks, dtype=bool)
    if X.ndim != 4 or X.shape[-1] != 3 or M.shape != X.shape[:3]:
        raise ValueError(f"expected images (n, H, W, 3) and masks (n, H, W), "
                         f"got {X.shape} and {M.shape}")
    n, H, W = M.shape
    if n == 0:
        return X.copy()
    masked = segment_on_black(X.reshape(n * H, W, 3), M.reshape(n * H, W)).reshape(X.shape)
    (r0, r1), (c0, c1) = _bounds(M.any(axis=2)), _bounds(M.any(axis=1))
    found = M.any(axis=(1, 2))
    side = np.where(found, np.maximum(r1 - r0, c1 - c0) + 1, max(H, W)).astype(np.float64)
    # affine_grid / grid_sample with align_corners=False: pixel k of an L-pixel axis
    # sits at (2 k + 1) / L - 1; the crop's centre and half-extent in those units.
    theta = np.zeros((n, 2, 3))
    theta[:, 0, 0], theta[:, 1, 1] = side / W, side / H
    theta[:, 0, 2] = np.where(found, (c0 + c1 + 1) / W - 1, 0.0)
    theta[:, 1, 2] = np.where(found, (r0 + r1 + 1) / H - 1, 0.0)
    x = nhwc_to_nchw(masked).float()
    grid = F.affine_grid(torch.from_numpy(theta).float(), [n, 3, H, W], align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _check_crop(crop: object) -> str | None:
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
    return crop


def user_arrays(user: object, index: int, crop: str | None = None) -> tuple[np.ndarray, list]:
    """``(X, identities)`` of one user: a set of images carrying ``.identity`` (e.g. a
    mini-world ``ReferenceSet``), or an ``(X, identities)`` tuple with ``X`` uint8
    ``(n, H, W, 3)``.

    ``crop="target"`` returns :func:`crop_target` of the images, with the masks of
    their ``target`` segments (a set of images), or the boolean masks ``(n, H, W)``
    given as a third tuple element ``(X, identities, masks)``.
    """
    crop = _check_crop(crop)
    masks = None
    if isinstance(user, tuple) and len(user) in (2, 3):
        X, ids = np.asarray(user[0]), list(user[1])
        masks = np.asarray(user[2], dtype=bool) if len(user) == 3 else None
    elif hasattr(user, "images"):
        images = list(user.images)
        missing = [im for im in images if not getattr(im, "identity", "")]
        if missing:
            raise ValueError(f"user {index}: image {missing[0].name} has no identity")
        X = np.stack([im.image for im in images]) if images else np.zeros((0, 1, 1, 3), np.uint8)
        ids = [im.identity for im in images]
        if crop:
            targets = [[s.mask for s in im.segments if s.label == "target"] for im in images]
            absent = [im for im, t in zip(images, targets, strict=True) if not t]
            if absent:
                raise ValueError(f"user {index}: image {absent[0].name} has no target segment")
            masks = np.stack([t[0] for t in targets]) if images else np.zeros((0, 1, 1), bool)
    else:
        raise TypeError(f"user {index} must be a set of images with identities or an "
                        f"(X, identities[, masks]) tuple, got {type(user).__name__}")
    if len(X) == 0:
        raise ValueError(f"user {index} has no images: every user needs at least one")
    if X.ndim != 4 or X.shape[-1] != 3 or X.dtype != np.uint8 or len(ids) != len(X):
        raise ValueError(f"user {index}: expected uint8 images (n, H, W, 3) and n identities, "
                         f"got {X.dtype} {X.shape} and {len(ids)} identities")
    if crop:
        if masks is None:
            raise ValueError(f"user {index}: crop={crop!r} needs target masks: give "
                             f"(X, identities, masks) or images with a target segment")
        if masks.shape != X.shape[:3]:
            raise ValueError(f"user {index}: masks {masks.shape} do not match images {X.shape}")
        X = crop_target(X, masks)
    return X, ids


def user_key(identities: Sequence[str]) -> str:
    """A user's stable key, from its own data only: the identities of its images,
    sorted and joined by newlines."""
    return "\n".join(sorted(identities))


def client_of(key: str, seed: int, n_clients: int) -> int:
    """The hashed virtual client of the user with key ``key``:
    ``int.from_bytes(blake2b(f"{seed}:{key}", 8 bytes), "big") mod n_clients``."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n_clients


def virtual_clients(users: Sequence[object], users_per_client: int, seed: int,
                    crop: str | None = None, n_clients: int | None = None) -> list[Client]:
    """Merge ``users`` into virtual clients; each user belongs to exactly one.

    Each user's images are prepared by :func:`user_arrays` (``crop``).

    - ``users_per_client = 1``: client ``i`` is user ``i``, so adding or removing
      a user adds or removes a client.
    - ``users_per_client = k > 1``: ``B = n_clients`` clients, by default
      ``max(1, floor(U / k))`` for ``U = len(users)``. ``B`` is a public parameter
      of the run, held fixed between neighbouring populations. User ``u`` goes to
      client :func:`client_of` ``(key_u, seed, B)``, with ``key_u =``
      :func:`user_key` of its identities: its client depends on its own data and
      the public salt ``seed`` only, so adding or removing one user changes the
      data of exactly one client and no other. Clients average ``U / B`` users;
      a client may have none (probability about ``e^(-k)``): it stays one of the
      ``B`` (sampled and counted like the others) and contributes a zero delta
      (:func:`client_deltas`).

    Within a client, users keep their order in ``users`` and identities are
    relabelled ``0 .. K-1`` in order of first appearance.
    """
    users_per_client = checks.positive_int(users_per_client, "users_per_client")
    if users_per_client > len(users):
        raise ValueError(f"users_per_client ({users_per_client}) is larger than the population "
                         f"({len(users)} users)")
    if n_clients is not None and users_per_client == 1:
        raise ValueError("n_clients applies to users_per_client > 1 only: with one user per "
                         "client there is one client per user")
    arrays = [user_arrays(u, i, crop) for i, u in enumerate(users)]
    shapes = {X.shape[1:] for X, _ in arrays}
    if len(shapes) != 1:
        raise ValueError(f"users' images have different sizes {sorted(shapes)}")
    if users_per_client == 1:
        groups = [[u] for u in range(len(users))]
    else:
        B = (max(1, len(users) // users_per_client) if n_clients is None
             else checks.positive_int(n_clients, "n_clients"))
        groups = [[] for _ in range(B)]
        for u, (_, ids) in enumerate(arrays):
            groups[client_of(user_key(ids), seed, B)].append(u)
    H, W, C = next(iter(shapes))
    clients = []
    for group in groups:
        X = (np.concatenate([arrays[u][0] for u in group]) if group
             else np.zeros((0, H, W, C), np.uint8))
        ids = [i for u in group for i in arrays[u][1]]
        index = {name: k for k, name in enumerate(dict.fromkeys(ids))}
        clients.append(Client(
            images=nhwc_to_nchw(X),
            labels=torch.tensor([index[i] for i in ids], dtype=torch.int64),
            n_classes=len(index), users=tuple(group)))
    return clients


def flatten(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Concatenate parameters (in dict order) into one flat vector."""
    return torch.cat([p.reshape(-1) for p in params.values()])


def unflatten(vector: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`flatten` for parameters shaped like ``like``."""
    out, start = {}, 0
    for name, p in like.items():
        out[name] = vector[start:start + p.numel()].view_as(p)
        start += p.numel()
    return out


def _generator(settings: LocalSettings, round_: int, client: int) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(settings.seed, 0, round_, client, bits=63))


def _plan(client: Client, settings: LocalSettings, gen: torch.Generator,
          dim: int) -> tuple[dict[str, torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """The fresh head and the batches (index tensors) of the head and the joint phase."""
    head = {"weight": torch.randn(client.n_classes, dim, generator=gen) / dim ** 0.5,
            "scale": torch.tensor(settings.head_scale)}
    n, b = len(client.labels), settings.batch_size
    epochs = [torch.randperm(n, generator=gen).split(b) for _ in range(settings.epochs)]
    head_batches = [epochs[0][i % len(epochs[0])] for i in range(settings.head_steps)]
    return head, head_batches, [batch for epoch in epochs for batch in epoch]


def _loss(backbone: nn.Module, cosine: bool, params: dict, head: dict, x: torch.Tensor,
          y: torch.Tensor, w: torch.Tensor, class_mask: torch.Tensor) -> torch.Tensor:
    """``sum_i w_i CE(z_i, y_i) / max(1, sum_i w_i)`` with classes outside ``class_mask``
    removed from the softmax."""
    logits = head_logits(head, functional_call(backbone, params, (to_unit_range(x),)), cosine)
    ce = F.cross_entropy(logits.masked_fill(~class_mask, float("-inf")), y, reduction="none")
    return (w * ce).sum() / w.sum().clamp_min(1.0)


def _sgd(params: dict, grads: dict, lr: float) -> dict:
    return {k: p - lr * grads[k] for k, p in params.items()}


def _local_reference(backbone: nn.Module, theta: dict, client: Client, settings: LocalSettings,
                     round_: int, client_id: int) -> torch.Tensor:
    head, head_batches, batches = _plan(client, settings, _generator(settings, round_, client_id),
                                        backbone.dim)
    mask = torch.ones(client.n_classes, dtype=torch.bool)

    def loss(params: dict, head: dict, idx: torch.Tensor) -> torch.Tensor:
        return _loss(backbone, settings.cosine, params, head, client.images[idx],
                     client.labels[idx], torch.ones(len(idx)), mask)

    params = theta
    for idx in head_batches:
        head = _sgd(head, grad(loss, argnums=1)(params, head, idx), settings.lr)
    for idx in batches:
        g_params, g_head = grad(loss, argnums=(0, 1))(params, head, idx)
        params, head = _sgd(params, g_params, settings.lr), _sgd(head, g_head, settings.lr)
    return flatten(params) - flatten(theta)


def _pad_steps(plans: list[list[torch.Tensor]], batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Index ``(G, S, B)`` and weight ``(G, S, B)`` tensors; padding has weight 0."""
    steps = max(len(p) for p in plans)
    idx = torch.zeros(len(plans), steps, batch, dtype=torch.int64)
    weight = torch.zeros(len(plans), steps, batch)
    for g, plan in enumerate(plans):
        for s, b in enumerate(plan):
            idx[g, s, :len(b)], weight[g, s, :len(b)] = b, 1.0
    return idx, weight


def _local_vectorised(backbone: nn.Module, theta: dict, clients: Sequence[Client],
                      settings: LocalSettings, round_: int,
                      client_ids: Sequence[int]) -> torch.Tensor:
    G, dim = len(clients), backbone.dim
    plans = [_plan(c, settings, _generator(settings, round_, i), dim)
             for c, i in zip(clients, client_ids, strict=True)]
    n_max = max(len(c.labels) for c in clients)
    k_max = max(c.n_classes for c in clients)
    images = torch.zeros(G, n_max, *clients[0].images.shape[1:], dtype=torch.uint8)
    labels = torch.zeros(G, n_max, dtype=torch.int64)
    mask = torch.zeros(G, k_max, dtype=torch.bool)
    head = {"weight": torch.zeros(G, k_max, dim),
            "scale": torch.stack([p[0]["scale"] for p in plans])}
    for g, (c, (h, _, _)) in enumerate(zip(clients, plans, strict=True)):
        images[g, :len(c.labels)], labels[g, :len(c.labels)] = c.images, c.labels
        mask[g, :c.n_classes] = True
        head["weight"][g, :c.n_classes] = h["weight"]
    rows = torch.arange(G)[:, None]

    def loss(params: dict, head: dict, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor,
             m: torch.Tensor) -> torch.Tensor:
        return _loss(backbone, settings.cosine, params, head, x, y, w, m)

    head_grad = vmap(grad(loss, argnums=1))
    joint_grad = vmap(grad(loss, argnums=(0, 1)))
    params = {k: v.expand(G, *v.shape).clone() for k, v in theta.items()}
    if settings.head_steps:
        idx, w = _pad_steps([p[1] for p in plans], settings.batch_size)
        for s in range(idx.shape[1]):
            b = idx[:, s]
            g_head = head_grad(params, head, images[rows, b], labels[rows, b], w[:, s], mask)
            head = _sgd(head, g_head, settings.lr)
    idx, w = _pad_steps([p[2] for p in plans], settings.batch_size)
    for s in range(idx.shape[1]):
        b = idx[:, s]
        g_params, g_head = joint_grad(params, head, images[rows, b], labels[rows, b], w[:, s], mask)
        params, head = _sgd(params, g_params, settings.lr), _sgd(head, g_head, settings.lr)
    return torch.cat([p.reshape(G, -1) for p in params.values()], dim=1) - flatten(theta)


def client_deltas(backbone: nn.Module, theta: dict[str, torch.Tensor], clients: Sequence[Client],
                  settings: LocalSettings, round_: int, client_ids: Sequence[int],
                  vectorised: bool = True) -> torch.Tensor:
    """Unclipped backbone deltas ``(G, P)`` of ``clients`` (ids ``client_ids``) in round
    ``round_``, starting from the backbone parameters ``theta``.

    ``vectorised=True`` trains all clients at once with ``vmap``; ``False`` one
    by one. Both give the same deltas up to float rounding. A client without
    images (an empty hashed bucket, :func:`virtual_clients`) gets the delta 0.
    """
    deltas = torch.zeros(len(clients), sum(p.numel() for p in theta.values()))
    active = [g for g, c in enumerate(clients) if len(c.labels)]
    if not active:
        return deltas
    theta = {k: v.detach() for k, v in theta.items()}
    trained, ids = [clients[g] for g in active], [client_ids[g] for g in active]
    if vectorised:
        deltas[active] = _local_vectorised(backbone, theta, trained, settings, round_, ids)
    else:
        deltas[active] = torch.stack([_local_reference(backbone, theta, c, settings, round_, i)
                                      for c, i in zip(trained, ids, strict=True)])
    return deltas


def population_users(population: object) -> Sequence[object]:
    """The users of ``population``: a mini-world ``Federation`` (its ``users``) or a
    non-empty sequence of users."""
    users = getattr(population, "users", population)
    if not isinstance(users, Sequence) or not users:
        raise ValueError("population must be a Federation or a non-empty sequence of users")
    return users


RoundSum = Callable[[dict[str, torch.Tensor], Sequence[int], int],
                    tuple[torch.Tensor, torch.Tensor]]
"""``(theta, client ids, round) -> (sum of the clipped deltas, norms before clipping)``."""


def sample_clients(aggregator: str, q: float, n_clients: int, round_: int,
                   source: NoiseSource) -> np.ndarray:
    """The ids of the virtual clients taking part in round ``round_`` (sorted), drawn
    from ``source`` (:mod:`spinml.federated.noise`; secret by default).

    ``fedavg``: each client independently with probability ``q`` (Poisson):
    client ``i`` is in when its uniform draw ``u_i < q``.
    ``ftrl``: the clients are shuffled once per epoch of ``ceil(1 / q)`` rounds
    and round ``t`` of the epoch takes the ``t``-th of ``ceil(1 / q)`` near-equal slices.
    """
    if aggregator == "fedavg":
        return np.flatnonzero(source.uniform(n_clients, "sample", round_) < q)
    per_epoch = int(np.ceil(1 / q))
    epoch, t = divmod(round_, per_epoch)
    order = source.permutation(n_clients, "order", epoch)
    return np.sort(np.array_split(order, per_epoch)[t])


class DPFedEmbTrainer(Estimator):
    """User-level DP federated training of an embedding backbone (DP-FedEmb).

    Parameters
    ----------
    q
        Client sampling rate per round, in (0, 1] (DP-FTRL: fraction per round).
    clip
        ``C``, the L2 norm to which each client's backbone delta is clipped.
    sigma
        Noise multiplier: the noise on the clipped sum has std ``sigma * C``.
    rounds
        Server rounds of :meth:`fit`.
    users_per_client, n_clients
        ``k`` users per virtual client: ``1``, one client per user; ``k > 1``,
        users hashed into ``B = n_clients`` clients (``None``:
        ``max(1, floor(U / k))``), a public parameter of the run
        (:func:`virtual_clients`). Either way the epsilon is user-level
        (:mod:`spinml.federated.accounting`).
    aggregator
        ``"fedavg"`` (DP-FedAvg, Poisson sampling) or ``"ftrl"`` (DP-FTRL, tree aggregation).
    client_lr, batch_size, local_epochs, head_steps, cosine
        Client SGD learning rate, batch size, epochs; head-only reconstruction
        steps before them; cosine head with a learned scale (else a dense head).
    server_lr, server_momentum
        Server SGD with momentum on the averaged delta.
    dim, widths, norm
        Embedding size, the backbone's channel widths and its normalisation
        (``"group"`` or ``"none"``; :class:`~spinml.federated.embedding.EmbeddingNet`).
    pretrain_epochs, pretrain_lr
        Public pre-training (Adam, batch 64, cosine head over public identities).
    crop
        What the embedding sees of every image (public, users, held-out):
        ``None`` the whole image, ``"target"`` the target (pet) alone, cropped and
        scaled (:func:`crop_target`; needs target masks).
    chunk
        Clients trained at once by ``vmap``.
    vectorised
        ``False`` runs clients one by one (the reference path).
    seed, progress
        The public seed (virtual clients' salt, initialisation, local data order
        and heads): same seed, same numbers on the CPU, except the noise and the
        client sample at ``sigma > 0``; ``tqdm`` progress bars.
    noise_seed
        ``None`` (default): the noise and the client sample come from a secret key
        drawn from the operating system for each :meth:`fit`
        (:mod:`spinml.federated.noise`), so nobody can regenerate them from the
        settings. An integer makes them reproducible, for tests: :meth:`fit` warns
        and :meth:`epsilon`'s record says that the guarantee does not hold.
    """

    _PARAMS = ("q", "clip", "sigma", "rounds", "users_per_client", "n_clients", "aggregator",
               "client_lr", "batch_size", "local_epochs", "head_steps", "cosine", "server_lr",
               "server_momentum", "dim", "widths", "norm", "pretrain_epochs", "pretrain_lr", "crop",
               "chunk", "vectorised", "seed", "progress", "noise_seed")

    def __init__(self, q: float = 0.01, clip: float = 1.0, sigma: float = 1.0, rounds: int = 100,
                 users_per_client: int = 4, n_clients: int | None = None,
                 aggregator: str = "fedavg", client_lr: float = 0.01,
                 batch_size: int = 16, local_epochs: int = 1, head_steps: int = 0,
                 cosine: bool = True, server_lr: float = 0.1, server_momentum: float = 0.9,
                 dim: int = 32, widths: tuple[int, int, int] = (8, 16, 32), norm: str = "group",
                 pretrain_epochs: int = 10, pretrain_lr: float = 3e-3,
                 crop: str | None = None, chunk: int = 64,
                 vectorised: bool = True, seed: int = 0, progress: bool = True,
                 noise_seed: int | None = None) -> None:
        self.q, self.clip, self.sigma, self.rounds = q, clip, sigma, rounds
        self.users_per_client, self.n_clients = users_per_client, n_clients
        self.aggregator = aggregator
        self.client_lr, self.batch_size, self.local_epochs = client_lr, batch_size, local_epochs
        self.head_steps, self.cosine = head_steps, cosine
        self.server_lr, self.server_momentum = server_lr, server_momentum
        self.dim, self.widths, self.norm = dim, widths, norm
        self.pretrain_epochs, self.pretrain_lr, self.crop = pretrain_epochs, pretrain_lr, crop
        self.chunk, self.vectorised, self.seed, self.progress = chunk, vectorised, seed, progress
        self.noise_seed = noise_seed
        self._check_params(self.get_params())

    def _check_params(self, params: dict[str, Any]) -> None:
        accounting.check_q(params["q"])
        accounting.check_clip(params["clip"])
        accounting.check_sigma(params["sigma"])
        _check_crop(params["crop"])
        checks.one_of(params["aggregator"], "aggregator", ("fedavg", "ftrl"))
        for name in ("rounds", "users_per_client", "batch_size", "local_epochs", "chunk"):
            checks.positive_int(params[name], name)
        if params["n_clients"] is not None:
            checks.positive_int(params["n_clients"], "n_clients")
            if params["users_per_client"] == 1:
                raise ValueError("n_clients applies to users_per_client > 1 only: with one user "
                                 "per client there is one client per user")
        accounting.check_noise_seed(params["noise_seed"])
        for name in ("head_steps", "pretrain_epochs", "seed"):
            checks.non_negative_int(params[name], name)
        for name in ("client_lr", "server_lr", "pretrain_lr"):
            checks.positive_number(params[name], name)
        checks.in_interval(params["server_momentum"], "server_momentum", 0, 1, "[)")
        check_shape(params["dim"], params["widths"], params["norm"])
        for name in ("cosine", "vectorised", "progress"):
            checks.boolean(params[name], name)

    @property
    def local_settings(self) -> LocalSettings:
        """The clients' training settings."""
        return LocalSettings(lr=self.client_lr, batch_size=self.batch_size,
                             epochs=self.local_epochs, head_steps=self.head_steps,
                             cosine=self.cosine, seed=self.seed)

    def get_backbone(self) -> EmbeddingNet:
        """The backbone: pre-trained or trained, else a fresh one initialised from ``seed``
        (kept as ``backbone_``)."""
        if not hasattr(self, "backbone_"):
            torch.manual_seed(self.seed)
            self.backbone_ = EmbeddingNet(self.dim, tuple(self.widths), self.norm)
        return self.backbone_

    # ------------------------------------------------------------------ public pre-training

    def pretrain(self, public: object) -> DPFedEmbTrainer:
        """Non-private pre-training of the backbone on ``public`` images with identities
        (a mini-world ``ReferenceSet`` or ``(X, identities)``): ``pretrain_epochs``
        epochs of Adam on the cross-entropy of a cosine head over all public identities."""
        X, ids = user_arrays(public, 0, self.crop)
        index = {name: k for k, name in enumerate(dict.fromkeys(ids))}
        images = nhwc_to_nchw(X)
        labels = torch.tensor([index[i] for i in ids])
        backbone = self.get_backbone()
        gen = torch.Generator().manual_seed(self.seed)
        head = {"weight": torch.nn.Parameter(torch.randn(len(index), self.dim, generator=gen)),
                "scale": torch.nn.Parameter(torch.tensor(10.0))}
        opt = torch.optim.Adam([*backbone.parameters(), *head.values()], lr=self.pretrain_lr)
        steps = self.pretrain_epochs * -(-len(labels) // 64)
        with tqdm(total=steps, desc="public pre-training", disable=not self.progress,
                  leave=False) as bar:
            for _ in range(self.pretrain_epochs):
                for idx in torch.randperm(len(labels), generator=gen).split(64):
                    logits = head_logits(head, backbone(to_unit_range(images[idx])), cosine=True)
                    loss = F.cross_entropy(logits, labels[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    bar.update()
        return self

    # ------------------------------------------------------------------ private training

    def fit(self, population: object) -> DPFedEmbTrainer:
        """Train the backbone privately for ``rounds`` rounds over ``population`` (a
        mini-world ``Federation`` or a sequence of users), starting from the current
        backbone (pre-trained, or freshly initialised from ``seed``); returns ``self``.

        Sets ``clients_`` (the virtual clients), ``history_`` (per round: clients
        sampled, empty ones included, mean delta norm before clipping, fraction
        clipped), ``rounds_run_`` and ``noise_seed_`` (the run's ``noise_seed``). The
        noise and the sample come from :meth:`noise_source`.
        """
        self.clients_ = virtual_clients(population_users(population), self.users_per_client,
                                        self.seed, self.crop, self.n_clients)
        return self.train_rounds(len(self.clients_), self.round_sum)

    def train_rounds(self, n_clients: int, round_sum: RoundSum) -> DPFedEmbTrainer:
        """The server's loop over ``rounds`` rounds of ``n_clients`` virtual clients, from
        :meth:`get_backbone`: sample the round's clients and draw its noise from one
        :meth:`noise_source`, get the sum of their clipped deltas and their norms before
        clipping from ``round_sum(theta, ids, round)`` (:meth:`round_sum` in this
        process; the Flower ServerApp asks its SuperNodes), aggregate with noise
        (:meth:`make_aggregator`) and step the server optimiser. Sets ``history_``,
        ``rounds_run_`` and ``noise_seed_``; returns ``self``."""
        backbone = self.get_backbone()
        shapes = {k: v.detach() for k, v in backbone.named_parameters()}
        theta = flatten(shapes).clone()
        source = self.noise_source()
        aggregator = self.make_aggregator(n_clients, source)
        optimiser = ServerMomentum(self.server_lr, self.server_momentum)
        self.history_ = []
        for t in tqdm(range(self.rounds), desc="DP-FedEmb rounds", disable=not self.progress,
                      leave=False):
            ids = sample_clients(self.aggregator, self.q, n_clients, t, source)
            total, norms = round_sum(unflatten(theta, shapes), ids, t)
            theta = optimiser.step(theta, aggregator.aggregate(total, t))
            seen = len(ids) > 0
            self.history_.append({"round": t, "clients": len(ids),
                                  "mean_norm": float(norms.mean()) if seen else 0.0,
                                  "clipped": float((norms > self.clip).float().mean()) if seen
                                  else 0.0})
        torch.nn.utils.vector_to_parameters(theta, backbone.parameters())
        self.rounds_run_, self.noise_seed_ = self.rounds, self.noise_seed
        return self

    def noise_source(self) -> NoiseSource:
        """A fresh source of one run's noise and client sample
        (:mod:`spinml.federated.noise`): secure unless ``noise_seed`` is set (then
        reproducible, with a warning); at ``sigma = 0``, reproducible from ``seed``."""
        if self.noise_seed is not None:
            warnings.warn(f"noise_seed = {self.noise_seed}: the noise and the client sample are "
                          f"reproducible by anyone who knows it, so the privacy guarantee does "
                          f"not hold (for tests only)", UserWarning, stacklevel=3)
            return NoiseSource(self.noise_seed)
        return NoiseSource(self.seed) if self.sigma == 0 else NoiseSource()

    def make_aggregator(self, n_clients: int,
                        source: NoiseSource | None = None) -> DPFedAvg | DPFTRL:
        """The noisy aggregator for a population of ``n_clients`` virtual clients, drawing
        its noise from ``source`` (``None``: :meth:`noise_source`)."""
        source = self.noise_source() if source is None else source
        if self.aggregator == "fedavg":
            return DPFedAvg(self.clip, self.sigma, self.q * n_clients, source)
        per_epoch = int(np.ceil(1 / self.q))
        return DPFTRL(self.clip, self.sigma, max(1, n_clients // per_epoch), per_epoch, source)

    def server(self, n_clients: int) -> DPFedAvg | DPFTRL:
        """Deprecated name of :meth:`make_aggregator` (goes in spinml 0.3)."""
        warnings.warn("DPFedEmbTrainer.server is now make_aggregator; the old name goes in "
                      "spinml 0.3", DeprecationWarning, stacklevel=2)
        return self.make_aggregator(n_clients)

    def round_sum(self, theta: dict[str, torch.Tensor], ids: Sequence[int],
                  round_: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Sum of the clipped deltas of clients ``ids`` in round ``round_``, and their
        norms before clipping (0 for an empty client). Clients are trained in chunks of
        similar size."""
        clients: list[Client] = self.clients_
        backbone = self.get_backbone()
        total = torch.zeros(sum(v.numel() for v in theta.values()))
        order = sorted(ids, key=lambda i: len(clients[i].labels))
        norms = []
        for start in range(0, len(order), self.chunk):
            part = order[start:start + self.chunk]
            deltas = client_deltas(backbone, theta, [clients[i] for i in part],
                                   self.local_settings, round_, part, self.vectorised)
            norms.append(deltas.norm(dim=1))
            total += clip_deltas(deltas, self.clip).sum(0)
        return total, torch.cat(norms) if norms else torch.zeros(0)

    # ------------------------------------------------------------------ privacy

    def epsilon(self, delta: float, accountant: str = "pld") -> accounting.PrivacyRecord:
        """The user-level (epsilon, delta) guarantee of the rounds run (``rounds`` before
        :meth:`fit`) with ``users_per_client`` users per client, from ``dp-accounting``'s
        ``accountant`` (``"pld"``; ``"rdp"`` for ``users_per_client = 1`` or DP-FTRL only;
        :func:`~spinml.federated.accounting.epsilon`). The record's ``n_clients`` is ``B``:
        the clients of :meth:`fit`, else ``n_clients``; its ``noise`` says whether the
        noise of :meth:`fit` (else the one ``noise_seed`` asks for) was secure."""
        clients = getattr(self, "clients_", None)
        return accounting.epsilon(delta, q=self.q, sigma=self.sigma,
                                  rounds=getattr(self, "rounds_run_", self.rounds),
                                  accountant=accountant, aggregator=self.aggregator,
                                  users_per_client=self.users_per_client,
                                  n_clients=self.n_clients if clients is None else len(clients),
                                  noise_seed=getattr(self, "noise_seed_", self.noise_seed))

    @staticmethod
    def calibrate(target_epsilon: float, delta: float, rounds: int, q: float,
                  accountant: str = "pld", users_per_client: int = 1) -> float:
        """The noise multiplier ``sigma`` reaching ``target_epsilon`` at ``delta`` after
        ``rounds`` DP-FedAvg rounds with Poisson sampling rate ``q``, under the relation
        of :meth:`epsilon` for ``users_per_client``
        (:func:`~spinml.federated.accounting.calibrate_sigma`)."""
        return accounting.calibrate_sigma(target_epsilon, delta, rounds, q, accountant,
                                          users_per_client)

    # ------------------------------------------------------------------ evaluation

    def embed(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """L2-normalised embeddings ``(N, dim)`` of uint8 images ``(N, H, W, 3)``, as
        prepared for the model (with ``crop="target"``: outputs of :func:`crop_target`)."""
        if not hasattr(self, "backbone_"):
            raise RuntimeError("the trainer has no backbone yet: call pretrain() or fit() first")
        x = nhwc_to_nchw(images)
        with torch.no_grad():
            embeddings = [self.backbone_(to_unit_range(b)) for b in x.split(batch_size)]
            return torch.cat(embeddings).numpy()

    def evaluate(self, heldout: object, far: float = 1e-3) -> dict[str, float]:
        """Retrieval on held-out identities: ``recall_at_1`` and ``tar_at_far``
        (verification true-accept rate at false-accept rate ``far``); images prepared
        with ``crop`` like the training data."""
        X, ids = user_arrays(heldout, 0, self.crop)
        emb = self.embed(X)
        return {"recall_at_1": recall_at_1(emb, np.asarray(ids)),
                "tar_at_far": tar_at_far(emb, np.asarray(ids), far), "far": far}
