"""Image embeddings for DP-FedEmb: a small GroupNorm backbone, the local head, retrieval metrics.

- :class:`EmbeddingNet` maps RGB batches ``(N, 3, H, W)`` in [-1, 1] to
  L2-normalised embeddings ``e`` with ``||e||_2 = 1``. It uses GroupNorm or no
  normalisation, never BatchNorm: per-client clipping needs every client's
  update to depend on that client's images only.
- :func:`head_logits` is the local, bias-free dense head ``z = W e``, or with
  ``cosine=True`` ``z_c = s * <w_c / ||w_c||, e>`` with a learned scale ``s``.
- :func:`recall_at_1` and :func:`tar_at_far` evaluate embeddings of held-out
  identities.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spinml import checks

__all__ = ["EmbeddingNet", "NORMS", "check_shape", "head_logits", "recall_at_1", "tar_at_far"]


NORMS = ("group", "none")
"""Normalisations of :class:`EmbeddingNet`'s convolutions."""


def _block(c_in: int, c_out: int, stride: int, norm: str) -> list[nn.Module]:
    conv = nn.Conv2d(c_in, c_out, 3, stride, padding=1)
    return [conv, nn.GroupNorm(4, c_out), nn.ReLU()] if norm == "group" else [conv, nn.ReLU()]


def check_shape(dim: object, widths: object, norm: object) -> None:
    """Raise a ValueError naming the setting when :class:`EmbeddingNet` cannot be built
    with ``dim``, ``widths`` and ``norm``."""
    checks.positive_int(dim, "dim")
    if (not isinstance(widths, (tuple, list)) or len(widths) != 3
            or not all(checks.is_integer(w) and w >= 4 and w % 4 == 0 for w in widths)):
        raise ValueError(f"widths must be three multiples of 4, got {widths!r}")
    checks.one_of(norm, "norm", NORMS)


class EmbeddingNet(nn.Module):
    """Three 3x3 convolutions (each followed by ``norm`` and ReLU), global average
    pooling and a linear map to ``dim`` features, L2-normalised.

    Each convolution halves the resolution (16 px -> 2 x 2 maps). ``widths=(8, 16, 32)``,
    ``dim=32`` has 7.2 k parameters: small enough that a round over many clients
    runs on a CPU.

    ``norm="group"``: GroupNorm with 4 groups, ``y = (h - mean_g h) / std_g h``
    per image over each group's channels and positions (then a learned affine),
    which is invariant to ``h -> a h + b`` with ``a > 0`` common to a group. At the
    first layer ``h = W * x + b``: for a target on black shown ``a`` times brighter,
    ``h`` becomes ``a (W * x) + b``, so its brightness is divided out (exactly
    when the biases within a group are equal) together with much of its colour.
    ``norm="none"`` (plain convolutions and ReLU) keeps it; both depend on
    each image alone.
    """

    def __init__(self, dim: int = 32, widths: tuple[int, int, int] = (8, 16, 32),
                 norm: str = "group") -> None:
        super().__init__()
        check_shape(dim, widths, norm)
        a, b, c = widths
        self.features = nn.Sequential(
            *_block(3, a, 2, norm), *_block(a, b, 2, norm), *_block(b, c, 2, norm),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.project = nn.Linear(c, dim)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.project(self.features(x)), dim=-1)


def head_logits(head: dict[str, torch.Tensor], embeddings: torch.Tensor,
                cosine: bool) -> torch.Tensor:
    """Logits of the local head over a client's ``K`` classes: ``(N, K)``.

    ``head["weight"]`` is ``W`` ``(K, D)``. Dense: ``z = e W^T``. Cosine:
    ``z = s * e (W / ||W||_rows)^T`` with ``s = head["scale"]`` (a learned scalar).
    """
    weight = head["weight"]
    if cosine:
        return head["scale"] * embeddings @ F.normalize(weight, dim=-1).T
    return embeddings @ weight.T


def _similarities(embeddings: np.ndarray, identities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    emb = np.asarray(embeddings, dtype=np.float64)
    ids = np.asarray(identities)
    if emb.ndim != 2 or len(emb) != len(ids) or len(emb) < 2:
        raise ValueError(f"need embeddings (N, D) with N >= 2 and N identities, "
                         f"got {emb.shape} and {ids.shape}")
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True).clip(1e-12)
    return emb @ emb.T, ids[:, None] == ids[None, :]


def recall_at_1(embeddings: np.ndarray, identities: np.ndarray) -> float:
    """Fraction of images whose nearest other image (cosine similarity) shows the
    same identity: ``mean_i [id(argmax_{j != i} <e_i, e_j>) = id(i)]``, in [0, 1].

    Only images whose identity appears at least twice are queries.
    """
    sim, same = _similarities(embeddings, identities)
    np.fill_diagonal(sim, -np.inf)
    np.fill_diagonal(same, False)
    queries = same.any(axis=1)
    if not queries.any():
        raise ValueError("no identity appears twice: recall@1 is undefined")
    nearest = sim.argmax(axis=1)
    return float(same[np.arange(len(sim)), nearest][queries].mean())


def tar_at_far(embeddings: np.ndarray, identities: np.ndarray, far: float = 1e-3) -> float:
    """Verification true-accept rate at false-accept rate ``far``, in [0, 1].

    Over all unordered pairs ``i < j``: the threshold ``t`` is the ``1 - far``
    quantile of the impostor (different identity) similarities, and
    ``TAR = mean over genuine pairs of [<e_i, e_j> > t]``.
    """
    if not 0 < far < 1:
        raise ValueError(f"far must be in (0, 1), got {far!r}")
    sim, same = _similarities(embeddings, identities)
    upper = np.triu_indices(len(sim), k=1)
    sim, same = sim[upper], same[upper]
    if not same.any() or same.all():
        raise ValueError("need both genuine and impostor pairs for TAR@FAR")
    threshold = np.quantile(sim[~same], 1 - far)
    return float((sim[same] > threshold).mean())
