"""Privacy accounting: epsilon equals dp-accounting's own value for the same event and
neighbouring relation."""

from __future__ import annotations

import math
import time

import dp_accounting
import pytest

from spinml.federated.accounting import (
    PLD_MAX_POINTS,
    calibrate_sigma,
    epsilon,
    pld_grid_points,
    pld_sigma_floor,
)


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


def _tree_epsilon(noise: float, per_epoch: int, delta: float) -> float:
    """dp-accounting's own RDP epsilon of 25 rounds of tree aggregation restarted
    every ``per_epoch = 10`` rounds (2 full epochs and 5 rounds)."""
    acc = dp_accounting.rdp.RdpAccountant(
        neighboring_relation=dp_accounting.NeighboringRelation.REPLACE_SPECIAL)
    acc.compose(dp_accounting.ComposedDpEvent([
        dp_accounting.SelfComposedDpEvent(
            dp_accounting.SingleEpochTreeAggregationDpEvent(noise, per_epoch), 2),
        dp_accounting.SingleEpochTreeAggregationDpEvent(noise, 5)]))
    return acc.get_epsilon(delta)


def test_ftrl_uses_tree_aggregation_event():
    sigma, rounds, per_epoch = 2.0, 25, 10
    record = epsilon(1e-5, q=0.1, sigma=sigma, rounds=rounds, accountant="rdp",
                     aggregator="ftrl", rounds_per_epoch=per_epoch)
    assert record.epsilon == pytest.approx(_tree_epsilon(sigma, per_epoch, 1e-5), rel=1e-9)
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


def test_one_user_per_client_is_add_remove_one_client():
    record = epsilon(1e-4, q=0.05, sigma=1.1, rounds=20, users_per_client=1)
    assert "add/remove one user = add/remove one virtual client" in record.neighbouring
    assert "ADD_OR_REMOVE_ONE" in record.neighbouring
    with pytest.raises(ValueError, match="users_per_client"):
        epsilon(1e-4, q=0.05, sigma=1.1, rounds=20, users_per_client=0)


def _pld(relation, event, delta):
    accountant = dp_accounting.pld.PLDAccountant(
        neighboring_relation=getattr(dp_accounting.NeighboringRelation, relation))
    return accountant.compose(event).get_epsilon(delta)


@pytest.mark.parametrize("q, sigma, rounds, delta", [(0.05, 1.1, 50, 1e-4),
                                                     (0.2, 1.2, 30, 1e-3)])
def test_several_users_per_client_is_replace_one_pld(q, sigma, rounds, delta):
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), rounds)
    replace, add_remove = _pld("REPLACE_ONE", event, delta), _pld("ADD_OR_REMOVE_ONE", event, delta)
    record = epsilon(delta, q=q, sigma=sigma, rounds=rounds, users_per_client=4, n_clients=250)
    assert record.epsilon == pytest.approx(replace, rel=1e-9)
    assert record.epsilon > add_remove * 1.05  # replacing one client costs more than adding one
    assert record.n_clients == 250 and record.to_dict()["n_clients"] == 250
    assert "replace one of B = 250 hashed virtual clients" in record.neighbouring
    assert "REPLACE_ONE" in record.neighbouring and "NOT user-level" not in record.neighbouring


def test_rdp_refuses_several_users_per_client():
    for call in (lambda: epsilon(1e-5, q=0.1, sigma=1.0, rounds=10, accountant="rdp",
                                 users_per_client=2),
                 lambda: calibrate_sigma(3.0, 1e-5, 10, 0.1, accountant="rdp",
                                         users_per_client=2)):
        with pytest.raises(ValueError, match="REPLACE_ONE.*accountant='pld'"):
            call()


def test_ftrl_several_users_per_client_is_tree_aggregation_at_half_sigma():
    sigma, rounds, per_epoch = 2.0, 25, 10
    kw = dict(q=0.1, sigma=sigma, rounds=rounds, accountant="rdp", aggregator="ftrl",
              rounds_per_epoch=per_epoch)
    record = epsilon(1e-5, users_per_client=3, **kw)
    assert record.epsilon == pytest.approx(_tree_epsilon(sigma / 2, per_epoch, 1e-5), rel=1e-9)
    assert record.epsilon > epsilon(1e-5, users_per_client=1, **kw).epsilon
    assert "sigma / 2" in record.neighbouring and "replace one of B" in record.neighbouring


