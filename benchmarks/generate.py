"""The DiffusionGenerator on the bundled zoo: what each level changes, and its speed.

    .venv/bin/python benchmarks/generate.py [--users 0 1 2] [--cache DIR]
        [--conditioning-scale 1.0]

1. Per private user, target levels L0, L1, L2 (background at L0): the SIM of the
   generated targets to the user's real pet segments (expected L0 < L1 <= L2),
   and the edge F1 (1 px and 0 px) between each L1 condition and the Canny map
   of the target generated from it, against L0 targets of the same slots.
2. Two ratios, measured in this process on the same batch:
   - one LoRA step of ``fit`` against a bare UNet forward/backward + MSE step
     (target <= 1.2x);
   - ``generate`` against calling the diffusers pipeline image by image
     (target >= 3x faster).
3. A figure of example outputs per scheme: ``benchmarks/results/generate_examples.png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image

from spinml.evaluate import edge_f1
from spinml.experiment import Experiment, Settings
from spinml.sanitize import Canny

SCHEMES = {"L0_L0": "target=L0,background=L0", "L1_L0": "target=L1,background=L0",
           "L2_L0": "target=L2,background=L0"}


def per_user(user: int, cache: Path | None, conditioning_scale: float = 1.0
             ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    experiment = Experiment(Settings(users=(user,), conditioning_scale=conditioning_scale),
                            cache=cache, progress=False)
    n = experiment.settings.n_per_class
    row: dict[str, float] = {"user": user}
    examples = {}
    for name, policy in SCHEMES.items():
        synthetic = experiment.synthetic(policy, seed=0)
        report = experiment.evaluator().evaluate(synthetic=synthetic, scheme=name)
        row[f"SIM {name}"] = report.values["target", "sim"]
        examples[name] = np.stack([im.image for im in synthetic][::n][:4])
    generator = experiment.generator().fit(experiment.upload(SCHEMES["L1_L0"]))
    conditions = [c for maps in generator.conditions("target", n, seed=0).values() for c in maps]
    for name in ("L1_L0", "L0_L0"):
        targets = [im.foreground for im in experiment.synthetic(SCHEMES[name], seed=0)]
        for tol in (1, 0):
            row[f"edge F1 {name} tol {tol}"] = float(np.mean(
                [edge_f1(c, Canny()(t), tolerance=tol)
                 for c, t in zip(conditions, targets, strict=True)]))
    references, _ = experiment.data()
    examples["real"] = np.stack([next(im.image for im in references if im.label == c)
                                 for c in references.classes])
    return row, examples


def step_ratio(experiment: Experiment, steps: int = 30, batch: int = 4) -> dict[str, float]:
    upload = experiment.upload(SCHEMES["L2_L0"])
    generator = experiment.generator()
    timings = {}
    for n in (5, 5 + steps):
        start = time.perf_counter()
        generator.set_params(lora_steps=n, lora_batch_size=batch, lora_seed=0).fit(upload)
        timings[n] = time.perf_counter() - start
    lora = (timings[5 + steps] - timings[5]) / steps
    unet = generator.pipe_.unet
    unet.disable_adapters()
    unet.requires_grad_(True)
    cfg = unet.config
    g = torch.Generator().manual_seed(0)
    z = torch.randn(batch, cfg.in_channels, cfg.sample_size, cfg.sample_size, generator=g)
    ctx = generator._embed(["a photo of a plain red creature sleeping"] * batch)
    t = torch.randint(0, 1000, (batch,), generator=g)
    noise = torch.randn(z.shape, generator=g)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        unet.zero_grad(set_to_none=True)
        F.mse_loss(unet(z, t, ctx).sample, noise).backward()
        times.append(time.perf_counter() - start)
    unet.requires_grad_(False)
    unet.enable_adapters()
    bare = float(np.median(times))
    return {"LoRA step (s)": lora, "bare UNet step (s)": bare, "ratio": lora / bare}


def generate_ratio(experiment: Experiment, n: int = 8, steps: int = 20) -> dict[str, float]:
    generator = experiment.generator().set_params(sample_steps=steps)
    generator.fit(experiment.upload(SCHEMES["L0_L0"]))
    start = time.perf_counter()
    synthetic = generator.generate(n_per_class=n, seed=0)
    batched = time.perf_counter() - start
    prompts = [p for im in synthetic for p in (im.provenance["target"]["prompt"],
                                               im.provenance["background"]["prompt"])]
    pipe = generator.pipe_
    start = time.perf_counter()
    for i, prompt in enumerate(prompts):
        pipe(prompt, num_inference_steps=steps, guidance_scale=5.0, output_type="np",
             generator=torch.Generator().manual_seed(i))
    single = time.perf_counter() - start
    return {"generate (s)": batched, "pipeline image by image (s)": single,
            "images": len(prompts), "speed-up": single / batched}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cache", default=None)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--conditioning-scale", type=float, default=1.0,
                        help="ControlNet residual scale of the L1 targets")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, grids = [], []
    for user in args.users:
        row, examples = per_user(user, Path(args.cache) if args.cache else None,
                                 args.conditioning_scale)
        rows.append(row)
        grids.append(np.concatenate([np.concatenate(list(examples[k]), axis=1)
                                     for k in ("real", *SCHEMES)], axis=0))
        print(pd.Series(row).round(3).to_string(), flush=True)
    table = pd.DataFrame(rows).set_index("user")
    print("\nper user (target SIM to the real pet; edge F1 of L1 targets vs L0 targets):")
    print(table.round(3).to_string())
    ordered = ((table["SIM L0_L0"] < table["SIM L1_L0"])
               & (table["SIM L1_L0"] <= table["SIM L2_L0"]))
    print(f"SIM ordered L0 < L1 <= L2 for {int(ordered.sum())} of {len(table)} users")
    table.to_csv(out / "generate_users.csv")
    grid = np.concatenate(grids, axis=1)
    Image.fromarray(grid).resize((grid.shape[1] * 3, grid.shape[0] * 3), Image.NEAREST).save(
        out / "generate_examples.png")
    print(f"figure: {out / 'generate_examples.png'} (rows: real, L0_L0, L1_L0, L2_L0; "
          f"4 classes per user, users side by side)")
    experiment = Experiment(Settings(users=(args.users[0],)), cache=args.cache, progress=False)
    for name, result in (("LoRA step vs bare UNet step (target <= 1.2x)", step_ratio(experiment)),
                         ("generate vs pipeline image by image (target >= 3x)",
                          generate_ratio(experiment))):
        print(f"\n{name}:")
        for key, value in result.items():
            print(f"  {key:32s} {value:.4f}")


if __name__ == "__main__":
    main()
