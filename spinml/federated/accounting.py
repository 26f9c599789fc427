"""User-level privacy accounting of DP-FedEmb through Google's ``dp-accounting``.

DP-FedAvg: every round samples each virtual client independently with
probability ``q`` (Poisson sampling) and adds Gaussian noise of standard
deviation ``sigma * C`` to the sum of deltas clipped to norm ``C``: one round is
``PoissonSampledDpEvent(q, GaussianDpEvent(sigma))``, and ``T`` rounds are that
event self-composed ``T`` times. The guarantee is for add/remove of one *user*
(:func:`neighbouring`); what that does to the clients depends on
``users_per_client = k`` (:func:`~spinml.federated.dp_fedemb.virtual_clients`):

- ``k = 1``: a virtual client is one user's whole data, so add/remove one user
  is add/remove one client: the clipped sum ``sum_c clip(d_c)`` gains or loses
  one term of norm at most ``C``. Accounted under ``ADD_OR_REMOVE_ONE`` (PLD or
  RDP).
- ``k > 1``: users are hashed into ``B`` clients (``B`` public and fixed), each
  user's client a function of its own data and the public salt only. Adding or
  removing one user changes the data of exactly one client ``c`` and no other:
  client ``c``, still sampled with probability ``q``, is *replaced* by a
  neighbouring client, its clipped delta ``clip(d_c)`` by ``clip(d_c')``, both of
  norm at most ``C`` (an empty client contributes ``0``). That is
  ``REPLACE_ONE`` of ``dp-accounting``'s PLD accountant, whose Poisson-sampled
  Gaussian puts one record at ``-C`` and the other at ``+C`` (a change of up to
  ``2 C``): with ``N = N(0, (sigma C)^2)`` it compares
  ``q N(-C) + (1 - q) N(0)`` with ``q N(+C) + (1 - q) N(0)``. The reported
  epsilon is ``max(eps_REPLACE_ONE, eps_ADD_OR_REMOVE_ONE)``; replacing by an
  empty client is one of the replacements, so the first dominates (e.g. 4.18
  against 4.01 at ``q = 0.02``, ``sigma = 0.56``, 30 rounds, ``delta = 1e-4``;
  6.74 against 4.00 at ``q = 0.2``, ``sigma = 1.18``, ``delta = 1e-3``).
  ``dp-accounting``'s RDP accountant has no Poisson-sampled ``REPLACE_ONE``
  analysis, so ``accountant="rdp"`` is refused for ``k > 1``.

DP-FTRL: no sampling; in each epoch (one pass over the shuffled clients, the
tree restarted) every client contributes once, noise ``sigma * C`` per tree
node: ``SingleEpochTreeAggregationDpEvent(sigma, rounds_per_epoch)`` composed
over epochs, accounted with RDP under the replace-with-a-zero-client relation
(``REPLACE_SPECIAL``), the only one ``dp-accounting`` offers for it. For
``k > 1``, replacing one client changes the sum of every tree node holding it by
up to ``2 C``: sensitivity ``C`` at noise multiplier ``sigma / 2``, so the event
is ``SingleEpochTreeAggregationDpEvent(sigma / 2, rounds_per_epoch)``.

``dp-accounting`` is part of the ``federated`` extra (``pip install spinml[federated]``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["PrivacyRecord", "neighbouring", "fedavg_event", "ftrl_event", "epsilon",
           "calibrate_sigma", "check_count", "check_q", "check_sigma", "check_clip", "check_delta"]

ACCOUNTANTS = ("rdp", "pld")
_SAMPLING = {
    "fedavg": "Poisson sampling of virtual clients",
    "ftrl": "none: each virtual client once per epoch, tree restarted each epoch",
}


def check_count(value: object, name: str) -> int:
    """``value`` if it is an integer >= 1; a ``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def neighbouring(aggregator: str, users_per_client: int, n_clients: int | None = None) -> str:
    """The neighbouring relation of the guarantee, stated for users (module docstring);
    ``n_clients`` is ``B``, named in the text when given."""
    k = check_count(users_per_client, "users_per_client")
    if aggregator not in _SAMPLING:
        raise ValueError(f"aggregator must be 'fedavg' or 'ftrl', got {aggregator!r}")
    if k == 1:
        if aggregator == "fedavg":
            return ("add/remove one user = add/remove one virtual client (users_per_client = 1: "
                    "a virtual client is one user's whole data; ADD_OR_REMOVE_ONE)")
        return ("replace one user by a user contributing nothing = replace one virtual client "
                "by a zero-contribution one (users_per_client = 1: a virtual client is one "
                "user's whole data; REPLACE_SPECIAL)")
    clients = "B" if n_clients is None else f"B = {n_clients}"
    text = (f"add/remove one user = replace one of {clients} hashed virtual clients (B public; "
            f"users_per_client = {k}: a user's client depends only on its own data and the "
            f"public salt)")
    if aggregator == "fedavg":
        return f"{text}; both clipped deltas have norm <= C (REPLACE_ONE)"
    return (f"{text}; each tree node's sum changes by up to 2 C: sensitivity C at noise "
            f"multiplier sigma / 2 (REPLACE_SPECIAL)")


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
    ``n_clients`` is the public number ``B`` of virtual clients when known.
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
    n_clients: int | None = None

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
        check_count(rounds, "rounds"))


