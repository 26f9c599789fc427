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

Limits (each refused with a ``ValueError`` naming the argument):

- ``sigma`` must be finite (``inf`` noise trains nothing; ``sigma = 0`` is
  accepted and gives ``epsilon = inf``).
- The PLD accountant discretises the privacy loss of one round on a grid of
  step ``1e-4`` between the bounds ``[l_lo, l_hi]`` of ``dp-accounting``'s
  connect-the-dots algorithm: ``(l_hi - l_lo) / 1e-4`` points, which grows as
  ``1 / sigma^2`` (35 PiB of memory at ``sigma = 1e-6``). A ``sigma`` whose grid
  exceeds :data:`PLD_MAX_POINTS` points (:func:`pld_grid_points`) is refused,
  naming the smallest accepted one (:func:`pld_sigma_floor`, about 0.24 for
  add/remove and 0.48 for replace-one at ``q = 1``); the epsilon there is above
  30 for a single round. The RDP accountant has no such limit.
- :func:`calibrate_sigma` searches ``sigma`` in ``[floor, SIGMA_MAX]`` and
  refuses a ``target_epsilon`` that is reached outside it.

Whether the epsilon holds also depends on where the noise and the client
sample came from (:mod:`spinml.federated.noise`): :func:`epsilon` takes the
run's ``noise_seed``, and a record of reproducible noise says that its
guarantee does not hold.

``dp-accounting`` is part of the ``federated`` extra (``pip install spinml[federated]``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from spinml import checks

__all__ = ["PrivacyRecord", "neighbouring", "fedavg_event", "ftrl_event", "epsilon",
           "calibrate_sigma", "check_q", "check_sigma", "check_clip", "check_delta",
           "check_noise_seed",
           "pld_grid_points", "pld_sigma_floor", "PLD_MAX_POINTS", "SIGMA_MAX"]

ACCOUNTANTS = ("rdp", "pld")
PLD_MAX_POINTS = 1_000_000
"""The largest privacy-loss grid of one round that :func:`epsilon` gives the PLD accountant
(about 25 s to build on one core of the project's machines)."""
SIGMA_MAX = 1e5
"""The largest noise multiplier :func:`calibrate_sigma` searches."""
_PLD_STEP = 1e-4
"""``dp-accounting``'s default discretisation step of the privacy loss."""
_SAMPLING = {
    "fedavg": "Poisson sampling of virtual clients",
    "ftrl": "none: each virtual client once per epoch, tree restarted each epoch",
}


def neighbouring(aggregator: str, users_per_client: int, n_clients: int | None = None) -> str:
    """The neighbouring relation of the guarantee, stated for users (module docstring);
    ``n_clients`` is ``B``, named in the text when given."""
    k = checks.positive_int(users_per_client, "users_per_client")
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
    return float(checks.in_interval(q, "q (client sampling rate)", 0, 1, "(]"))


def check_sigma(sigma: object) -> float:
    """``sigma`` if it is a finite noise multiplier >= 0."""
    if (isinstance(sigma, bool) or not isinstance(sigma, (int, float))
            or not 0 <= sigma < math.inf):
        raise ValueError(f"sigma (noise multiplier) must be a finite number >= 0, got {sigma!r}")
    return float(sigma)


def check_clip(clip: object) -> float:
    """``clip`` if it is a clipping norm > 0."""
    return float(checks.positive_number(
        clip, "clip (C, the L2 clipping norm of a client delta)"))


def check_delta(delta: object) -> float:
    """``delta`` if it is in (0, 1)."""
    return float(checks.in_interval(delta, "delta", 0, 1, "()"))


def check_noise_seed(noise_seed: object) -> int | None:
    """``noise_seed`` if it is ``None`` (secure noise) or an integer >= 0 (reproducible)."""
    if noise_seed is not None and (isinstance(noise_seed, bool) or not isinstance(noise_seed, int)
                                   or noise_seed < 0):
        raise ValueError(f"noise_seed must be None (secure noise) or an integer >= 0 "
                         f"(reproducible noise, for tests), got {noise_seed!r}")
    return noise_seed


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
    ``noise`` says where the noise and the client sample came from
    (:mod:`spinml.federated.noise`): ``"secure"`` (a secret key from the operating
    system), ``"reproducible"`` (from ``noise_seed``: anyone who knows it can
    regenerate them, so the guarantee does not hold; ``note`` says so) or
    ``"none"`` (``sigma = 0``). :attr:`holds` is true for a finite epsilon with
    secure noise only.
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
    noise: str = "secure"
    noise_seed: int | None = None

    @property
    def holds(self) -> bool:
        """Whether the guarantee holds: a finite epsilon from secure noise."""
        return self.noise == "secure" and math.isfinite(self.epsilon)

    def to_dict(self) -> dict[str, Any]:
        """A flat dict, e.g. one row of a pandas DataFrame, with ``holds``."""
        return asdict(self) | {"holds": self.holds}

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
        checks.positive_int(rounds, "rounds"))


