"""Parameter values by name: seeds, alphas, schemes, policies and Settings fields."""

import pytest

from spinml.experiment import all_schemes
from spinml.parameters import check_value, parse_alphas, parse_schemes, parse_seeds, parse_users


def test_seeds_from_text_or_lists():
    assert parse_seeds("0, 1,2") == [0, 1, 2] and parse_seeds([5, 0]) == [5, 0]
    with pytest.raises(ValueError, match=r"seeds: '1\.5' is not an integer"):
        parse_seeds("0,1.5")
    with pytest.raises(ValueError, match="non-negative"):
        parse_seeds([-1])
    with pytest.raises(ValueError, match="non-empty comma-separated list"):
        parse_seeds([])


def test_users_from_one_text_or_lists():
    assert parse_users("0,1, 2") == (0, 1, 2) and parse_users(3) == (3,)
    assert parse_users([4, 0]) == (4, 0)
    check_value("users", "0,1,2,3,4")  # what `spinml report -p users 0,1,2,3,4` passes
    with pytest.raises(ValueError, match="users: user '-1' must be a non-negative"):
        parse_users("0,-1")
    with pytest.raises(ValueError, match="distinct"):
        check_value("users", "1,1")
    with pytest.raises(ValueError, match="not an integer"):
        check_value("users", "0,x")


def test_alphas_are_fractions():
    assert parse_alphas("0,.25, 1") == [0.0, 0.25, 1.0] and parse_alphas([0.5]) == [0.5]
    for bad in ("1.5", "-0.1", "nan", "x"):
        with pytest.raises(ValueError, match=f"alphas: '{bad}' is not a fraction in"):
            parse_alphas(f"0,{bad}")


def test_schemes_are_all_or_policies():
    assert parse_schemes(" all ") == all_schemes()
    assert parse_schemes("target=L2;; target=L1,background=L1 ;") == [
        "target=L2", "target=L1,background=L1"]
    with pytest.raises(ValueError, match="expected 'all' or policies"):
        parse_schemes(" ; ")
    with pytest.raises(ValueError, match="expected text"):
        parse_schemes(["target=L2"])
    with pytest.raises(ValueError, match="L0, L1 or L2"):
        parse_schemes("target=L3")


def test_check_value_applies_the_rule_of_the_name():
    check_value("seeds", "0,1")
    check_value("policy", "target=L2,background=L0")
    check_value("epochs", 2)
    check_value("data", "/no/such/folder")         # folders: the caller's check
    check_value("anything_else", object())
    with pytest.raises(ValueError, match="epochs"):
        check_value("epochs", 0)
    with pytest.raises(ValueError):
        check_value("policy", "target=L9")
    with pytest.raises(ValueError, match="alphas"):
        check_value("alphas", "2")


def test_workers_and_executor_are_checked_by_name():
    check_value("workers", 0)                       # fill the cores
    check_value("workers", 3)
    check_value("executor", "ray")
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="workers"):
            check_value("workers", bad)
    with pytest.raises(ValueError, match="executor.*process"):
        check_value("executor", "dask")
