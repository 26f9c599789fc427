"""spinml report checks values, not just types, before any kernel starts, and never echoes
a file's contents (issue 19, item 14)."""

import json
import math

import pytest

from spinml.cli import main
from spinml.notebook_report import check_parameters, parse_parameters, run_report
from spinml.parameters import check_value, parse_alphas, parse_schemes, parse_seeds

REPORT = "notebooks/02_privacy_utility_report.ipynb"


@pytest.mark.parametrize("name, text, message", [
    ("seeds", "abc", "'abc' is not an integer"),
    ("seeds", "0,-1", "seed '-1' must be a non-negative integer"),
    ("seeds", "", "not an integer"),
    ("n_ref", "0", "n_ref must be a positive integer"),
    ("guidance", "nan", r"guidance must be in \[1, inf\), got nan"),
    ("alphas", "2,3", "'2' is not a fraction in"),
    ("alphas", "0,nan", "'nan' is not a fraction in"),
    ("schemes", "target=L7", "expected L0, L1 or L2"),
    ("epochs", "-3", "epochs must be a positive integer"),
    ("color_jitter", "-inf", "color_jitter must be a number >= 0"),
])
def test_bad_values_are_refused_before_any_kernel(tmp_path, name, text, message):
    parameters = parse_parameters(REPORT, [(name, text)])
    with pytest.raises(ValueError, match=f"parameter '{name}'.*{message}"):
        check_parameters(REPORT, parameters)
    with pytest.raises(ValueError, match=message):
        run_report(REPORT, parameters, out=tmp_path / "reports")
    assert not (tmp_path / "reports").exists() or not list((tmp_path / "reports").iterdir())


def test_good_values_pass_and_parse_as_the_notebook_reads_them():
    check_parameters(REPORT, parse_parameters(REPORT, [("seeds", "0,1,2"), ("alphas", "0,.5,1"),
                                                       ("guidance", "3"), ("n_ref", "2")]))
    assert parse_seeds("0, 1,2") == [0, 1, 2] and parse_seeds([3]) == [3]
    assert parse_alphas("0,0.5,1") == [0.0, 0.5, 1.0]
    assert len(parse_schemes("all")) == 9 and parse_schemes("target=L2; target=L0") == [
        "target=L2", "target=L0"]
    check_value("unknown_name", math.nan)


def test_a_file_that_is_not_a_notebook_is_not_echoed(tmp_path, capsys):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    copy = tmp_path / "passwd.ipynb"
    copy.write_text(secret.read_text())
    for path in (secret, copy):
        assert main(["report", str(path)]) == 2
        err = capsys.readouterr().err
        assert str(path) in err and "root" not in err.replace(str(tmp_path), "")


def test_a_malformed_notebook_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "broken.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                "cells": [{"cell_type": "code", "id": "a", "source": "x = 1",
                                           "outputs": [], "execution_count": None}]}))
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"notebook {path} is not a valid Jupyter notebook" in err
    assert "Traceback" not in err