def ftrl_event(sigma: float, rounds: int, rounds_per_epoch: int):
    """Tree aggregation restarted every ``rounds_per_epoch`` rounds, over ``rounds`` rounds."""
    dpa = _dp_accounting()
    rounds = checks.positive_int(rounds, "rounds")
    rounds_per_epoch = checks.positive_int(rounds_per_epoch, "rounds_per_epoch")
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


def pld_grid_points(q: float, sigma: float, relation: str = "ADD_OR_REMOVE_ONE") -> float:
    """Points of the privacy-loss grid that ``dp-accounting``'s PLD accountant builds for
    one round of the Poisson-sampled Gaussian at rate ``q``, noise multiplier ``sigma``
    and neighbouring ``relation``: ``(l_hi - l_lo) / 1e-4`` for the connect-the-dots
    bounds ``[l_lo, l_hi]`` of its privacy loss (``ADD_OR_REMOVE_ONE``: the larger of
    the add and remove grids; ``REPLACE_ONE``: the replace grid), computed without
    building the grid."""
    q, sigma = check_q(q), check_sigma(sigma)
    if sigma == 0:
        return math.inf
    mechanism = _dp_accounting().pld.privacy_loss_mechanism
    kinds = ("REPLACE",) if relation == "REPLACE_ONE" else ("ADD", "REMOVE")
    points = 0.0
    for kind in kinds:
        bounds = mechanism.GaussianPrivacyLoss(
            sigma, sampling_prob=q, adjacency_type=mechanism.AdjacencyType[kind],
            log_mass_truncation_bound=-50).connect_dots_bounds()
        span = float(bounds.epsilon_upper) - float(bounds.epsilon_lower)
        points = max(points, span / _PLD_STEP if math.isfinite(span) else math.inf)
    return points


@lru_cache(maxsize=256)
def pld_sigma_floor(q: float, relation: str = "ADD_OR_REMOVE_ONE") -> float:
    """The smallest ``sigma`` (within 0.1 %) whose :func:`pld_grid_points` at rate ``q``
    and ``relation`` is at most :data:`PLD_MAX_POINTS` (bisection on ``log sigma``)."""
    lo, hi = 1e-8, 1e3
    while hi / lo > 1.001:
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if pld_grid_points(q, mid, relation) > PLD_MAX_POINTS else (lo, mid)
    return hi


def _check_pld_sigma(q: float, sigma: float, relations: list[str], fallback: str) -> None:
    """Refuse a ``sigma`` whose PLD grid for any of ``relations`` exceeds
    :data:`PLD_MAX_POINTS` points."""
    for relation in relations:
        points = pld_grid_points(q, sigma, relation)
        if points > PLD_MAX_POINTS:
            floor = max(pld_sigma_floor(q, name) for name in relations)
            raise ValueError(
                f"sigma = {sigma:g} is too small for the PLD accountant: at q = {q:g} "
                f"({relation}) its privacy-loss grid would hold {points:.3g} points per round, "
                f"more than the {PLD_MAX_POINTS:.0e} it can compute; use sigma >= "
                f"{floor:.4g}{fallback}")


def _accountant(name: str, relation: str):
    """A fresh ``dp-accounting`` accountant ``name`` for ``NeighboringRelation[relation]``."""
    dpa = _dp_accounting()
    kind = dpa.rdp.RdpAccountant if name == "rdp" else dpa.pld.PLDAccountant
    return kind(neighboring_relation=dpa.NeighboringRelation[relation])


def _noise(sigma: float, noise_seed: int | None) -> tuple[str, str]:
    """The record's ``noise`` and the note it adds."""
    if sigma == 0:
        return "none", "sigma = 0: no noise, no privacy guarantee"
    if check_noise_seed(noise_seed) is None:
        return "secure", ""
    return "reproducible", (f"reproducible noise (noise_seed = {noise_seed}): anyone who knows "
                            f"noise_seed can regenerate the noise and the client sample, so this "
                            f"guarantee does NOT hold (for tests only)")


