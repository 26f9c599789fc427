"""The BatchNorm-statistics loss of a network on a batch of inputs (ZeroQ, DeepInversion;
"Synthetic Dataset Generation for Privacy-Preserving Machine Learning").

For each BatchNorm layer ``l`` with running mean ``mu_l`` and running variance
``sigma2_l`` (vectors over its ``C_l`` channels), the layer's *input* ``a_l(x)``
on a batch ``x`` gives the batch statistics, per channel ``c``::

    mu_l(x)[c]     = mean over (n, h, w) of a_l(x)[n, c, h, w]
    sigma2_l(x)[c] = mean over (n, h, w) of (a_l(x)[n, c, h, w] - mu_l(x)[c])^2   (biased)

and the loss is the sum over layers of the Euclidean (L2, not squared) norms
of the differences, as in DeepInversion's ``DeepInversionFeatureHook``::

    R_BN(x) = sum_l  w_l * ( ||mu_l(x) - mu_l||_2 + ||sigma2_l(x) - sigma2_l||_2 )

with ``w_l = 1`` but for an optional multiplier on the first layer. The
units are those of the layer's input activations (squared for the variance).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = [
    "batch_norm_layers",
    "channel_moments",
    "BatchNormStatistics",
    "bn_statistics_loss",
    "eval_mode",
]


def batch_norm_layers(module: nn.Module,
                      name: str = "teacher") -> list[nn.modules.batchnorm._BatchNorm]:
    """The BatchNorm layers of ``module`` that hold running statistics, in
    registration order; a ``ValueError`` naming ``name`` when there are none."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
              and m.track_running_stats and m.running_mean is not None]
    if not layers:
        raise ValueError(f"{name} ({type(module).__name__}) has no BatchNorm layer with running "
                         f"statistics: BN-statistics inversion needs a network with BatchNorm")
    return layers


class _ChannelMoments(torch.autograd.Function):
    """Per-channel ``E[x]`` and ``E[x^2] - E[x]^2`` with a one-pass backward,
    ``dL/dx = (g_mean + 2 g_var (x - mean)) / count``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = x.flatten(2)
        count = flat.shape[0] * flat.shape[2]
        mean = flat.sum(2).double().sum(0) / count
        squares = torch.linalg.vector_norm(flat, dim=2).square()  # one pass, no x * x copy
        var = squares.double().sum(0) / count - mean * mean
        ctx.save_for_backward(x, mean)
        ctx.count = count
        return mean.to(x.dtype), var.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_mean: torch.Tensor, grad_var: torch.Tensor) -> torch.Tensor:
        x, mean = ctx.saved_tensors
        shape = (1, -1) + (1,) * (x.ndim - 2)
        scale = (2.0 * grad_var.double() / ctx.count).to(x.dtype).view(shape)
        shift = ((grad_mean.double() - 2.0 * grad_var.double() * mean) / ctx.count)
        return torch.addcmul(shift.to(x.dtype).view(shape), x, scale)


def channel_moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and biased variance of ``x`` ``(N, C, ...)`` over all other
    dimensions, as ``E[x]`` and ``E[x^2] - E[x]^2`` (differentiable).

    The spatial sums come first (a contiguous reduction, about four times
    faster on the CPU than ``torch.var_mean`` over ``(0, 2, 3)``), the rest in
    float64 against cancellation; the backward pass is one fused
    multiply-add over ``x``. Returned in ``x``'s dtype."""
    return _ChannelMoments.apply(x)


class BatchNormStatistics:
    """Forward hooks that record, on every forward pass, each BatchNorm layer's
    input batch mean and biased variance (over all dimensions but the
    channels). Use it as a context manager: the hooks are removed on exit,
    also when an error is raised inside.

    >>> with BatchNormStatistics(net) as stats:      # doctest: +SKIP
    ...     net(x)
    ...     loss = stats.loss()                       # R_BN(x), a scalar tensor
    """

    def __init__(self, module: nn.Module, first_multiplier: float = 1.0,
                 name: str = "teacher") -> None:
        self.layers = batch_norm_layers(module, name)
        self.first_multiplier = float(first_multiplier)
        self.means: list[torch.Tensor | None] = [None] * len(self.layers)
        self.variances: list[torch.Tensor | None] = [None] * len(self.layers)
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def _hook(self, index: int):
        def record(layer: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            self.means[index], self.variances[index] = channel_moments(inputs[0])
        return record

    def __enter__(self) -> BatchNormStatistics:
        self._handles = [layer.register_forward_pre_hook(self._hook(i))
                         for i, layer in enumerate(self.layers)]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def distances(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(||mu_l(x) - mu_l||_2, ||sigma2_l(x) - sigma2_l||_2)`` per layer ``l``
        (two vectors of length L) of the last forward pass."""
        if any(m is None for m in self.means):
            raise RuntimeError("no forward pass recorded all BatchNorm layers: run the network "
                               "inside the context first")
        mean = torch.stack([torch.linalg.vector_norm(m - layer.running_mean)
                            for m, layer in zip(self.means, self.layers, strict=True)])
        var = torch.stack([torch.linalg.vector_norm(v - layer.running_var)
                           for v, layer in zip(self.variances, self.layers, strict=True)])
        return mean, var

    def loss(self) -> torch.Tensor:
        """``R_BN(x)`` of the last forward pass (differentiable), the first layer's
        term multiplied by ``first_multiplier``."""
        mean, var = self.distances()
        weights = torch.ones_like(mean)
        weights[0] = self.first_multiplier
        return (weights * (mean + var)).sum()


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode for the block; its former mode is restored on exit,
    also on error."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def bn_statistics_loss(module: nn.Module, inputs: torch.Tensor) -> tuple[float, torch.Tensor,
                                                                         torch.Tensor]:
    """``R_BN`` of ``inputs`` (already normalised for ``module``) under ``module``
    in eval mode, without gradient: ``(loss, mean distances, variance distances)``,
    the latter two per BatchNorm layer as in :meth:`BatchNormStatistics.distances`."""
    with torch.no_grad(), eval_mode(module), BatchNormStatistics(module) as stats:
        module(inputs)
        mean, var = stats.distances()
    return float((mean + var).sum()), mean, var
