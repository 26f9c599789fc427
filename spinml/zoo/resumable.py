"""Resumable training stages: checkpoints that make an interrupted build continue
exactly where it stopped (same weights, same optimiser state, same random stream)."""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from spinml.io import atomic_dir, write_manifest

__all__ = ["run_stage", "cosine_lr", "StageResult"]

_FORMAT = "spinml.zoo-stage"
"""Format of a stage's checkpoint and final folders (their manifest.json)."""


@dataclass(frozen=True)
class StageResult:
    """A finished stage: the loss of every step, the seconds spent over all
    resumptions, and the device type (``"cpu"``, ``"cuda"``) its last run used."""

    losses: list[float]
    seconds: float
    device: str


def cosine_lr(base: float, step: int, total: int, warmup: int = 100) -> float:
    """Learning rate at ``step``: linear warm-up over ``warmup`` steps, then
    ``base * (0.1 + 0.9 * (1 + cos(pi * progress)) / 2)`` down to ``0.1 * base``."""
    warmup = min(warmup, max(1, total // 10))
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))


def _weights(modules: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    return {f"{name}/{key}": value.detach().contiguous()
            for name, module in modules.items() for key, value in module.state_dict().items()}


def _load_weights(modules: dict[str, nn.Module], path: Path) -> None:
    tensors = load_file(path)
    for name, module in modules.items():
        prefix = f"{name}/"
        module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items()
                                if k.startswith(prefix)})


def run_stage(
    name: str,
    work: Path,
    modules: dict[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    steps: int,
    step: Callable[[int], float],
    *,
    every: int = 250,
    progress: bool = True,
) -> StageResult:
    """Run ``step(i)`` for ``i`` in ``[0, steps)``; return its losses and time.

    Every ``every`` steps the state (``modules``' weights, the optimiser, the
    ``generator`` and the losses so far) is written atomically to
    ``work/name/checkpoint``; a later call resumes from it. When the stage has
    finished before, its final weights are loaded and nothing is trained.
    """
    folder = Path(work) / name
    final, checkpoint = folder / "final", folder / "checkpoint"
    if (final / "done.json").is_file():
        _load_weights(modules, final / "weights.safetensors")
        done = json.loads((final / "done.json").read_text())
        return StageResult(done["losses"], done["seconds"], done["device"])
    start, losses, spent = 0, [], 0.0
    if (checkpoint / "state.json").is_file():
        _load_weights(modules, checkpoint / "weights.safetensors")
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", weights_only=True))
        generator.set_state(load_file(checkpoint / "generator.safetensors")["state"])
        state = json.loads((checkpoint / "state.json").read_text())
        start, losses, spent = state["step"], state["losses"], state["seconds"]
        if not (checkpoint / "manifest.json").exists():   # written before checkpoints had one
            write_manifest(checkpoint, _FORMAT, 1, {"stage": name, "done": False})
    device = next(next(iter(modules.values())).parameters()).device.type
    began = time.perf_counter()

    def save(target: Path, done: bool) -> float:
        seconds = spent + time.perf_counter() - began
        with atomic_dir(target, overwrite=True, kind=_FORMAT) as tmp:
            write_manifest(tmp, _FORMAT, 1, {"stage": name, "done": done})
            save_file(_weights(modules), tmp / "weights.safetensors")
            if done:
                (tmp / "done.json").write_text(
                    json.dumps({"steps": steps, "losses": losses, "seconds": seconds,
                                "device": device}))
                return seconds
            buffer = io.BytesIO()
            torch.save(optimizer.state_dict(), buffer)
            (tmp / "optimizer.pt").write_bytes(buffer.getvalue())
            save_file({"state": generator.get_state()}, tmp / "generator.safetensors")
            (tmp / "state.json").write_text(
                json.dumps({"step": len(losses), "losses": losses, "seconds": seconds}))
        return seconds

    with tqdm(total=steps, initial=start, desc=f"zoo: {name}", disable=not progress) as bar:
        for i in range(start, steps):
            losses.append(float(step(i)))
            bar.update()
            if i % 50 == 0:
                bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.4f}")
            if (i + 1) % every == 0 and i + 1 < steps:
                save(checkpoint, done=False)
    return StageResult(losses, save(final, done=True), device)
