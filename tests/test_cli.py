import subprocess
import sys

from spinml import SanitizedSet
from spinml.cli import main


def test_demo_writes_the_upload_and_prints_the_leakage(tmp_path, capsys):
    out = tmp_path / "upload"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "target" in printed and "background" in printed and "L2" in printed
    assert SanitizedSet.load(out).scheme == "L2_L1"


def test_bad_policy_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "spinml", "demo", "--out", str(tmp_path / "u"), "--policy", "tgt"],
        capture_output=True, text=True)
    assert result.returncode == 2 and "malformed policy string" in result.stderr
    assert not (tmp_path / "u").exists()
