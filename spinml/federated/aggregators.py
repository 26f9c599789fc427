"""The server side of DP-FedEmb: clipping, noisy aggregation and the server optimiser.

All vectors are flat float32 tensors over the backbone's parameters (length ``P``).
Both aggregators draw their noise from a :class:`~spinml.federated.noise.NoiseSource`,
secret by default; given one source, they are pure functions of ``(clipped sum,
round)``: the noise of a round (or DP-FTRL tree node) is the source's draw named
by it.
"""

from __future__ import annotations

import torch

from spinml import checks
from spinml.federated.accounting import check_clip, check_sigma
from spinml.federated.noise import NoiseSource

__all__ = ["clip_deltas", "DPFedAvg", "DPFTRL", "ServerMomentum"]


def clip_deltas(deltas: torch.Tensor, clip: float) -> torch.Tensor:
    """Clip each row ``d`` of ``deltas`` ``(G, P)`` to L2 norm at most ``C``:
    ``d * min(1, C / ||d||_2)``."""
    norms = deltas.norm(dim=1, keepdim=True)
    return deltas * torch.clamp(clip / norms.clamp_min(1e-12), max=1.0)


class DPFedAvg:
    """DP-FedAvg's Gaussian sum query with Poisson-sampled clients.

    ``aggregate(S, t) = (S + N(0, (sigma C)^2 I)) / (q K)``: the sum ``S`` of the
    round's clipped deltas plus noise, divided by the expected number of
    clients ``q K`` (not the realised one, which would depend on the sample).
    ``K`` counts every virtual client, empty hashed buckets (zero delta) included.
    The noise comes from ``source`` (``None``: a fresh secure one).
    """

    def __init__(self, clip: float, sigma: float, expected_clients: float,
                 source: NoiseSource | None = None) -> None:
        self.clip, self.sigma = check_clip(clip), check_sigma(sigma)
        checks.positive_number(expected_clients, "expected_clients")
        self.expected_clients = float(expected_clients)
        self.source = NoiseSource() if source is None else source

    def aggregate(self, clipped_sum: torch.Tensor, round_: int) -> torch.Tensor:
        noise = self.source.gaussian(clipped_sum.numel(), self.sigma * self.clip, "fedavg",
                                     round_)
        return (clipped_sum + noise) / self.expected_clients


class DPFTRL:
    """DP-FTRL's tree aggregation (Kairouz et al., 2021), restarted every epoch.

    Within an epoch, round ``t = 1, 2, ...`` releases the noisy prefix sum
    ``S_1 + ... + S_t + sum of the noises of the dyadic tree nodes covering
    [1, t]``, each node ``N(0, (sigma C)^2 I)``. ``aggregate`` returns the
    difference of consecutive released prefix sums divided by the (fixed)
    number of clients per round ``m``: ``(S_t + n(t) - n(t - 1)) / m``. A node's
    noise is the draw of ``source`` (``None``: a fresh secure one) named by the node.
    """

    def __init__(self, clip: float, sigma: float, clients_per_round: int,
                 rounds_per_epoch: int, source: NoiseSource | None = None) -> None:
        self.clip, self.sigma = check_clip(clip), check_sigma(sigma)
        self.clients_per_round, self.rounds_per_epoch = clients_per_round, rounds_per_epoch
        self.source = NoiseSource() if source is None else source

    def _prefix_noise(self, epoch: int, t: int, size: int) -> torch.Tensor:
        total, start = torch.zeros(size), 0
        for level in reversed(range(t.bit_length())):
            if t >> level & 1:
                node = self.source.gaussian(size, self.sigma * self.clip, "ftrl", epoch,
                                            level, start >> level)
                total += node
                start += 1 << level
        return total

    def aggregate(self, clipped_sum: torch.Tensor, round_: int) -> torch.Tensor:
        epoch, t = divmod(round_, self.rounds_per_epoch)
        size = clipped_sum.numel()
        noise = self._prefix_noise(epoch, t + 1, size) - self._prefix_noise(epoch, t, size)
        return (clipped_sum + noise) / self.clients_per_round


class ServerMomentum:
    """Server SGD with momentum on the aggregated delta ``g`` (a negative gradient):
    ``v <- mu v + g``, ``theta <- theta + lr v`` (``torch.optim.SGD`` with
    dampening 0 applied to ``-g``)."""

    def __init__(self, lr: float = 0.1, momentum: float = 0.9) -> None:
        self.lr, self.momentum = lr, momentum
        self.velocity: torch.Tensor | None = None

    def step(self, theta: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        self.velocity = update if self.velocity is None else self.momentum * self.velocity + update
        return theta + self.lr * self.velocity
