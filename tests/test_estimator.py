"""The shared half of the estimator contract: settings by name, checked together."""

import pytest

from spinml.estimator import Estimator, NotFittedError


class Scaler(Estimator):
    _PARAMS = ("low", "high")

    def __init__(self, low: float = 0.0, high: float = 1.0) -> None:
        self.low, self.high = low, high
        self._check_params(self.get_params())

    def _check_params(self, params):
        if not params["low"] < params["high"]:
            raise ValueError(f"low must be < high, got {params['low']} and {params['high']}")

    def fit(self, data):
        self.span_ = max(data) - min(data)
        return self

    def span(self):
        return self._fitted("span_")


def test_get_set_params_round_trip_and_repr() -> None:
    scaler = Scaler(high=4.0)
    assert scaler.get_params() == {"low": 0.0, "high": 4.0}
    assert repr(scaler) == "Scaler(low=0.0, high=4.0)"
    assert Scaler(**scaler.get_params()).get_params() == scaler.get_params()
    assert scaler.set_params(low=1.0) is scaler and scaler.low == 1.0


def test_set_params_checks_all_settings_before_changing_any() -> None:
    scaler = Scaler()
    with pytest.raises(ValueError, match="low must be < high"):
        scaler.set_params(low=2.0)
    with pytest.raises(ValueError, match=r"unknown Scaler settings \['width'\]; valid"):
        scaler.set_params(width=3, low=0.5)
    assert scaler.get_params() == {"low": 0.0, "high": 1.0}
    assert scaler.set_params(low=2.0, high=3.0).get_params() == {"low": 2.0, "high": 3.0}


def test_learned_state_needs_fit() -> None:
    scaler = Scaler()
    with pytest.raises(NotFittedError, match="this Scaler is not fitted yet"):
        scaler.span()
    assert not hasattr(scaler, "span_")
    assert scaler.fit([1, 4]).span() == 3
