"""Trainer.fit and the LoRA fit on two processes (gloo, CPU) against one process.

Launched as ``ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2``:
with accelerate 1.15, ``accelerate launch --cpu --num_processes 2`` starts one
process unless ``--mpirun_hostfile`` is given (it launches multi-CPU runs through
mpirun), and ``--multi_gpu`` alone on a machine without GPUs starts two processes
that each train alone.

What differs between the two ways, and what the test holds fixed:

- data sharding: each process takes every other batch of the one shuffled order,
  so two processes at batch 8 see, step by step, the images one process sees at
  batch 16, and DDP averages their gradients; the Trainer's loss is the batch
  mean, so the step is the same up to the order of float sums (1e-5 here);
- BatchNorm statistics are per process (no SyncBatchNorm): batches of 8, not 16
  (the test's classifier has none);
- per-process random streams: augmentation draws from one generator per
  process with the same seed, so both halves of a step get the same crops and
  jitter where one process draws 16 different ones (the test trains without);
- the LoRA fit draws the same batch on every process (one seeded generator),
  so its averaged gradient is each process's own: the adapters come out equal.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

SCRIPT = Path(__file__).with_name("multiprocess_fit.py")
TOLERANCE = 1e-5


def _run(command: list[str], out: Path, **env: str) -> dict[str, torch.Tensor]:
    result = subprocess.run(command + [str(SCRIPT), str(out)] + ["--batch-size", env.pop("bs")],
                            env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=500)
    assert result.returncode == 0, result.stderr[-3000:]
    return load_file(out)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_processes_train_what_one_trains(tmp_path):
    one = _run([sys.executable], tmp_path / "one.safetensors", bs="16")
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
              "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
              "--dynamo_backend", "no"]
    two = _run(launch, tmp_path / "two.safetensors", bs="8", ACCELERATE_USE_CPU="true")
    with safe_open(tmp_path / "two.safetensors", "pt") as fh:
        assert fh.metadata()["processes"] == "2"
    assert one.keys() == two.keys()
    assert any(k.startswith("lora.target.") for k in one)
    for name in one:
        limit = TOLERANCE if name.startswith("trainer.") else 0.0
        assert (one[name] - two[name]).abs().max().item() <= limit, name
