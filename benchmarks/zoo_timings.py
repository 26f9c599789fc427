"""Timings of the zoo on this machine's CPU, as context for the quality gates.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/zoo_timings.py [--steps 20]

- sampling with the bundled zoo: images/s at 32 px (its native size) and at
  64 px, 20 solver steps, batch 16, classifier-free guidance;
- one DreamBooth-LoRA step (batch 4) of ``DiffusionGenerator.fit``;
- the whole build, extrapolated: every stage of the default recipe is run for
  ``--steps`` steps (same model sizes and batches), its seconds per step times
  the recipe's step count, plus rendering the recipe's pairs.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline

from spinml.experiment import Experiment, Settings
from spinml.zoo import ZOO_DIR, ZooConfig, build


def sampling_rate(pipe: StableDiffusionPipeline, size: int, batch: int = 16) -> float:
    prompts = ["a photo of a plain red creature sitting in a green room"] * batch
    start = time.perf_counter()
    pipe(prompts, num_inference_steps=20, guidance_scale=5.0, height=size, width=size,
         output_type="np", generator=torch.Generator().manual_seed(0))
    return batch / (time.perf_counter() - start)


def lora_step(steps: int = 20) -> float:
    experiment = Experiment(Settings(), cache=tempfile.mkdtemp(), progress=False)
    upload = experiment.upload("target=L2,background=L0")
    generator = experiment.generator()
    seconds = {}
    for n in (5, 5 + steps):
        start = time.perf_counter()
        generator.set_params(lora_steps=n, lora_seed=0).fit(upload)
        seconds[n] = time.perf_counter() - start
    return (seconds[5 + steps] - seconds[5]) / steps


def build_estimate(steps: int) -> dict[str, float]:
    recipe = ZooConfig()
    short = dataclasses.replace(recipe, n_per_class=250, vae_steps=steps, clip_steps=steps,
                                unet_steps=steps, controlnet_steps=steps,
                                checkpoint_every=steps)
    with tempfile.TemporaryDirectory() as tmp:
        metrics = build(Path(tmp) / "zoo", config=short, work=Path(tmp) / "work",
                        progress=False)["metrics"]
    seconds = metrics["stage_seconds"]
    out = {"render": seconds["render"] * recipe.n_per_class / short.n_per_class}
    for stage in ("vae", "clip", "unet", "controlnet"):
        out[stage] = seconds[stage] / steps * getattr(recipe, f"{stage}_steps")
    out["total"] = sum(out.values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20, help="steps per stage to time")
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    pipe = StableDiffusionPipeline.from_pretrained(ZOO_DIR / "sd", local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    for size in (32, 64):
        print(f"sampling at {size} px, 20 steps, batch 16: {sampling_rate(pipe, size):.2f} "
              "images/s", flush=True)
    print(f"one DreamBooth-LoRA step (batch 4): {lora_step():.3f} s", flush=True)
    estimate = build_estimate(args.steps)
    print("whole build, extrapolated from the default recipe's step counts (minutes):")
    for stage, seconds in estimate.items():
        print(f"  {stage:10s} {seconds / 60:6.1f}")


if __name__ == "__main__":
    main()
