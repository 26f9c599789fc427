"""Notebook 01 executed headless through papermill (spinml report), with small parameters."""

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from spinml import SanitizedSet, Sanitizer
from spinml.data import load_folder, miniworld
from spinml.data.imageio import encode_png
from spinml.notebook_report import run_report

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "01_select_objects.ipynb"


def artifact_folder(root: Path) -> Path:
    """One mini-world reference per class, written in the SpinML artifact layout."""
    references, _ = miniworld.user(1, n_ref=1, n_test=0)
    for i, ref in enumerate(references):
        for part, array in (("raw", ref.image),
                            ("raw_split/mask", ref.mask("target"))):
            path = root / "real" / part / ref.label / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_png(array))
    return root


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Two runs: widgets off on a data folder; the picker on the mini-world."""
    root = tmp_path_factory.mktemp("nb01")
    data = artifact_folder(root / "data")
    headless = run_report(NOTEBOOK, {"data": str(data), "interactive": False,
                                     "policy": "target=L2,background=L0"},
                          out=root / "reports", progress=False)
    picker = run_report(NOTEBOOK, {"n_ref": 1, "interactive": True,
                                   "policy": "target=L1,background=L1"},
                        out=root / "reports", progress=False)
    return {"headless": (headless.parent, data), "picker": (picker.parent, None)}


@pytest.mark.parametrize("run", ["headless", "picker"])
def test_report_files_exist_and_hold_numbers(reports, run):
    folder, _ = reports[run]
    assert (folder / "01_select_objects.html").stat().st_size > 10_000
    executed = nbformat.read(folder / "01_select_objects.ipynb", as_version=4)
    assert not [o for c in executed.cells for o in c.get("outputs", ())
                if o.get("output_type") == "error"]
    figures = sorted((folder / "figures").glob("*.png"))
    assert figures and all(f.read_bytes().startswith(b"\x89PNG") for f in figures)
    for name in ("leakage.csv", "leakage_summary.csv"):
        table = pd.read_csv(folder / "tables" / name)
        numbers = table.select_dtypes("number")
        assert len(table) and not numbers.empty and not numbers.isna().any().any(), name
    run_json = json.loads((folder / "run.json").read_text())
    assert run_json["status"] == "ok" and run_json["seeds"] == {"seed": 0}


def test_headless_run_uploads_the_policy_of_the_string(reports):
    folder, data = reports["headless"]
    upload = SanitizedSet.load(folder / "upload")
    assert str(upload.policy) == "background=L0,target=L2"
    expected = Sanitizer().sanitize(load_folder(data), "target=L2,background=L0",
                                    progress=False)
    for saved, ours in zip(upload, expected, strict=True):
        np.testing.assert_array_equal(saved.object("target").segment,
                                      ours.object("target").segment)
        assert saved.object("background").level.name == "L0"
    summary = pd.read_csv(folder / "tables" / "leakage_summary.csv").set_index("object")
    assert summary.loc["target", "level"] == "L2" and summary.loc["target", "mean"] > 0
    assert summary.loc["background", "mean"] == 0


def test_picker_run_shows_the_widget_and_uploads_its_policy(reports):
    folder, _ = reports["picker"]
    upload = SanitizedSet.load(folder / "upload")
    assert upload.scheme == "L1_L1" and len(upload) == 4
    executed = nbformat.read(folder / "01_select_objects.ipynb", as_version=4)
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for c in executed.cells for o in c.get("outputs", ()))


@pytest.mark.parametrize(("parameters", "message"), [
    ({"users": 1}, "unknown parameter 'users'.*valid names: data, interactive, n_ref"),
    ({"policy": "target=L2;background=L1"}, "policy string"),
    ({"data": "/no/such/data"}, "data folder /no/such/data does not exist"),
])
def test_bad_input_is_refused_before_the_kernel_starts(tmp_path, parameters, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        run_report(NOTEBOOK, parameters, out=tmp_path / "reports", progress=False)
    assert not (tmp_path / "reports").exists()
