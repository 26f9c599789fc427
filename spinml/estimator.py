"""The estimator contract's shared half: settings by name, validated on every change.

An estimator lists its constructor's settings in ``_PARAMS`` and checks them
in ``_check_params(params)`` (raising an error that names the setting); its
constructor stores them as attributes of the same names and calls
``self._check_params(self.get_params())``. ``get_params`` / ``set_params``
follow scikit-learn; ``set_params`` checks the changed settings together with
the others before it changes anything. Learned state (set by ``fit``) ends in
``_``; asking a method for it before ``fit`` raises :class:`NotFittedError`.
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["Estimator", "NotFittedError", "renamed"]

E = TypeVar("E", bound="Estimator")


class NotFittedError(ValueError, AttributeError):
    """A method that needs learned state was called before ``fit``."""


class Estimator(abc.ABC):
    """Base of the estimators: ``get_params``, ``set_params``, ``repr``, the fitted check."""

    _PARAMS: tuple[str, ...] = ()

    @abc.abstractmethod
    def _check_params(self, params: dict[str, Any]) -> None:
        """Raise an error naming the setting when ``params`` (all settings) are not allowed."""

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's settings (scikit-learn's estimator protocol; ``deep``
        is accepted for that protocol: no estimator here nests another)."""
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self: E, **params: Any) -> E:
        """Change settings by name, after checking them with the others; returns self."""
        name = type(self).__name__
        unknown = set(params) - set(self._PARAMS)
        if unknown:
            raise ValueError(f"unknown {name} settings {sorted(unknown)}; "
                             f"valid: {list(self._PARAMS)}")
        self._check_params({**self.get_params(), **params})
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({settings})"

    def _fitted(self, attribute: str) -> Any:
        """The learned ``attribute`` (ending in ``_``), or :class:`NotFittedError`."""
        try:
            return self.__dict__[attribute]
        except KeyError:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: "
                                 f"call fit() first") from None


def renamed(given: Mapping[str, Any], names: Mapping[str, str], where: str) -> dict[str, Any]:
    """Arguments of an old call form under their new names, with a ``DeprecationWarning``
    (old forms work until spinml 0.3). ``names`` maps old name -> new name; any other
    name in ``given`` is a ``TypeError``, as Python raises for an unknown argument."""
    unknown = set(given) - set(names)
    if unknown:
        raise TypeError(f"{where} got unexpected arguments {sorted(unknown)}")
    if given:
        moves = ", ".join(f"{old} -> {names[old]}" for old in given)
        warnings.warn(f"{where}: these arguments are settings now ({moves}); pass them to the "
                      f"constructor or set_params(). The old form goes in spinml 0.3",
                      DeprecationWarning, stacklevel=3)
    return {names[old]: value for old, value in given.items()}
