"""Values of run parameters as notebooks and the command line give them, checked by name.

One check per parameter name, so ``spinml report`` refuses a bad value before any
kernel starts with the same rule the library applies later:

- a name of a :class:`~spinml.experiment.Settings` field (``n_ref``, ``guidance``,
  ``epochs``, ...): the value that ``Settings`` itself accepts for it;
- ``policy``: a :class:`~spinml.SharingPolicy` string;
- ``schemes``: ``"all"`` or policy strings separated by ``;``;
- ``users``: distinct integers >= 0, as one, a list or comma-separated text;
- ``seeds``: integers >= 0, as a list or comma-separated text (``"0,1,2"``);
- ``alphas``: mixing fractions in [0, 1], as a list or comma-separated text;
- ``workers``: parallel runs of a sweep, an integer >= 0 (0: fill the cores,
  ``cores // threads``);
- ``executor``: where they run, ``"process"`` (a local pool) or ``"ray"``
  (:func:`spinml.executors.make_executor`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from spinml.checks import non_negative_int
from spinml.executors import EXECUTOR_KINDS
from spinml.experiment import Settings, _check_alpha, all_schemes
from spinml.policy import SharingPolicy

__all__ = ["parse_users", "parse_seeds", "parse_alphas", "parse_schemes", "parse_workers",
           "check_value"]


def _items(value: Any, name: str) -> list:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(f"{name}: expected a non-empty comma-separated list, got {value!r}")
    return [v.strip() if isinstance(v, str) else v for v in items]


def parse_seeds(value: str | list[int], name: str = "seeds", what: str = "seed") -> list[int]:
    """``"0,1,2"`` or ``[0, 1, 2]`` -> ``[0, 1, 2]``; every seed an integer >= 0."""
    seeds = []
    for item in _items(value, name):
        try:
            seed = int(item) if isinstance(item, str) else item
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not an integer (in {value!r})") from None
        seeds.append(non_negative_int(seed, f"{name}: {what} {item!r}"))
    return seeds


def parse_users(value: str | int | list[int], name: str = "users") -> tuple[int, ...]:
    """``"0,1,2"``, ``[0, 1, 2]`` or ``3`` -> ``(0, 1, 2)`` / ``(3,)``: distinct
    mini-world users, each an integer >= 0 (what ``Settings.users`` takes)."""
    single = isinstance(value, int) and not isinstance(value, bool)
    users = tuple(parse_seeds([value] if single else value, name, "user"))
    return Settings(users=users).users


def parse_alphas(value: str | list[float], name: str = "alphas") -> list[float]:
    """``"0,0.5,1"`` -> ``[0.0, 0.5, 1.0]``; every fraction in [0, 1] (not NaN)."""
    alphas = []
    for item in _items(value, name):
        try:
            alphas.append(_check_alpha(float(item) if isinstance(item, str) else item))
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not a fraction in [0, 1] "
                             f"(in {value!r})") from None
    return alphas


def parse_schemes(value: str, name: str = "schemes") -> list[str]:
    """``"all"`` (the nine schemes) or policy strings separated by ``;``."""
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected text, got {value!r}")
    if value.strip() == "all":
        return all_schemes()
    schemes = [s.strip() for s in value.split(";") if s.strip()]
    if not schemes:
        raise ValueError(f"{name}: expected 'all' or policies separated by ';', got {value!r}")
    for scheme in schemes:
        SharingPolicy.from_string(scheme)
    return schemes


def parse_workers(value: int, name: str = "workers") -> int:
    """Parallel runs: an integer >= 0, 0 meaning ``cores // threads``."""
    return non_negative_int(value, f"{name} (parallel runs, 0 = fill the cores)")


def _executor(value: str) -> str:
    if value not in EXECUTOR_KINDS:
        raise ValueError(f"executor: expected one of {list(EXECUTOR_KINDS)}, got {value!r}")
    return value


def _setting(name: str) -> Callable[[Any], Any]:
    return lambda value: Settings(**{name: value})


_CHECKS: dict[str, Callable[[Any], Any]] = {
    **{f.name: _setting(f.name) for f in dataclasses.fields(Settings)
       if f.name not in ("data", "test_data")},
    "policy": SharingPolicy.from_string,
    "schemes": parse_schemes,
    "users": parse_users,
    "seeds": parse_seeds,
    "alphas": parse_alphas,
    "workers": parse_workers,
    "executor": _executor,
}


def check_value(name: str, value: Any) -> None:
    """Refuse ``value`` for parameter ``name`` (``ValueError`` / ``TypeError``) where a
    rule above covers the name; other names pass. Folders (``data``, ``test_data``)
    are checked by the caller, which knows whether they are inputs."""
    check = _CHECKS.get(name)
    if check is not None:
        check(value)