def test_calibrate_several_users_per_client_reaches_replace_one_target():
    q, rounds, delta, target = 0.1, 20, 1e-4, 3.0
    sigma = calibrate_sigma(target, delta, rounds, q, users_per_client=4)

    def replace_one(s):
        return _pld("REPLACE_ONE", dp_accounting.SelfComposedDpEvent(
            dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(s)), rounds),
            delta)

    assert replace_one(sigma) <= target and replace_one(sigma) == pytest.approx(target, abs=0.02)
    assert epsilon(delta, q=q, sigma=sigma, rounds=rounds, users_per_client=4).epsilon <= target
    assert replace_one(sigma * 0.97) > target
    assert sigma > calibrate_sigma(target, delta, rounds, q) * 1.05


# ---------------------------------------------------------------- edge cases (issue #19, item 13)

def test_infinite_sigma_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"sigma \(noise multiplier\) must be a finite number"):
        epsilon(1e-5, q=0.1, sigma=math.inf, rounds=10)
    with pytest.raises(ValueError, match="sigma"):
        epsilon(1e-5, q=0.1, sigma=math.nan, rounds=10)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("users_per_client", [1, 4])
def test_tiny_sigma_is_refused_by_pld_before_building_its_grid(users_per_client):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"sigma = 1e-06 is too small for the PLD accountant.*"
                                         r"privacy-loss grid would hold 5e\+15 points"):
        epsilon(1e-5, q=0.1, sigma=1e-6, rounds=10, users_per_client=users_per_client)
    assert time.perf_counter() - start < 10
    # RDP has no grid: it accounts the same sigma (a huge epsilon)
    assert epsilon(1e-5, q=0.1, sigma=1e-6, rounds=10, accountant="rdp").epsilon > 1e9


def test_pld_grid_points_is_the_accountants_grid_and_floor_is_its_limit():
    pld = dp_accounting.pld.privacy_loss_distribution.from_gaussian_mechanism(
        standard_deviation=1.0, sampling_prob=0.1)
    built = max(len(pld._pmf_remove._probs), len(pld._pmf_add._probs))
    assert pld_grid_points(0.1, 1.0) == pytest.approx(built, rel=1e-3)
    floor = pld_sigma_floor(0.1)
    assert pld_grid_points(0.1, floor) <= PLD_MAX_POINTS < pld_grid_points(0.1, floor * 0.99)
    assert pld_sigma_floor(0.1, "REPLACE_ONE") > floor


@pytest.mark.timeout(300)
@pytest.mark.parametrize("users_per_client", [1, pytest.param(4, marks=pytest.mark.slow)])
def test_calibrate_refuses_a_target_reached_only_below_the_pld_floor(users_per_client):
    # k = 1: refused from RDP's bound at the floor at once; k = 4: from PLD's value there
    # (a grid of 1e6 points: 20 to 45 s)
    with pytest.raises(ValueError, match=r"target_epsilon = 10000 is reached below sigma = "
                                         r"0\.1[0-9]+.*PLD accountant's limit at q = 0\.1"):
        calibrate_sigma(1e4, 1e-5, 10, 0.1, users_per_client=users_per_client)
    sigma = calibrate_sigma(1e4, 1e-5, 10, 0.1, accountant="rdp")
    assert 0.01 < sigma < 0.1
    assert epsilon(1e-5, q=0.1, sigma=sigma, rounds=10, accountant="rdp").epsilon <= 1e4


@pytest.mark.timeout(60)
def test_calibrate_tiny_target_returns_a_sigma_meeting_it_or_refuses_naming_it():
    sigma = calibrate_sigma(1e-6, 1e-5, 10, 0.1)
    assert epsilon(1e-5, q=0.1, sigma=sigma, rounds=10).epsilon <= 1e-6
    with pytest.raises(ValueError, match=r"target_epsilon = 1e-06 is out of reach: even "
                                         r"sigma = 100000"):
        calibrate_sigma(1e-6, 1e-12, 1000, 1.0)


def test_ftrl_rounds_per_epoch_is_checked_not_replaced():
    kw = dict(q=0.1, sigma=1.0, rounds=10, accountant="rdp", aggregator="ftrl")
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="rounds_per_epoch must be a positive integer"):
            epsilon(1e-5, rounds_per_epoch=bad, **kw)
    assert epsilon(1e-5, **kw).epsilon == epsilon(1e-5, rounds_per_epoch=10, **kw).epsilon
    with pytest.raises(ValueError, match="rounds_per_epoch applies to aggregator='ftrl' only"):
        epsilon(1e-5, q=0.1, sigma=1.0, rounds=10, rounds_per_epoch=5)


def test_check_count_is_a_deprecated_name_of_positive_int():
    from spinml import checks
    from spinml.federated import accounting

    with pytest.warns(DeprecationWarning, match="checks.positive_int"):
        assert accounting.check_count is checks.positive_int
