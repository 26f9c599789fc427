"""The embedding network and the retrieval metrics (recall@1, TAR@FAR)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spinml.federated.embedding import EmbeddingNet, recall_at_1, tar_at_far


def test_retrieval_metrics():
    ids = np.repeat(np.arange(30), 3)
    perfect = np.eye(30)[ids] + 0.01 * np.random.default_rng(0).normal(size=(90, 30))
    assert recall_at_1(perfect, ids) == 1.0 and tar_at_far(perfect, ids) == 1.0
    random = np.random.default_rng(1).normal(size=(90, 8))
    assert recall_at_1(random, ids) < 0.3


def test_norm_none_keeps_the_brightness_that_groupnorm_divides_out():
    # the same target at brightness 1 and 2: with zero conv biases the first layer gives
    # h and 2 h, which GroupNorm maps to the same features (scale invariance)
    X = np.zeros((2, 16, 16, 3), np.uint8)
    X[0, 4:12, 4:12], X[1, 4:12, 4:12] = 60, 120
    x = torch.from_numpy(X.transpose(0, 3, 1, 2).copy()).float() / 127.5
    group, plain = EmbeddingNet(norm="group"), EmbeddingNet(norm="none")
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in plain.modules())
    with torch.no_grad():
        for net in (group, plain):
            net.features[0].bias.zero_()
        g, p = group.features[:3](x), plain.features[:2](x)
    torch.testing.assert_close(g[0], g[1], atol=1e-2, rtol=0)  # GroupNorm eps = 1e-5
    torch.testing.assert_close(p[1], 2 * p[0])
    assert p[0].abs().max() > 0
    with pytest.raises(ValueError, match="norm"):
        EmbeddingNet(norm="batch")