def ftrl_event(sigma: float, rounds: int, rounds_per_epoch: int):
    """Tree aggregation restarted every ``rounds_per_epoch`` rounds, over ``rounds`` rounds."""
    dpa = _dp_accounting()
    rounds = check_count(rounds, "rounds")
    rounds_per_epoch = check_count(rounds_per_epoch, "rounds_per_epoch")
    full, rest = divmod(rounds, rounds_per_epoch)
    sigma = check_sigma(sigma)
    events = []
    if full:
        events.append(dpa.SelfComposedDpEvent(
            dpa.SingleEpochTreeAggregationDpEvent(sigma, rounds_per_epoch), full))
    if rest:
        events.append(dpa.SingleEpochTreeAggregationDpEvent(sigma, rest))
    return dpa.ComposedDpEvent(events)


def _check_accountant(accountant: str, aggregator: str, users_per_client: int) -> None:
    if accountant not in ACCOUNTANTS:
        raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")
    if aggregator == "ftrl" and accountant != "rdp":
        raise ValueError("DP-FTRL (tree aggregation) is accounted with accountant='rdp' only")
    if aggregator == "fedavg" and accountant == "rdp" and users_per_client > 1:
        raise ValueError(
            f"accountant='rdp' cannot account users_per_client = {users_per_client} > 1: adding "
            f"or removing one user replaces one virtual client (REPLACE_ONE), and "
            f"dp-accounting's RDP accountant has no analysis of the Poisson-sampled Gaussian "
            f"under REPLACE_ONE; use accountant='pld'")


def _accountant(name: str, relation: str):
    """A fresh ``dp-accounting`` accountant ``name`` for ``NeighboringRelation[relation]``."""
    dpa = _dp_accounting()
    kind = dpa.rdp.RdpAccountant if name == "rdp" else dpa.pld.PLDAccountant
    return kind(neighboring_relation=dpa.NeighboringRelation[relation])


