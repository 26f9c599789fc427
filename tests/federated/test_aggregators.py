"""DP-FedEmb aggregators: clipping, DP-FedAvg and DP-FTRL noise, server momentum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spinml.federated.aggregators import DPFTRL, DPFedAvg, ServerMomentum, clip_deltas


def test_clip_keeps_small_deltas_and_scales_large_ones():
    deltas = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    torch.testing.assert_close(clip_deltas(deltas, 1.0), torch.tensor([[0.6, 0.8], [0.3, 0.4]]))


def test_fedavg_noise_std_is_sigma_times_clip():
    sigma, clip, expected, size = 1.3, 0.7, 25.0, 200_000
    agg = DPFedAvg(clip, sigma, expected)
    noise = agg.aggregate(torch.zeros(size), 4) * expected
    # the sample std of 200k normals is within 1 % of the truth with probability > 0.999
    assert noise.std().item() == pytest.approx(sigma * clip, rel=0.01)
    assert abs(noise.mean().item()) < 4 * sigma * clip / size ** 0.5
    other = agg.aggregate(torch.zeros(size), 5) * expected
    assert abs(np.corrcoef(noise, other)[0, 1]) < 0.02
    signal = torch.ones(size)
    torch.testing.assert_close(agg.aggregate(signal, 4), (signal + noise) / expected)


def test_ftrl_prefix_noise_is_tree_noise():
    sigma, clip, size = 2.0, 0.5, 100_000
    agg = DPFTRL(clip, sigma, clients_per_round=10, rounds_per_epoch=8)
    increments = [agg.aggregate(torch.zeros(size), t) * 10 for t in range(7)]
    prefix = torch.stack(increments).cumsum(0)
    # prefix t = 1..7 is the sum of popcount(t) independent tree nodes
    for t in range(1, 8):
        std = sigma * clip * bin(t).count("1") ** 0.5
        assert prefix[t - 1].std().item() == pytest.approx(std, rel=0.02)


def test_server_momentum_matches_torch_sgd():
    theta = torch.zeros(5)
    param = torch.nn.Parameter(torch.zeros(5))
    sgd = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    mine = ServerMomentum(0.1, 0.9)
    for t in range(4):
        update = torch.arange(5.0) * (t + 1)
        theta = mine.step(theta, update)
        param.grad = -update
        sgd.step()
    torch.testing.assert_close(theta, param.detach())
