"""notebooks/03_bn_inversion.ipynb runs headless under papermill and writes its outputs."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

papermill = pytest.importorskip("papermill")

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "03_bn_inversion.ipynb"


def test_notebook_writes_finite_tables_figures_and_grids(tmp_path):
    out = tmp_path / "report"
    small = {"dataset": "miniworld", "ks": [0, 3], "seeds": [0, 1], "n_per_class": 2,
             "batch_size": 8, "teacher_epochs": 1, "student_epochs": 1, "n_ref": 2, "n_test": 2,
             "output_dir": str(out)}
    papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "executed.ipynb"),
                               kernel_name="python3", parameters=small, progress_bar=False,
                               cwd=str(NOTEBOOK.parents[1]))
    results = pd.read_csv(out / "results.csv")
    assert sorted(results["K"].unique()) == [0, 3]
    assert sorted(results["seed"].unique()) == [0, 1]
    numbers = ["teacher_accuracy", "student_accuracy", "accuracy_ratio", "memorisation_distance",
               "membership_auc"]
    assert np.isfinite(results[numbers].to_numpy()).all()
    assert ((results["membership_auc"] >= 0) & (results["membership_auc"] <= 1)).all()
    summary = pd.read_csv(out / "summary.csv")
    assert summary["K"].tolist() == [0, 3]
    assert np.isfinite(summary[[f"{m}_mean" for m in numbers[1:]]].to_numpy()).all()
    for name in ("metrics_vs_K.png", "grid_K0.png", "grid_K3.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((out / "run.json").read_text())
    assert record["ks"] == [0, 3] and record["dataset"] == "miniworld"