def epsilon(delta: float, *, q: float, sigma: float, rounds: int, accountant: str = "pld",
            aggregator: str = "fedavg", rounds_per_epoch: int | None = None,
            users_per_client: int = 1, n_clients: int | None = None) -> PrivacyRecord:
    """The user-level epsilon at ``delta`` of ``rounds`` rounds of DP-FedAvg (or DP-FTRL)
    with ``users_per_client = k`` users per virtual client (module docstring).

    DP-FedAvg: ``eps_ADD_OR_REMOVE_ONE`` of :func:`fedavg_event` for ``k = 1``;
    ``max(eps_REPLACE_ONE, eps_ADD_OR_REMOVE_ONE)`` for ``k > 1`` (PLD only).
    DP-FTRL (RDP, ``REPLACE_SPECIAL``): :func:`ftrl_event` at ``sigma`` for
    ``k = 1`` and at ``sigma / 2`` for ``k > 1``; ``rounds_per_epoch`` is the
    number of rounds before the tree restarts (``ceil(1 / q)`` if ``None``) and
    ``q`` the fraction of clients in each round (no sampling). ``n_clients``
    (``B``) only goes into the record.
    """
    delta, q, sigma = check_delta(delta), check_q(q), check_sigma(sigma)
    rounds = check_count(rounds, "rounds")
    k = check_count(users_per_client, "users_per_client")
    relation = neighbouring(aggregator, k, n_clients)
    _check_accountant(accountant, aggregator, k)
    record = dict(delta=delta, accountant=accountant, aggregator=aggregator,
                  sampling=_SAMPLING[aggregator], q=q, sigma=sigma, rounds=rounds,
                  neighbouring=relation, n_clients=n_clients)
    if sigma == 0:
        return PrivacyRecord(epsilon=math.inf, note="sigma = 0: no noise, no privacy guarantee",
                             **record)
    if aggregator == "ftrl":
        event = ftrl_event(sigma if k == 1 else sigma / 2, rounds,
                           rounds_per_epoch or math.ceil(1 / q))
        value = _accountant("rdp", "REPLACE_SPECIAL").compose(event).get_epsilon(delta)
    else:
        event = fedavg_event(q, sigma, rounds)
        value = _accountant(accountant, "ADD_OR_REMOVE_ONE").compose(event).get_epsilon(delta)
        if k > 1:
            value = max(value, _accountant("pld", "REPLACE_ONE").compose(event).get_epsilon(delta))
    return PrivacyRecord(epsilon=float(value), **record)


def calibrate_sigma(target_epsilon: float, delta: float, rounds: int, q: float,
                    accountant: str = "pld", users_per_client: int = 1) -> float:
    """The smallest noise multiplier ``sigma`` whose DP-FedAvg epsilon at ``delta``
    after ``rounds`` Poisson-sampled rounds at rate ``q`` is at most ``target_epsilon``
    under the relation of :func:`epsilon` for ``users_per_client`` (``k = 1``:
    add/remove; ``k > 1``: ``max`` of replace-one and add/remove, PLD only), by
    ``dp_accounting.calibrate_dp_mechanism`` with tolerance 1e-3 on ``sigma``."""
    if (isinstance(target_epsilon, bool) or not isinstance(target_epsilon, (int, float))
            or not 0 < target_epsilon < math.inf):
        raise ValueError(f"target_epsilon must be a finite number > 0, got {target_epsilon!r}")
    delta, q, rounds = check_delta(delta), check_q(q), check_count(rounds, "rounds")
    k = check_count(users_per_client, "users_per_client")
    _check_accountant(accountant, "fedavg", k)
    dpa = _dp_accounting()

    def search(name: str, relation: str, bracket) -> float:
        return float(dpa.calibrate_dp_mechanism(
            lambda: _accountant(name, relation), lambda s: fedavg_event(q, s, rounds),
            target_epsilon, delta, bracket_interval=bracket, tol=1e-3))

    # RDP is cheap and never below PLD's sigma: it brackets PLD's search, which would
    # need a huge privacy-loss grid at tiny sigma.
    sigma = search("rdp", "ADD_OR_REMOVE_ONE", dpa.LowerEndpointAndGuess(1e-2, 1.0))
    if accountant == "rdp":
        return sigma
    sigma = search("pld", "ADD_OR_REMOVE_ONE", dpa.ExplicitBracketInterval(sigma / 2, sigma))
    if k == 1:
        return sigma
    # Replace-one's epsilon is at least add/remove's, so at sigma / 2 it is above the
    # target; the max keeps both epsilons of :func:`epsilon` within it.
    return max(sigma, search("pld", "REPLACE_ONE", dpa.LowerEndpointAndGuess(sigma / 2,
                                                                              2 * sigma)))
