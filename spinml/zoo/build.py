"""``spinml zoo build``: train the zoo from the public mini-world, resumably.

Stages, each checkpointed under the work folder (an interrupted build resumes):

1. render the public pairs (:mod:`spinml.zoo.data`) and build the tokenizer;
2. the VAE: ``L = MSE(D(z), x) + w_KL * KL(q(z|x) || N(0, I))`` with ``z ~ q(z|x)``;
   latents are then scaled by ``1 / std(z)`` (``scaling_factor``);
3. the CLIP encoder: the symmetric contrastive loss over image/caption pairs;
   its text tower is the SD text encoder (frozen afterwards);
4. the UNet: epsilon prediction, ``L = min(SNR_t, gamma) / SNR_t * ||eps - eps_hat||^2``
   (min-SNR weighting), captions dropped with probability ``caption_dropout``
   for classifier-free guidance, an EMA of the weights kept and shipped;
5. the Canny ControlNet on the frozen EMA UNet, with the same loss.

Everything random draws from seeded ``torch.Generator`` objects saved with the
checkpoints, so a build is deterministic from ``ZooConfig.seed`` on CPU.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, StableDiffusionPipeline
from transformers import CLIPImageProcessor

from spinml.data.miniworld import VOCABULARY
from spinml.image import nhwc_to_nchw, to_unit_range
from spinml.io import atomic_dir
from spinml.zoo.config import ZooConfig
from spinml.zoo.data import EXTRA_WORDS, ZooData, render_pairs
from spinml.zoo.manifest import PARTS, ZOO_DIR, write_manifest
from spinml.zoo.models import (
    CLIP_MEAN,
    CLIP_STD,
    make_clip,
    make_controlnet,
    make_scheduler,
    make_unet,
    make_vae,
    text_encoder_of,
)
from spinml.zoo.resumable import cosine_lr, run_stage
from spinml.zoo.tokenizer import IDENTIFIERS, build_tokenizer

__all__ = ["build"]


def _data(cfg: ZooConfig, work: Path, progress: bool) -> tuple[ZooData, float]:
    """The training pairs, rendered once into ``work/data`` ; and the seconds that took."""
    folder = work / "data"
    if not (folder / "data.npz").is_file():
        began = time.perf_counter()
        data = render_pairs(cfg, progress=progress)
        with atomic_dir(folder, overwrite=True) as tmp:
            np.savez(tmp / "data.npz", images=data.images, edges=data.edges,
                     captions=np.array(data.captions), activities=np.array(data.activities),
                     seconds=time.perf_counter() - began)
    with np.load(folder / "data.npz") as f:
        return ZooData(f["images"], [str(c) for c in f["captions"]], f["edges"],
                       [str(a) for a in f["activities"]]), float(f["seconds"])


def _check_work(cfg: ZooConfig, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    saved = work / "config.json"
    settings = json.dumps(cfg.to_dict(), sort_keys=True)
    if saved.is_file() and saved.read_text() != settings:
        raise ValueError(f"work folder {work} holds a build with other settings: "
                         "use another --work folder or delete it")
    saved.write_text(settings)


def _step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
          lr: float) -> float:
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss.item()


def build(
    out: str | Path = ZOO_DIR,
    *,
    config: ZooConfig | None = None,
    work: str | Path = ".zoo-build",
    device: str | None = None,
    progress: bool = True,
) -> dict:
    """Train every zoo model and write ``sd/``, ``controlnet-canny/``, ``encoder/`` and
    ``manifest.json`` into ``out``. Returns the manifest.

    Random draws come from CPU generators whatever the ``device``, so the data
    order and noise are the same on every device; bitwise-equal weights are
    promised on CPU only.
    """
    cfg = config or ZooConfig()
    dev = torch.device(device or "cpu")
    work, out = Path(work), Path(out)
    _check_work(cfg, work)
    torch.manual_seed(cfg.seed)
    data, render_seconds = _data(cfg, work, progress)
    n = len(data.captions)
    tokenizer = build_tokenizer([*VOCABULARY, *EXTRA_WORDS, *IDENTIFIERS], work / "tokenizer",
                                cfg.max_tokens)
    tokens = tokenizer(data.captions, padding="max_length", max_length=cfg.max_tokens,
                       truncation=True, return_tensors="pt")
    pixels = nhwc_to_nchw(data.images).to(dev)
    input_ids, attention = tokens.input_ids.to(dev), tokens.attention_mask.to(dev)
    every = cfg.checkpoint_every

    def batch(generator: torch.Generator, size: int) -> torch.Tensor:
        return torch.randint(0, n, (size,), generator=generator).to(dev)

    vae = make_vae(cfg).to(dev)
    optimizer = torch.optim.AdamW(vae.parameters(), cfg.vae_lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(cfg.seed + 1)

    def vae_step(i: int) -> float:
        x = to_unit_range(pixels[batch(g, cfg.vae_batch)])
        posterior = vae.encode(x).latent_dist
        reconstruction = vae.decode(posterior.sample(generator=g)).sample
        loss = F.mse_loss(reconstruction, x) + cfg.vae_kl_weight * posterior.kl().mean()
        return _step(vae, optimizer, loss, cosine_lr(cfg.vae_lr, i, cfg.vae_steps))

    vae_stage = run_stage("vae", work, {"vae": vae}, optimizer, g, cfg.vae_steps, vae_step,
                           every=every, progress=progress)
    vae.eval().requires_grad_(False)
    with torch.no_grad():
        latents = torch.cat([vae.encode(to_unit_range(pixels[i:i + 256])).latent_dist.mean
                             for i in range(0, n, 256)])
    scaling = float(1.0 / latents.std())
    vae.register_to_config(scaling_factor=scaling)
    latents = latents * scaling

    clip = make_clip(cfg, tokenizer).to(dev)
    optimizer = torch.optim.AdamW(clip.parameters(), cfg.clip_lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(cfg.seed + 2)
    mean = torch.tensor(CLIP_MEAN, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=dev).view(1, 3, 1, 1)

    def clip_step(i: int) -> float:
        idx = batch(g, cfg.clip_batch)
        out_ = clip(input_ids=input_ids[idx], attention_mask=attention[idx],
                    pixel_values=(pixels[idx].float() / 255.0 - mean) / std, return_loss=True)
        return _step(clip, optimizer, out_.loss, cosine_lr(cfg.clip_lr, i, cfg.clip_steps))

    clip_stage = run_stage("clip", work, {"clip": clip}, optimizer, g, cfg.clip_steps,
                            clip_step, every=every, progress=progress)
    clip.eval().requires_grad_(False)
    text_encoder = text_encoder_of(clip).to(dev).requires_grad_(False)
    with torch.no_grad():
        context = torch.cat([text_encoder(input_ids[i:i + 512]).last_hidden_state
                             for i in range(0, n, 512)])
        empty = tokenizer([""], padding="max_length", max_length=cfg.max_tokens,
                          return_tensors="pt")
        null = text_encoder(empty.input_ids.to(dev)).last_hidden_state

    noise_schedule = DDPMScheduler.from_config(make_scheduler().config)
    alphas = noise_schedule.alphas_cumprod.to(dev)
    snr = alphas / (1.0 - alphas)

    def denoising_loss(model_fn, idx: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        z0 = latents[idx]
        drop = (torch.rand(len(idx), generator=generator) < cfg.caption_dropout).to(dev)
        ctx = torch.where(drop[:, None, None], null, context[idx])
        noise = torch.randn(z0.shape, generator=generator).to(dev)
        t = torch.randint(0, len(alphas), (len(idx),), generator=generator).to(dev)
        prediction = model_fn(noise_schedule.add_noise(z0, noise, t), t, ctx, idx)
        weight = snr[t].clamp(max=cfg.snr_gamma) / snr[t]
        return (weight * (prediction - noise).pow(2).mean(dim=(1, 2, 3))).mean()

    unet = make_unet(cfg).to(dev)
    ema = copy.deepcopy(unet).requires_grad_(False)
    optimizer = torch.optim.AdamW(unet.parameters(), cfg.unet_lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(cfg.seed + 3)
    unet_params, ema_params = list(unet.parameters()), list(ema.parameters())

    def unet_step(i: int) -> float:
        loss = denoising_loss(lambda zt, t, ctx, idx: unet(zt, t, ctx).sample,
                              batch(g, cfg.unet_batch), g)
        value = _step(unet, optimizer, loss, cosine_lr(cfg.unet_lr, i, cfg.unet_steps))
        decay = min(cfg.unet_ema, (1 + i) / (10 + i))
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, unet_params, 1.0 - decay)
        return value

    unet_stage = run_stage("unet", work, {"unet": unet, "ema": ema}, optimizer, g,
                            cfg.unet_steps, unet_step, every=every, progress=progress)
    ema.eval()

    controlnet = make_controlnet(ema, cfg).to(dev)
    condition = torch.from_numpy(data.edges)[:, None].expand(-1, 3, -1, -1).to(dev)
    optimizer = torch.optim.AdamW(controlnet.parameters(), cfg.controlnet_lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(cfg.seed + 4)

    def controlled(zt, t, ctx, idx):
        down, mid = controlnet(zt, t, ctx, controlnet_cond=condition[idx].float() / 255.0,
                               return_dict=False)
        return ema(zt, t, ctx, down_block_additional_residuals=down,
                   mid_block_additional_residual=mid).sample

    def controlnet_step(i: int) -> float:
        loss = denoising_loss(controlled, batch(g, cfg.controlnet_batch), g)
        lr = cosine_lr(cfg.controlnet_lr, i, cfg.controlnet_steps)
        return _step(controlnet, optimizer, loss, lr)

    controlnet_stage = run_stage("controlnet", work, {"controlnet": controlnet}, optimizer, g,
                                  cfg.controlnet_steps, controlnet_step, every=every,
                                  progress=progress)

    stages = {"vae": vae_stage, "clip": clip_stage, "unet": unet_stage,
              "controlnet": controlnet_stage}
    metrics = {
        "build_seconds_total": round(render_seconds + sum(s.seconds for s in stages.values()), 1),
        "stage_seconds": {"render": round(render_seconds, 1),
                          **{k: round(s.seconds, 1) for k, s in stages.items()}},
        "pairs": n,
        "data_sha256": hashlib.sha256(data.images.tobytes()).hexdigest(),
        "final_losses": {k: float(np.mean(s.losses[-100:])) for k, s in stages.items()},
        "vae_scaling_factor": scaling,
        "device": dev.type,
        "stage_devices": {k: s.device for k, s in stages.items()},
    }
    for model in (vae, text_encoder, ema, controlnet, clip):
        model.to("cpu")
    pipeline = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=ema,
        scheduler=make_scheduler(), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    staging = out.parent / f".{out.name}.zoo-staging"
    shutil.rmtree(staging, ignore_errors=True)
    pipeline.save_pretrained(staging / "sd", safe_serialization=True)
    controlnet.save_pretrained(staging / "controlnet-canny", safe_serialization=True)
    clip.save_pretrained(staging / "encoder", safe_serialization=True)
    tokenizer.save_pretrained(staging / "encoder")
    CLIPImageProcessor(
        size={"shortest_edge": cfg.image_size},
        crop_size={"height": cfg.image_size, "width": cfg.image_size},
        image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD), resample=3,
    ).save_pretrained(staging / "encoder")
    manifest = write_manifest(staging, cfg.to_dict(), metrics)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    for part in PARTS:
        shutil.rmtree(out / part, ignore_errors=True)
        (staging / part).rename(out / part)
    (staging / "manifest.json").rename(out / "manifest.json")
    staging.rmdir()
    return manifest
