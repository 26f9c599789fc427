"""spinml report: real papermill + nbconvert runs of tiny notebooks, and refused input."""

import json
import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from spinml.cli import main
from spinml.notebook_report import (
    ReportFailed,
    notebook_parameters,
    parse_parameters,
    parse_value,
    run_report,
)

PARAMETERS = '''n = 3                               # rows of the table
scale = 0.5
label = "x"
policy = "target=L2,background=L1"  # a default papermill's own inspection cannot read
data = ""
test_data = ""
seed = 7
output_dir = "out"'''

BODY = '''from pathlib import Path
import matplotlib
matplotlib.use("module://matplotlib_inline.backend_inline")
import matplotlib.pyplot as plt
import pandas as pd
out = Path(output_dir)
(out / "tables").mkdir(parents=True, exist_ok=True)
table = pd.DataFrame({"i": range(n), "value": [scale * i for i in range(n)]})
table.to_csv(out / "tables" / "values.csv", index=False)
plt.plot(table.i, table.value)
plt.title(label)
plt.show()
print("policy is", policy)'''


def notebook(folder, *cells):
    nb = new_notebook(cells=[new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
                             *(new_code_cell(c) for c in cells)],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


def visible(folder):
    return sorted(p.name for p in folder.iterdir())


def test_report_folder_holds_notebook_html_figures_tables_and_run_json(tmp_path):
    path = notebook(tmp_path, BODY)
    out = tmp_path / "reports"
    html = run_report(path, {"n": 4, "scale": 2, "policy": "target=L1"}, out=out, progress=False)

    folder = html.parent
    assert [p.name for p in out.iterdir()] == [folder.name], "no staging folder is left"
    assert folder.name.startswith("tiny-") and html.name == "tiny.html"
    assert visible(folder) == ["figures", "run.json", "tables", "tiny.html", "tiny.ipynb"]
    assert "policy is target=L1" in html.read_text()
    assert (folder / "figures" / "cell02-1.png").read_bytes().startswith(b"\x89PNG")
    table = pd.read_csv(folder / "tables" / "values.csv")
    assert table.value.tolist() == [0, 2, 4, 6]
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "ok" and run["duration_s"] > 0
    assert run["parameters"] == {"n": 4, "scale": 2, "label": "x", "policy": "target=L1",
                                 "data": "", "test_data": "", "seed": 7,
                                 "output_dir": "."}
    paths = json.loads((folder / "tiny.ipynb").read_text())["metadata"]["papermill"]
    assert paths["output_path"] == "tiny.ipynb" and not Path(paths["input_path"]).is_absolute()
    assert run["overrides"] == {"n": 4, "scale": 2, "policy": "target=L1"}
    assert run["seeds"] == {"seed": 7}
    assert run["versions"]["papermill"] and run["versions"]["spinml"]
    assert run["figures"] == ["figures/cell02-1.png"]
    assert run["tables"] == ["tables/values.csv"]


def test_failed_run_leaves_a_marked_folder_with_the_error(tmp_path):
    path = notebook(tmp_path, "print('before')", "raise RuntimeError('the data is odd')")
    out = tmp_path / "reports"
    with pytest.raises(ReportFailed, match="error.txt") as info:
        run_report(path, {}, out=out, progress=False)

    folder = info.value.folder
    assert [p.name for p in out.iterdir()] == [folder.name]
    assert folder.name.endswith("-FAILED")
    assert visible(folder) == ["error.txt", "run.json", "tiny.ipynb"]
    assert "the data is odd" in (folder / "error.txt").read_text()
    run = json.loads((folder / "run.json").read_text())
    assert run["status"] == "failed" and "the data is odd" in run["error"]
    executed = nbformat.read(folder / "tiny.ipynb", as_version=4)
    ran = [c for c in executed.cells if c.source == "print('before')"]
    assert ran[0].outputs[0]["text"] == "before\n", "the cells before the error ran"


@pytest.mark.parametrize(("parameters", "error", "message"), [
    ({"nn": 3}, ValueError, "unknown parameter 'nn'.*valid names: data, label, n, policy, "
                            "scale, seed, test_data$"),
    ({"n": "three"}, ValueError, "parameter 'n' of tiny.ipynb expects int"),
    ({"label": 3}, ValueError, "parameter 'label' .* expects str"),
    ({"policy": "target=L7"}, ValueError, "policy string 'target=L7'"),
    ({"policy": "target"}, ValueError, "malformed policy string"),
    ({"data": "/no/such/folder"}, FileNotFoundError, "'data': data folder /no/such/folder"),
    ({"test_data": "/no/such"}, FileNotFoundError, "'test_data': data folder /no/such does"),
    ({"output_dir": "x"}, ValueError, "set by the report runner"),
])
def test_bad_parameters_are_refused_before_any_run(tmp_path, parameters, error, message):
    path = notebook(tmp_path, BODY)
    out = tmp_path / "reports"
    with pytest.raises(error, match=message):
        run_report(path, parameters, out=out, progress=False)
    assert not out.exists()


def test_unwritable_output_and_missing_notebook_are_refused(tmp_path):
    path = notebook(tmp_path, BODY)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match=f"output folder {blocker}/reports is not writable"):
        run_report(path, {}, out=blocker / "reports", progress=False)
    with pytest.raises(FileNotFoundError, match="notebook .*nope.ipynb does not exist"):
        run_report(tmp_path / "nope.ipynb", {}, out=tmp_path / "r")
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].metadata.tags = []
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        run_report(path, {}, out=tmp_path / "r")


