"""Where the DP-FedEmb server's random draws come from: the Gaussian noise and the client sample.

Privacy amplification by sampling assumes that nobody knows which clients were
sampled, and the Gaussian mechanism that nobody knows the noise. Both must
therefore come from a secret, unpredictable source, not from a seed that is
public (``seed`` of :class:`~spinml.federated.DPFedEmbTrainer` is also the public
salt of the virtual clients).

A :class:`NoiseSource` holds a 256-bit key ``k``. Every draw is named by a
label ``l`` (e.g. ``("fedavg", round)`` or a tree node of DP-FTRL) and its bytes
are the SHAKE-256 output of ``k || l || b`` for blocks ``b = 0, 1, ...`` of
16 MiB (a keyed extendable-output function, FIPS 202, used as a stream cipher
in counter mode, like the AES-CTR generator that Opacus' ``secure_mode`` takes
from ``torchcsprng``). The same ``(k, l)``
gives the same draw, so a DP-FTRL tree node can be drawn again when a later
round needs it, without storing it.

- **secure** (``noise_seed=None``, the default): ``k`` comes from the operating
  system's cryptographically secure generator (:func:`secrets.token_bytes`)
  when the source is made, for one training run, and is never written
  anywhere: the noise and the sample cannot be regenerated from the public
  settings.
- **reproducible** (``noise_seed=n``, for tests): ``k = SHA-256("spinml
  reproducible noise:" n)``. Anyone who knows ``n`` can regenerate every draw,
  so the epsilon of such a run does not hold; the privacy record says so
  (:func:`~spinml.federated.accounting.epsilon`).

Draws (``u`` uniform on ``[0, 1)`` from 53 random bits of each 8 bytes):

- :meth:`NoiseSource.uniform`: ``u``;
- :meth:`NoiseSource.gaussian`: ``N(0, std^2)`` as Opacus' ``secure_mode`` makes it,
  ``(z_1 + z_2 + z_3 + z_4) / 2`` of four standard normals (Box-Muller,
  ``z = sqrt(-2 ln(1 - u_1)) cos(2 pi u_2)`` and the same with ``sin``), which
  blurs the gaps between float values that a single Box-Muller normal leaves
  (floating-point attacks on the Gaussian mechanism);
- :meth:`NoiseSource.permutation`: the order of ``n`` random 64-bit keys.
"""

from __future__ import annotations

import hashlib
import secrets

import numpy as np
import torch

from spinml.federated.accounting import check_noise_seed

__all__ = ["NoiseSource"]

_BLOCK = 1 << 24
"""Bytes per SHAKE-256 call: longer draws are the concatenation of numbered blocks."""


class NoiseSource:
    """The server's source of noise and client samples (module docstring).

    ``noise_seed=None``: secure, a fresh secret key; an integer ``n >= 0``:
    reproducible from ``n`` (tests only: the guarantee does not hold).
    """

    def __init__(self, noise_seed: int | None = None) -> None:
        if check_noise_seed(noise_seed) is None:
            self._key = secrets.token_bytes(32)
        else:
            self._key = hashlib.sha256(f"spinml reproducible noise:{noise_seed}".encode()).digest()
        self.noise_seed = noise_seed

    @property
    def secure(self) -> bool:
        """Whether the draws come from a secret key (``noise_seed is None``)."""
        return self.noise_seed is None

    def __repr__(self) -> str:
        return ("NoiseSource(secure)" if self.secure
                else f"NoiseSource(reproducible, noise_seed={self.noise_seed})")

    def __getstate__(self) -> dict:
        if self.secure:
            raise TypeError("a secure NoiseSource cannot be pickled: its key must stay in memory")
        return self.__dict__

    def _bytes(self, n: int, label: tuple) -> bytes:
        head = self._key + repr(label).encode()
        return b"".join(hashlib.shake_256(head + block.to_bytes(8, "big")).digest(
            min(_BLOCK, n - block * _BLOCK)) for block in range(-(-n // _BLOCK)))

    def uniform(self, n: int, *label: object) -> np.ndarray:
        """``n`` independent uniform floats in ``[0, 1)`` (float64, 53 random bits each)."""
        words = np.frombuffer(self._bytes(8 * n, ("uniform", *label)), dtype=">u8")
        return (words >> np.uint64(11)).astype(np.float64) * 2.0 ** -53

    def gaussian(self, n: int, std: float, *label: object) -> torch.Tensor:
        """``n`` independent ``N(0, std^2)`` values (float32): ``std (z_1 + ... + z_4) / 2``.
        Values ``2 j`` and ``2 j + 1`` use uniforms ``8 j .. 8 j + 7``, so a shorter draw
        of the same label is a prefix of a longer one."""
        if n == 0 or std == 0:
            return torch.zeros(n)
        u = self.uniform(8 * -(-n // 2), "gaussian", *label).reshape(-1, 4, 2)
        radius, angle = np.sqrt(-2.0 * np.log1p(-u[..., 0])), 2.0 * np.pi * u[..., 1]
        z = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=2).sum(axis=1) / 2.0
        return torch.from_numpy(std * z.reshape(-1)[:n]).float()

    def permutation(self, n: int, *label: object) -> np.ndarray:
        """A uniformly random permutation of ``0 .. n-1``: the order of ``n`` random
        64-bit keys (ties, probability below ``n^2 / 2^65``, keep index order)."""
        keys = np.frombuffer(self._bytes(8 * n, ("permutation", *label)), dtype=">u8")
        return np.argsort(keys, kind="stable")
