"""The BatchNorm-statistics loss and its channel moments against direct computations."""

import pytest
import torch
import torch.nn.functional as F

from spinml.generate.bn_statistics import (
    BatchNormStatistics,
    bn_statistics_loss,
    channel_moments,
)
from tests.generate.test_bn_inversion import tiny_teacher


def test_channel_moments_match_torch_and_its_gradient():
    x = torch.randn(4, 3, 5, 6, dtype=torch.double, requires_grad=True)
    mean, var = channel_moments(x)
    ref_var, ref_mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)
    torch.testing.assert_close(mean, ref_mean)
    torch.testing.assert_close(var, ref_var)
    assert torch.autograd.gradcheck(channel_moments, (x,))


def test_bn_loss_equals_direct_computation():
    net = tiny_teacher()
    x = torch.randn(10, 3, 8, 8)
    a1 = net.conv1(x)
    a2 = net.conv2(F.relu(net.bn1(a1)))
    terms = []
    for a, bn in ((a1, net.bn1), (a2, net.bn2)):
        mean = a.mean(dim=(0, 2, 3))
        var = ((a - mean[None, :, None, None]) ** 2).mean(dim=(0, 2, 3))
        terms.append(torch.sqrt(((mean - bn.running_mean) ** 2).sum())
                     + torch.sqrt(((var - bn.running_var) ** 2).sum()))
    with BatchNormStatistics(net, first_multiplier=3.0) as stats:
        net(x)
        weighted = stats.loss()
    torch.testing.assert_close(weighted, 3.0 * terms[0] + terms[1], rtol=1e-5, atol=1e-5)
    loss, mean_dist, var_dist = bn_statistics_loss(net, x)
    assert loss == pytest.approx(float((terms[0] + terms[1]).detach()), rel=1e-5)
    assert mean_dist.shape == var_dist.shape == (2,)
    assert not net.bn1._forward_pre_hooks and not net.bn2._forward_pre_hooks
