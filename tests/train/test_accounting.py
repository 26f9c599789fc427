"""Privacy accounting: epsilon equals dp-accounting's own value for the same event."""

from __future__ import annotations

import math

import dp_accounting
import pytest

from spinml.train.accounting import calibrate_sigma, epsilon


@pytest.mark.parametrize("accountant", ["rdp", "pld"])
def test_epsilon_equals_dp_accounting(accountant):
    q, sigma, rounds, delta = 0.05, 1.1, 50, 1e-4
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), rounds)
    reference = (dp_accounting.rdp.RdpAccountant() if accountant == "rdp"
                 else dp_accounting.pld.PLDAccountant())
    expected = reference.compose(event).get_epsilon(delta)
    record = epsilon(delta, q=q, sigma=sigma, rounds=rounds, accountant=accountant)
    assert record.epsilon == pytest.approx(expected, rel=1e-9)
    assert 0.2 < record.epsilon < 5
    assert (record.delta, record.q, record.sigma, record.rounds) == (delta, q, sigma, rounds)
    assert record.accountant == accountant
    assert "Poisson" in record.sampling and "add/remove" in record.neighbouring
    assert accountant.upper() in str(record)


def test_pld_is_tighter_than_rdp():
    kw = dict(q=0.02, sigma=0.9, rounds=50)
    assert epsilon(1e-5, accountant="pld", **kw).epsilon < epsilon(1e-5, accountant="rdp",
                                                                    **kw).epsilon


def test_sigma_zero_is_infinite_and_says_so():
    record = epsilon(1e-5, q=0.1, sigma=0.0, rounds=10)
    assert math.isinf(record.epsilon)
    assert "no privacy" in record.note and "no privacy" in str(record)


def test_ftrl_uses_tree_aggregation_event():
    sigma, rounds, per_epoch = 2.0, 25, 10
    acc = dp_accounting.rdp.RdpAccountant(
        neighboring_relation=dp_accounting.NeighboringRelation.REPLACE_SPECIAL)
    acc.compose(dp_accounting.ComposedDpEvent([
        dp_accounting.SelfComposedDpEvent(
            dp_accounting.SingleEpochTreeAggregationDpEvent(sigma, per_epoch), 2),
        dp_accounting.SingleEpochTreeAggregationDpEvent(sigma, 5)]))
    record = epsilon(1e-5, q=0.1, sigma=sigma, rounds=rounds, accountant="rdp",
                     aggregator="ftrl", rounds_per_epoch=per_epoch)
    assert record.epsilon == pytest.approx(acc.get_epsilon(1e-5), rel=1e-9)
    assert "REPLACE_SPECIAL" in record.neighbouring
    with pytest.raises(ValueError, match="rdp"):
        epsilon(1e-5, q=0.1, sigma=sigma, rounds=rounds, accountant="pld", aggregator="ftrl")


def test_calibrate_reaches_target():
    sigma = calibrate_sigma(3.0, 1e-5, 100, 0.05, accountant="rdp")
    eps = epsilon(1e-5, q=0.05, sigma=sigma, rounds=100, accountant="rdp").epsilon
    assert eps <= 3.0 and eps == pytest.approx(3.0, abs=0.02)
    assert epsilon(1e-5, q=0.05, sigma=sigma * 0.95, rounds=100, accountant="rdp").epsilon > 3.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(q=0.0), "q"), (dict(q=1.5), "q"), (dict(sigma=-0.1), "sigma"),
    (dict(delta=0.0), "delta"), (dict(delta=1.0), "delta"), (dict(rounds=0), "rounds")])
def test_bad_input(kwargs, match):
    args = dict(delta=1e-5, q=0.1, sigma=1.0, rounds=10) | kwargs
    with pytest.raises(ValueError, match=match):
        epsilon(args.pop("delta"), **args)


def test_neighbouring_relation_is_user_level_only_for_one_user_per_client():
    kw = dict(q=0.05, sigma=1.1, rounds=20)
    one = epsilon(1e-4, users_per_client=1, **kw)
    four = epsilon(1e-4, users_per_client=4, **kw)
    assert one.epsilon == four.epsilon
    assert "user-level" in one.neighbouring and "NOT user-level" not in one.neighbouring
    assert "NOT user-level" in four.neighbouring and "group of 4 users" in four.neighbouring
    with pytest.raises(ValueError, match="users_per_client"):
        epsilon(1e-4, users_per_client=0, **kw)