def epsilon(delta: float, *, q: float, sigma: float, rounds: int, accountant: str = "pld",
            aggregator: str = "fedavg", rounds_per_epoch: int | None = None,
            users_per_client: int = 1, n_clients: int | None = None,
            noise_seed: int | None = None) -> PrivacyRecord:
    """The user-level epsilon at ``delta`` of ``rounds`` rounds of DP-FedAvg (or DP-FTRL)
    with ``users_per_client = k`` users per virtual client (module docstring).

    DP-FedAvg: ``eps_ADD_OR_REMOVE_ONE`` of :func:`fedavg_event` for ``k = 1``;
    ``max(eps_REPLACE_ONE, eps_ADD_OR_REMOVE_ONE)`` for ``k > 1`` (PLD only).
    DP-FTRL (RDP, ``REPLACE_SPECIAL``): :func:`ftrl_event` at ``sigma`` for
    ``k = 1`` and at ``sigma / 2`` for ``k > 1``; ``rounds_per_epoch`` is the
    number of rounds before the tree restarts (``ceil(1 / q)`` if ``None``; DP-FedAvg
    takes none) and ``q`` the fraction of clients in each round (no sampling).
    ``n_clients`` (``B``) only goes into the record. ``noise_seed`` is the run's
    (:mod:`spinml.federated.noise`): ``None`` for secure noise; an integer marks
    the record as reproducible, whose guarantee does not hold. The PLD accountant
    refuses a ``sigma`` below :func:`pld_sigma_floor` (module docstring).
    """
    delta, q, sigma = check_delta(delta), check_q(q), check_sigma(sigma)
    rounds = checks.positive_int(rounds, "rounds")
    k = checks.positive_int(users_per_client, "users_per_client")
    relation = neighbouring(aggregator, k, n_clients)
    _check_accountant(accountant, aggregator, k)
    if aggregator == "fedavg" and rounds_per_epoch is not None:
        raise ValueError(f"rounds_per_epoch applies to aggregator='ftrl' only (DP-FedAvg samples "
                         f"every round), got {rounds_per_epoch!r}")
    if aggregator == "ftrl":
        rounds_per_epoch = (math.ceil(1 / q) if rounds_per_epoch is None
                            else checks.positive_int(rounds_per_epoch, "rounds_per_epoch"))
    noise, note = _noise(sigma, noise_seed)
    record = dict(delta=delta, accountant=accountant, aggregator=aggregator,
                  sampling=_SAMPLING[aggregator], q=q, sigma=sigma, rounds=rounds,
                  neighbouring=relation, n_clients=n_clients, noise=noise, noise_seed=noise_seed,
                  note=note)
    if sigma == 0:
        return PrivacyRecord(epsilon=math.inf, **record)
    if aggregator == "ftrl":
        event = ftrl_event(sigma if k == 1 else sigma / 2, rounds, rounds_per_epoch)
        value = _accountant("rdp", "REPLACE_SPECIAL").compose(event).get_epsilon(delta)
    else:
        relations = ["ADD_OR_REMOVE_ONE"] + (["REPLACE_ONE"] if k > 1 else [])
        if accountant == "pld":
            _check_pld_sigma(q, sigma, relations, " or accountant='rdp'" if k == 1 else "")
        event = fedavg_event(q, sigma, rounds)
        value = max(_accountant("pld" if name == "REPLACE_ONE" else accountant, name)
                    .compose(event).get_epsilon(delta) for name in relations)
    return PrivacyRecord(epsilon=float(value), **record)


def _too_large(target: float, floor: float, at_floor: float, where: str) -> ValueError:
    return ValueError(
        f"target_epsilon = {target:g} is reached below sigma = {floor:.4g}, the smallest noise "
        f"multiplier calibrate searches ({where}), whose epsilon is at most {at_floor:.4g}; "
        f"ask for a target_epsilon below that")