def test_parameters_are_read_from_the_cell_with_their_defaults(tmp_path):
    assert notebook_parameters(notebook(tmp_path, BODY)) == {
        "n": 3, "scale": 0.5, "label": "x", "policy": "target=L2,background=L1", "data": "",
        "test_data": "", "seed": 7, "output_dir": "out"}


def test_command_line_text_stays_text_where_the_default_is_a_string(tmp_path):
    path = notebook(tmp_path, BODY)
    pairs = [("label", "3"), ("n", "5"), ("scale", "1e-3"), ("policy", "target=L2"),
             ("colour", "7")]
    assert parse_parameters(path, pairs) == {
        "label": "3", "n": 5, "scale": 0.001, "policy": "target=L2", "colour": 7}
    with pytest.raises(ValueError, match="'n' given twice"):
        parse_parameters(path, [("n", "1"), ("n", "2")])


@pytest.mark.parametrize(("text", "value"), [
    ("True", True), ("False", False), ("None", None), ("3", 3), ("-2", -2), ("0.25", 0.25),
    ("target=L2,background=L1", "target=L2,background=L1"), ("", ""),
])
def test_cli_values_read_like_papermill(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_cli_prints_the_html_path_or_a_clear_error(tmp_path, capsys):
    path = notebook(tmp_path, "print(n * scale)")
    out = tmp_path / "reports"
    assert main(["report", str(path), "-p", "n", "5", "--out", str(out), "--quiet"]) == 0
    html = capsys.readouterr().out.strip()
    assert html.endswith("tiny.html") and "2.5" in Path(html).read_text()

    assert main(["report", str(path), "-p", "colour", "red", "--out", str(out)]) == 2
    assert "unknown parameter 'colour'" in capsys.readouterr().err
    assert main(["report", str(path), "-p", "n", "1", "-p", "n", "2", "--out", str(out)]) == 2
    assert "'n' given twice" in capsys.readouterr().err

    failing = notebook(tmp_path, "1 / 0")
    assert main(["report", str(failing), "--out", str(out), "--quiet"]) == 1
    assert "ZeroDivisionError" in (next(out.glob("*-FAILED")) / "error.txt").read_text()


def test_quiet_reports_silence_the_model_loaders_in_the_kernel_only(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    probe = 'import os\nprint("bars", os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS"))'
    path = notebook(tmp_path, probe)
    quiet = Path(run_report(path, out=tmp_path / "quiet", progress=False))
    loud = Path(run_report(path, out=tmp_path / "loud", progress=True))
    assert "bars 1" in quiet.read_text() and "bars None" in loud.read_text()
    assert quiet.parent.name.startswith("tiny-") and loud.parent.name.startswith("tiny-")
    assert "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ
