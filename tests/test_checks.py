"""The setting checks: what each accepts, and errors that name the setting."""

import numpy as np
import pytest

from spinml import checks


@pytest.mark.parametrize(("check", "good", "bad", "message"), [
    (checks.positive_int, [1, np.int64(3)], [0, -1, 2.0, True, "2"], "must be a positive integer"),
    (checks.non_negative_int, [0, 5], [-1, 0.0, False], "must be a non-negative integer"),
    (checks.positive_number, [1e-9, 2, 0.5], [0, -1.0, float("nan"), float("inf"), True],
     "must be a positive number"),
    (checks.non_negative_number, [0, 0.0, 3.5], [-1e-9, float("nan"), None],
     "must be a number >= 0"),
])
def test_numbers(check, good, bad, message) -> None:
    for value in good:
        assert check(value, "x") == value
    for value in bad:
        with pytest.raises(ValueError, match=f"x {message}, got"):
            check(value, "x")


@pytest.mark.parametrize(("closed", "inside", "outside"), [
    ("[)", [0, 0.5], [1, -0.1]),
    ("(]", [1, 0.5], [0, 1.1]),
    ("()", [0.5], [0, 1]),
    ("[]", [0, 1], [float("nan"), 2]),
])
def test_in_interval(closed, inside, outside) -> None:
    for value in inside:
        assert checks.in_interval(value, "q", 0, 1, closed) == value
    for value in outside:
        with pytest.raises(ValueError, match=rf"q must be in \{closed[0]}0, 1\{closed[1]}, got"):
            checks.in_interval(value, "q", 0, 1, closed)


def test_boolean_and_one_of() -> None:
    assert checks.boolean(False, "progress") is False
    with pytest.raises(TypeError, match="progress must be True or False, got 1"):
        checks.boolean(1, "progress")
    assert checks.one_of(None, "device", (None, "cpu")) is None
    with pytest.raises(ValueError, match=r"device must be one of \(None, 'cpu'\), got 'tpu'"):
        checks.one_of("tpu", "device", (None, "cpu"))