def _smallest_sigma(eps: Callable[[float], float], target: float, guess: float, floor: float,
                    where: str, lenient: bool = False) -> float:
    """The smallest ``sigma`` in ``[floor, SIGMA_MAX]`` with ``eps(sigma) <= target``, for an
    ``eps`` that falls as ``sigma`` grows: a bracket grown from ``guess`` by factors of 2,
    then Brent's method to 0.1 % of ``sigma``; the value returned meets the target. A
    target reached only outside the range is refused (``lenient``: the bound is returned)."""
    from scipy.optimize import brentq

    gaps: dict[float, float] = {}

    def gap(sigma: float) -> float:
        if sigma not in gaps:
            gaps[sigma] = eps(sigma) - target
        return gaps[sigma]

    lo, hi = None, min(max(guess, floor), SIGMA_MAX)
    while gap(hi) > 0:
        if hi >= SIGMA_MAX:
            if lenient:
                return hi
            raise ValueError(
                f"target_epsilon = {target:g} is out of reach: even sigma = {SIGMA_MAX:g}, the "
                f"largest noise multiplier calibrate searches, gives epsilon "
                f"{gap(hi) + target:.4g} ({where}); ask for a larger target_epsilon")
        lo, hi = hi, min(2 * hi, SIGMA_MAX)
    while lo is None or gap(lo) <= 0:
        if lo is not None and lo <= floor:
            if lenient:
                return lo
            raise _too_large(target, floor, gap(lo) + target, where)
        hi = hi if lo is None else lo
        lo = max(hi / 2, floor)
    root = brentq(gap, lo, hi, xtol=1e-9, rtol=1e-3)
    return next(s for s in (root, root * (1 + 2e-3), hi) if gap(s) <= 0)


def calibrate_sigma(target_epsilon: float, delta: float, rounds: int, q: float,
                    accountant: str = "pld", users_per_client: int = 1) -> float:
    """The smallest noise multiplier ``sigma`` (within 0.1 %) whose DP-FedAvg epsilon at
    ``delta`` after ``rounds`` Poisson-sampled rounds at rate ``q`` is at most
    ``target_epsilon``, under the relation of :func:`epsilon` for ``users_per_client``
    (``k = 1``: add/remove; ``k > 1``: ``max`` of replace-one and add/remove, PLD only).

    The search is bounded: ``sigma`` in ``[floor, SIGMA_MAX]``, ``floor`` the PLD
    accountant's :func:`pld_sigma_floor` (``0.01`` for RDP). A target reached only
    outside that range is refused with the epsilon at the bound. The RDP search,
    cheap and never below PLD's add/remove ``sigma``, gives the PLD search its start;
    for ``k = 1`` an RDP epsilon within the target at ``floor`` already refuses it
    (RDP's epsilon is a valid bound), without building the PLD grid there.
    """
    if (isinstance(target_epsilon, bool) or not isinstance(target_epsilon, (int, float))
            or not 0 < target_epsilon < math.inf):
        raise ValueError(f"target_epsilon must be a finite number > 0, got {target_epsilon!r}")
    delta, q, rounds = check_delta(delta), check_q(q), checks.positive_int(rounds, "rounds")
    k = checks.positive_int(users_per_client, "users_per_client")
    _check_accountant(accountant, "fedavg", k)

    def rdp(sigma: float) -> float:
        return epsilon(delta, q=q, sigma=sigma, rounds=rounds, accountant="rdp").epsilon

    if accountant == "rdp":
        return _smallest_sigma(rdp, target_epsilon, 1.0, 0.01, "RDP accountant")
    relations = ["ADD_OR_REMOVE_ONE"] + (["REPLACE_ONE"] if k > 1 else [])
    floor = max(pld_sigma_floor(q, name) for name in relations)
    where = f"the PLD accountant's limit at q = {q:g}"
    if k == 1 and (at_floor := rdp(floor)) <= target_epsilon:
        raise _too_large(target_epsilon, floor, at_floor, where)
    guess = _smallest_sigma(rdp, target_epsilon, 1.0, floor, where, lenient=True)
    return _smallest_sigma(
        lambda s: epsilon(delta, q=q, sigma=s, rounds=rounds, users_per_client=k).epsilon,
        target_epsilon, guess, floor, where)


def __getattr__(name: str) -> Any:
    if name == "check_count":
        warnings.warn("spinml.federated.accounting.check_count is now spinml.checks.positive_int; "
                      "the old name goes in spinml 0.3", DeprecationWarning, stacklevel=2)
        return checks.positive_int
    raise AttributeError(f"module 'spinml.federated.accounting' has no attribute {name!r}")
