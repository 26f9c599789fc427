"""Notebook 02, the main job, executed headless through spinml report at toy sizes."""

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from spinml.notebook_report import run_report

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "02_privacy_utility_report.ipynb"
TOY = {"schemes": "target=L0,background=L0;target=L2,background=L1", "alphas": "0,1",
       "policy": "target=L2,background=L1", "n_ref": 1, "n_test": 2, "n_oracle": 2,
       "n_per_class": 2, "lora_steps": 2, "sample_steps": 2, "epochs": 1}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("nb02")
    html = run_report(NOTEBOOK, {**TOY, "cache": str(root / "cache")}, out=root / "reports",
                      progress=False)
    return html.parent


@pytest.mark.slow
def test_main_report_writes_finite_tables_figures_and_a_summary(report):
    assert (report / "02_privacy_utility_report.html").stat().st_size > 10_000
    executed = nbformat.read(report / "02_privacy_utility_report.ipynb", as_version=4)
    assert not [o for c in executed.cells for o in c.get("outputs", ())
                if o.get("output_type") == "error"]
    for name in ("examples", "privacy_utility", "mixing"):
        assert (report / "figures" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    metrics = pd.read_csv(report / "tables" / "all_metrics.csv")
    assert set(metrics.scheme) == {"L0_L0", "L2_L1", "public", "references", "oracle"}
    assert set(metrics.alpha) == {0.0, 1.0}
    assert set(metrics[metrics.scheme == "oracle"].object) == {"model"}
    assert np.isfinite(metrics.value).all()
    for name in ("leakage", "utility", "paired"):
        table = pd.read_csv(report / "tables" / f"{name}.csv", header=None)
        assert len(table) > 2
    summary = (report / "summary.md").read_text()
    assert "target MI" in summary and "nan" not in summary.lower()
    assert "points vs public (interval n/a: one user and seed)" in summary
    run = json.loads((report / "run.json").read_text())
    assert run["status"] == "ok" and run["parameters"]["n_per_class"] == 2


@pytest.mark.slow
def test_main_report_has_the_on_device_table(report):
    device = pd.read_csv(report / "tables" / "on_device.csv")
    assert list(device.precision) == ["fp32", "fp32", "int8"]
    assert list(device.runtime) == ["torch eager", "onnxruntime", "onnxruntime"]
    assert device.size_kB.iloc[2] < device.size_kB.iloc[1]
    assert (device.latency_ms > 0).all() and device.accuracy.between(0, 1).all()
    executed = nbformat.read(report / "02_privacy_utility_report.ipynb", as_version=4)
    assert any("## On the device" in c.source for c in executed.cells)


@pytest.mark.slow
def test_on_device_false_switches_the_table_off(report):
    """A rerun on the first run's cache (report/../../cache), so only the notebook runs."""
    html = run_report(NOTEBOOK, {**TOY, "cache": str(report.parents[1] / "cache"),
                                 "on_device": False},
                      out=report.parents[1] / "reports_off", progress=False)
    assert not (html.parent / "tables" / "on_device.csv").exists()
    assert (html.parent / "tables" / "utility.csv").is_file()
