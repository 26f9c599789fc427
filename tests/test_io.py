"""Atomic writes: killing a save leaves no folder or a complete one."""

import signal
import subprocess
import sys
import time

import pytest

from spinml import SanitizedSet

WRITER = """
import sys
import numpy as np
from spinml import ReferenceSet, Sanitizer
from spinml.data import ReferenceImage, Segment
rng = np.random.default_rng(0)
mask = np.zeros((96, 96), bool); mask[10:60, 20:70] = True
refs = ReferenceSet([ReferenceImage(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8), "a",
                                    (Segment("target", mask),)) for _ in range(40)])
upload = Sanitizer().sanitize(refs, "target=L2,background=L2", progress=False)
print("ready", flush=True)
sys.stdin.readline()
upload.save(sys.argv[1])
print("saved", flush=True)
"""


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1, 0.2, 0.4])
def test_killing_a_save_leaves_no_folder_or_a_complete_one(tmp_path, delay):
    target = tmp_path / "upload"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.stdin.write("go\n")
    proc.stdin.flush()
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if target.exists():
        assert len(SanitizedSet.load(target)) == 40
    visible = [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert visible in ([], ["upload"])
