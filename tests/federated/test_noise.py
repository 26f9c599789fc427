"""DP noise and client sampling come from a secret source by default (issue #19, item 12):
not a function of the public seed; reproducible only on request, and then flagged."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from scipy import stats

from spinml import DPFedEmbTrainer
from spinml.federated.aggregators import DPFTRL, DPFedAvg
from spinml.federated.dp_fedemb import sample_clients
from spinml.federated.noise import NoiseSource


def population(n_users: int) -> list[tuple[np.ndarray, list[str]]]:
    rng = np.random.default_rng(0)
    return [(rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8),
             [f"u{u}/pet{i % 2}" for i in range(6)]) for u in range(n_users)]


def backbone(trainer: DPFedEmbTrainer) -> torch.Tensor:
    return torch.nn.utils.parameters_to_vector(trainer.backbone_.parameters()).detach()


KW = dict(q=0.5, rounds=2, users_per_client=2, progress=False)


def test_default_noise_and_sample_are_not_a_function_of_the_seed():
    users = population(12)
    a, b = (DPFedEmbTrainer(sigma=0.5, seed=3, **KW).fit(users) for _ in range(2))
    assert (backbone(a) - backbone(b)).abs().max() > 1e-3
    record = a.epsilon(1e-3)
    assert record.noise == "secure" and record.noise_seed is None and record.holds
    assert "NOT hold" not in str(record) and record.to_dict()["holds"]
    # sigma = 0: no guarantee to keep, the sample comes from the public seed
    c, d = (DPFedEmbTrainer(sigma=0.0, seed=3, **KW).fit(users) for _ in range(2))
    assert torch.equal(backbone(c), backbone(d))
    assert c.epsilon(1e-3).noise == "none" and not c.epsilon(1e-3).holds


def test_secure_sources_differ_for_the_same_public_settings():
    first, second = NoiseSource(), NoiseSource()
    assert first.secure and not NoiseSource(0).secure
    samples = [[tuple(sample_clients("fedavg", 0.3, 200, t, s)) for t in range(3)]
               for s in (first, second)]
    assert samples[0] != samples[1]
    assert not torch.equal(DPFedAvg(1.0, 1.0, 10.0).aggregate(torch.zeros(100), 0),
                           DPFedAvg(1.0, 1.0, 10.0).aggregate(torch.zeros(100), 0))
    assert not torch.equal(DPFTRL(1.0, 1.0, 5, 4).aggregate(torch.zeros(100), 2),
                           DPFTRL(1.0, 1.0, 5, 4).aggregate(torch.zeros(100), 2))
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(first)


def test_noise_seed_reproduces_and_the_record_says_the_guarantee_does_not_hold():
    users = population(12)
    with pytest.warns(UserWarning, match="guarantee does not hold"):
        a = DPFedEmbTrainer(sigma=0.5, noise_seed=7, **KW).fit(users)
        b = DPFedEmbTrainer(sigma=0.5, noise_seed=7, **KW).fit(users)
        c = DPFedEmbTrainer(sigma=0.5, noise_seed=8, **KW).fit(users)
    assert torch.equal(backbone(a), backbone(b))
    assert (backbone(a) - backbone(c)).abs().max() > 1e-3
    record = a.epsilon(1e-3)
    assert record.noise == "reproducible" and record.noise_seed == 7 and not record.holds
    assert "noise_seed = 7" in str(record) and "does NOT hold" in str(record)
    assert record.to_dict()["holds"] is False and np.isfinite(record.epsilon)
    # the record describes the noise of the run, not a later setting
    assert a.set_params(noise_seed=None).epsilon(1e-3).noise == "reproducible"
    with pytest.raises(ValueError, match="noise_seed"):
        DPFedEmbTrainer(noise_seed=-1, **KW).fit(users)


def test_gaussian_draws_are_standard_normal_and_named_by_their_label():
    source = NoiseSource(1)
    z = source.gaussian(200_001, 2.0, "x", 1).double().numpy()
    assert z.shape == (200_001,)
    assert stats.kstest(z / 2.0, "norm").pvalue > 1e-3
    assert z.std() == pytest.approx(2.0, rel=0.01) and abs(z.mean()) < 4 * 2.0 / 200_001 ** 0.5
    torch.testing.assert_close(source.gaussian(10, 2.0, "x", 1), torch.from_numpy(z[:10]).float())
    assert not torch.equal(source.gaussian(10, 2.0, "x", 2), source.gaussian(10, 2.0, "x", 1))
    assert not torch.equal(NoiseSource(2).gaussian(10, 2.0, "x", 1),
                           source.gaussian(10, 2.0, "x", 1))
    u = source.uniform(100_000, "u")
    assert u.min() >= 0 and u.max() < 1 and stats.kstest(u, "uniform").pvalue > 1e-3
    assert sorted(source.permutation(50, "p")) == list(range(50))
    assert source.permutation(50, "p").tolist() != list(range(50))
    assert not source.gaussian(5, 0.0, "x").any() and source.gaussian(0, 1.0, "x").shape == (0,)
