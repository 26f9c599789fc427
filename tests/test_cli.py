"""The command line: device-demo (and its deprecated name), refused input."""

import subprocess
import sys
from pathlib import Path

from spinml import SanitizedSet
from spinml.cli import main


def test_device_demo_writes_the_upload_and_prints_the_leakage(tmp_path, capsys):
    out = tmp_path / "upload"
    assert main(["device-demo", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr()
    assert "target" in printed.out and "background" in printed.out and "L2" in printed.out
    assert "device-demo" not in printed.err
    assert SanitizedSet.load(out).scheme == "L2_L1"


def test_old_demo_name_still_runs_and_says_its_new_name(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "u"), "--policy", "target=L1", "--quiet"]) == 0
    assert "is now `spinml device-demo`" in capsys.readouterr().err
    assert SanitizedSet.load(tmp_path / "u").scheme == "L1_L0"


def test_bad_policy_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "spinml", "device-demo", "--out", str(tmp_path / "u"),
         "--policy", "tgt"],
        capture_output=True, text=True)
    assert result.returncode == 2 and "malformed policy string" in result.stderr
    assert not (tmp_path / "u").exists()


def test_report_workers_is_the_notebooks_parameter_and_is_checked(tmp_path, capsys):
    notebook = str(Path(__file__).parents[1] / "notebooks" / "02_privacy_utility_report.ipynb")
    assert main(["report", notebook, "--workers", "-1", "--out", str(tmp_path)]) == 2
    assert "workers" in capsys.readouterr().err
    assert main(["report", notebook, "--workers", "2", "-p", "workers", "1",
                 "--out", str(tmp_path)]) == 2
    assert "given twice" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
