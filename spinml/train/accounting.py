"""Privacy accounting of DP-FedEmb through Google's ``dp-accounting``.

DP-FedAvg: every round samples each virtual client independently with
probability ``q`` (Poisson sampling) and adds Gaussian noise of standard
deviation ``sigma * C`` to the sum of deltas clipped to norm ``C``: one round is
``PoissonSampledDpEvent(q, GaussianDpEvent(sigma))``, and ``T`` rounds are that
event self-composed ``T`` times. The accountant's neighbouring relation is
add/remove one *virtual client*: the clipped sum ``sum_c clip(d_c)`` changes by
one term of norm at most ``C`` while every other term stays the same.

What that means for one user (:func:`neighbouring`):

- ``users_per_client = 1``: a virtual client is one user's whole data, so
  add/remove one user is add/remove one virtual client, and epsilon is
  user-level.
- ``users_per_client = k > 1``: removing one user does not remove a virtual
  client. Even with the other users' grouping held fixed, it *replaces* the
  client holding the user by that client minus the user: the clipped sum
  changes by ``clip(d_c) - clip(d_c')``, of norm up to ``2 C``, not ``C``. It is
  at most two add/remove steps, so group privacy gives ``(2 epsilon,
  (1 + e^epsilon) delta)`` for one user, not ``(epsilon, delta)``.
  In addition, :func:`~spinml.train.dp_fedemb.virtual_clients` groups users by a
  seeded shuffle of the whole user list, so adding or removing a user can
  regroup others and even that bound is not established. The reported epsilon
  is then a guarantee for add/remove of one whole group of ``k`` users.

DP-FTRL: no sampling; in each epoch (one pass over the shuffled clients, the
tree restarted) every client contributes once, noise ``sigma * C`` per tree
node: ``SingleEpochTreeAggregationDpEvent(sigma, rounds_per_epoch)`` composed
over epochs. ``dp-accounting`` accounts for it with RDP under the
replace-with-a-zero-client relation (``REPLACE_SPECIAL``) only.

``dp-accounting`` is part of the ``federated`` extra (``pip install spinml[federated]``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["PrivacyRecord", "neighbouring", "fedavg_event", "ftrl_event", "epsilon",
           "calibrate_sigma", "check_q", "check_sigma", "check_clip", "check_delta"]

ACCOUNTANTS = ("rdp", "pld")
_RELATIONS = {
    "fedavg": "add/remove one virtual client",
    "ftrl": "replace one virtual client by a zero-contribution one (REPLACE_SPECIAL)",
}
_SAMPLING = {
    "fedavg": "Poisson sampling of virtual clients",
    "ftrl": "none: each virtual client once per epoch, tree restarted each epoch",
}


def neighbouring(aggregator: str, users_per_client: int) -> str:
    """The neighbouring relation of the guarantee, stated for users (module docstring)."""
    if (isinstance(users_per_client, bool) or not isinstance(users_per_client, int)
            or users_per_client < 1):
        raise ValueError(f"users_per_client must be a positive integer, got {users_per_client!r}")
    if aggregator not in _RELATIONS:
        raise ValueError(f"aggregator must be 'fedavg' or 'ftrl', got {aggregator!r}")
    if users_per_client == 1:
        return (f"{_RELATIONS[aggregator]}; users_per_client = 1: one virtual client is one "
                f"user's whole data, so this is user-level")
    return (f"{_RELATIONS[aggregator]} = one group of {users_per_client} users "
            f"(users_per_client = {users_per_client}); NOT user-level add/remove: removing one "
            f"user changes its client (clipped-sum change up to 2 C) and the seeded grouping "
            f"may regroup other users")


def check_q(q: object) -> float:
    """``q`` if it is a sampling rate in (0, 1]."""
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q <= 1:
        raise ValueError(f"q (client sampling rate) must be in (0, 1], got {q!r}")
    return float(q)


def check_sigma(sigma: object) -> float:
    """``sigma`` if it is a noise multiplier >= 0."""
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma >= 0:
        raise ValueError(f"sigma (noise multiplier) must be >= 0, got {sigma!r}")
    return float(sigma)


def check_clip(clip: object) -> float:
    """``clip`` if it is a clipping norm > 0."""
    if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not clip > 0:
        raise ValueError(f"clip (C, the L2 clipping norm of a client delta) must be > 0, "
                         f"got {clip!r}")
    return float(clip)


def check_delta(delta: object) -> float:
    """``delta`` if it is in (0, 1)."""
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    return float(delta)


def _check_rounds(rounds: object) -> int:
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    return rounds


def _dp_accounting():
    try:
        import dp_accounting
    except ImportError:
        raise ImportError("privacy accounting needs dp-accounting: "
                          "pip install 'spinml[federated]'") from None
    return dp_accounting


@dataclass(frozen=True)
class PrivacyRecord:
    """An (epsilon, delta) guarantee with everything needed to read it.

    ``epsilon`` is ``inf`` when ``sigma = 0`` (then ``note`` says so).
    """

    epsilon: float
    delta: float
    accountant: str
    aggregator: str
    sampling: str
    q: float
    sigma: float
    rounds: int
    neighbouring: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A flat dict, e.g. one row of a pandas DataFrame."""
        return asdict(self)

    def __str__(self) -> str:
        text = (f"epsilon = {self.epsilon:.3f} at delta = {self.delta:.3g} "
                f"({self.accountant.upper()} accountant, {self.aggregator}, {self.sampling}, "
                f"q = {self.q:g}, sigma = {self.sigma:g}, {self.rounds} rounds; "
                f"neighbouring: {self.neighbouring})")
        return f"{text}; {self.note}" if self.note else text


def fedavg_event(q: float, sigma: float, rounds: int):
    """``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(sigma)), rounds)``."""
    dpa = _dp_accounting()
    return dpa.SelfComposedDpEvent(
        dpa.PoissonSampledDpEvent(check_q(q), dpa.GaussianDpEvent(check_sigma(sigma))),
        _check_rounds(rounds))


def ftrl_event(sigma: float, rounds: int, rounds_per_epoch: int):
    """Tree aggregation restarted every ``rounds_per_epoch`` rounds, over ``rounds`` rounds."""
    dpa = _dp_accounting()
    rounds, rounds_per_epoch = _check_rounds(rounds), _check_rounds(rounds_per_epoch)
    full, rest = divmod(rounds, rounds_per_epoch)
    sigma = check_sigma(sigma)
    events = []
    if full:
        events.append(dpa.SelfComposedDpEvent(
            dpa.SingleEpochTreeAggregationDpEvent(sigma, rounds_per_epoch), full))
    if rest:
        events.append(dpa.SingleEpochTreeAggregationDpEvent(sigma, rest))
    return dpa.ComposedDpEvent(events)


def _accountant(name: str, aggregator: str):
    dpa = _dp_accounting()
    if name not in ACCOUNTANTS:
        raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {name!r}")
    if aggregator == "ftrl":
        if name != "rdp":
            raise ValueError("DP-FTRL (tree aggregation) is accounted with accountant='rdp' only")
        return dpa.rdp.RdpAccountant(
            neighboring_relation=dpa.NeighboringRelation.REPLACE_SPECIAL)
    if name == "rdp":
        return dpa.rdp.RdpAccountant()
    return dpa.pld.PLDAccountant()


def epsilon(delta: float, *, q: float, sigma: float, rounds: int, accountant: str = "pld",
            aggregator: str = "fedavg", rounds_per_epoch: int | None = None,
            users_per_client: int = 1) -> PrivacyRecord:
    """The epsilon at ``delta`` of ``rounds`` rounds of DP-FedAvg (or DP-FTRL).

    For ``aggregator="ftrl"``, ``rounds_per_epoch`` is the number of rounds
    before the tree restarts (``ceil(1 / q)`` if ``None``) and ``q`` the
    fraction of clients in each round (no sampling). ``users_per_client`` only
    changes the record's ``neighbouring`` text (:func:`neighbouring`), not epsilon.
    """
    delta, q, sigma = check_delta(delta), check_q(q), check_sigma(sigma)
    rounds = _check_rounds(rounds)
    relation = neighbouring(aggregator, users_per_client)
    acc = _accountant(accountant, aggregator)
    record = dict(delta=delta, accountant=accountant, aggregator=aggregator,
                  sampling=_SAMPLING[aggregator], q=q, sigma=sigma, rounds=rounds,
                  neighbouring=relation)
    if sigma == 0:
        return PrivacyRecord(epsilon=math.inf, note="sigma = 0: no noise, no privacy guarantee",
                             **record)
    if aggregator == "fedavg":
        acc.compose(fedavg_event(q, sigma, rounds))
    else:
        acc.compose(ftrl_event(sigma, rounds, rounds_per_epoch or math.ceil(1 / q)))
    return PrivacyRecord(epsilon=float(acc.get_epsilon(delta)), **record)


def calibrate_sigma(target_epsilon: float, delta: float, rounds: int, q: float,
                    accountant: str = "pld") -> float:
    """The smallest noise multiplier ``sigma`` whose DP-FedAvg epsilon at ``delta``
    after ``rounds`` Poisson-sampled rounds at rate ``q`` is at most ``target_epsilon``
    (``dp_accounting.calibrate_dp_mechanism``, tolerance 1e-3 on ``sigma``)."""
    if (isinstance(target_epsilon, bool) or not isinstance(target_epsilon, (int, float))
            or not 0 < target_epsilon < math.inf):
        raise ValueError(f"target_epsilon must be a finite number > 0, got {target_epsilon!r}")
    delta, q, rounds = check_delta(delta), check_q(q), _check_rounds(rounds)
    dpa = _dp_accounting()

    def search(name: str, bracket) -> float:
        return float(dpa.calibrate_dp_mechanism(
            lambda: _accountant(name, "fedavg"), lambda s: fedavg_event(q, s, rounds),
            target_epsilon, delta, bracket_interval=bracket, tol=1e-3))

    # RDP is cheap and never below PLD's sigma: it brackets PLD's search, which would
    # need a huge privacy-loss grid at tiny sigma.
    sigma = search("rdp", dpa.LowerEndpointAndGuess(1e-2, 1.0))
    if accountant == "rdp":
        return sigma
    if accountant != "pld":
        raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")
    return search("pld", dpa.ExplicitBracketInterval(sigma / 2, sigma))
