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

Each training stage is one function ``stage(build) -> StageResult`` over the shared
:class:`Build` state, listed in :data:`STAGES` in the order they run (later stages
read what earlier ones left in ``build.models``); a stage that ships a zoo part
registers its writer in ``build.parts``. Adding a stage is one such function and
one line in :data:`STAGES` (and its part's name in :data:`spinml.zoo.manifest.PARTS`).

Everything random draws from seeded ``torch.Generator`` objects saved with the
checkpoints, and the models are created in a fixed order after one global
``torch.manual_seed``, so a build is deterministic from ``ZooConfig.seed`` on CPU.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, StableDiffusionPipeline
from transformers import CLIPImageProcessor, CLIPTokenizer

from spinml.data.miniworld import VOCABULARY
from spinml.image import nhwc_to_nchw, to_unit_range
from spinml.io import atomic_dir
from spinml.zoo.config import ZooConfig
from spinml.zoo.data import EXTRA_WORDS, ZooData, render_pairs
from spinml.zoo.manifest import PARTS, ZOO_DIR, check_replaceable, write_manifest
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
from spinml.zoo.resumable import StageResult, cosine_lr, run_stage
from spinml.zoo.tokenizer import IDENTIFIERS, build_tokenizer

__all__ = ["build", "Build", "STAGES"]


def _data(cfg: ZooConfig, work: Path, progress: bool) -> tuple[ZooData, float]:
    """The training pairs, rendered once into ``work/data`` ; and the seconds that took."""
    folder = work / "data"
    if not (folder / "data.npz").is_file():
        began = time.perf_counter()
        data = render_pairs(cfg, progress=progress)
        with atomic_dir(folder) as tmp:
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


@dataclass
class Build:
    """What the stages of one build share: the recipe, the rendered pairs as tensors on
    ``device``, the models trained so far (by name), the writers of the zoo parts
    (part name -> ``write(staging_folder)``) and the metrics stages add."""

    cfg: ZooConfig
    device: torch.device
    work: Path
    progress: bool
    data: ZooData
    tokenizer: CLIPTokenizer
    pixels: torch.Tensor
    """The images, ``(N, 3, H, W)`` uint8."""
    input_ids: torch.Tensor
    attention: torch.Tensor
    models: dict[str, torch.nn.Module] = field(default_factory=dict)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    parts: dict[str, Callable[[Path], None]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.data.captions)

    @cached_property
    def noise_schedule(self) -> DDPMScheduler:
        """The training noise schedule: the shipped scheduler's betas, DDPM noising."""
        return DDPMScheduler.from_config(make_scheduler().config)

    @cached_property
    def alphas(self) -> torch.Tensor:
        """``alpha_bar_t`` for every training timestep, on ``device``."""
        return self.noise_schedule.alphas_cumprod.to(self.device)

    def batch(self, generator: torch.Generator, size: int) -> torch.Tensor:
        """``size`` pair indices drawn uniformly with replacement."""
        return torch.randint(0, self.n, (size,), generator=generator).to(self.device)

    def run(self, name: str, modules: dict[str, torch.nn.Module],
            optimizer: torch.optim.Optimizer, generator: torch.Generator, steps: int,
            step: Callable[[int], float]) -> StageResult:
        """:func:`run_stage` in this build's work folder."""
        return run_stage(name, self.work, modules, optimizer, generator, steps, step,
                         every=self.cfg.checkpoint_every, progress=self.progress)


def _prepare(cfg: ZooConfig, work: Path, device: torch.device,
             progress: bool) -> tuple[Build, float]:
    """Stage 1: the rendered pairs and the tokenizer; the build state, and the seconds
    the rendering took."""
    data, render_seconds = _data(cfg, work, progress)
    tokenizer = build_tokenizer([*VOCABULARY, *EXTRA_WORDS, *IDENTIFIERS], work / "tokenizer",
                                cfg.max_tokens)
    tokens = tokenizer(data.captions, padding="max_length", max_length=cfg.max_tokens,
                       truncation=True, return_tensors="pt")
    return Build(cfg, device, work, progress, data, tokenizer,
                 pixels=nhwc_to_nchw(data.images).to(device),
                 input_ids=tokens.input_ids.to(device),
                 attention=tokens.attention_mask.to(device)), render_seconds


def train_vae(b: Build) -> StageResult:
    """The VAE; then every image's latent mean, scaled to unit std (``tensors["latents"]``)."""
    cfg = b.cfg
    vae = make_vae(cfg).to(b.device)
    optimizer = torch.optim.AdamW(vae.parameters(), cfg.vae_lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(cfg.seed + 1)

    def step(i: int) -> float:
        x = to_unit_range(b.pixels[b.batch(g, cfg.vae_batch)])
        posterior = vae.encode(x).latent_dist
        reconstruction = vae.decode(posterior.sample(generator=g)).sample
        loss = F.mse_loss(reconstruction, x) + cfg.vae_kl_weight * posterior.kl().mean()
        return _step(vae, optimizer, loss, cosine_lr(cfg.vae_lr, i, cfg.vae_steps))

    result = b.run("vae", {"vae": vae}, optimizer, g, cfg.vae_steps, step)
    vae.eval().requires_grad_(False)
    with torch.no_grad():
        latents = torch.cat([vae.encode(to_unit_range(b.pixels[i:i + 256])).latent_dist.mean
                             for i in range(0, b.n, 256)])
    scaling = float(1.0 / latents.std())
    vae.register_to_config(scaling_factor=scaling)
    b.metrics["vae_scaling_factor"] = scaling
    b.tensors["latents"] = latents * scaling
    b.models["vae"] = vae
    return result


def train_clip(b: Build) -> StageResult:
    """The CLIP encoder (shipped as ``encoder/``); then its frozen text tower's encoding
    of every caption (``tensors["context"]``) and of the empty prompt (``"null"``)."""
    cfg, dev = b.cfg, b.device
    clip = make_clip(cfg, b.tokenizer).to(dev)
    optimizer = torch.optim.AdamW(clip.parameters(), cfg.clip_lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(cfg.seed + 2)
    mean = torch.tensor(CLIP_MEAN, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=dev).view(1, 3, 1, 1)

    def step(i: int) -> float:
        idx = b.batch(g, cfg.clip_batch)
        out = clip(input_ids=b.input_ids[idx], attention_mask=b.attention[idx],
                   pixel_values=(b.pixels[idx].float() / 255.0 - mean) / std, return_loss=True)
        return _step(clip, optimizer, out.loss, cosine_lr(cfg.clip_lr, i, cfg.clip_steps))

    result = b.run("clip", {"clip": clip}, optimizer, g, cfg.clip_steps, step)
    clip.eval().requires_grad_(False)
    text_encoder = text_encoder_of(clip).to(dev).requires_grad_(False)
    with torch.no_grad():
        b.tensors["context"] = torch.cat([text_encoder(b.input_ids[i:i + 512]).last_hidden_state
                                          for i in range(0, b.n, 512)])
        empty = b.tokenizer([""], padding="max_length", max_length=cfg.max_tokens,
                            return_tensors="pt")
        b.tensors["null"] = text_encoder(empty.input_ids.to(dev)).last_hidden_state
    b.models.update(clip=clip, text_encoder=text_encoder)
    b.parts["encoder"] = lambda folder: _write_encoder(b, folder / "encoder")
    return result


def _denoising_loss(b: Build, model_fn: Callable, idx: torch.Tensor,
                    generator: torch.Generator) -> torch.Tensor:
    """The min-SNR-weighted epsilon loss of ``model_fn(z_t, t, context, idx)`` on the
    latents ``idx``, captions dropped with probability ``caption_dropout``."""
    alphas = b.alphas
    snr = alphas / (1.0 - alphas)
    z0 = b.tensors["latents"][idx]
    drop = (torch.rand(len(idx), generator=generator) < b.cfg.caption_dropout).to(b.device)
    ctx = torch.where(drop[:, None, None], b.tensors["null"], b.tensors["context"][idx])
    noise = torch.randn(z0.shape, generator=generator).to(b.device)
    t = torch.randint(0, len(alphas), (len(idx),), generator=generator).to(b.device)
    prediction = model_fn(b.noise_schedule.add_noise(z0, noise, t), t, ctx, idx)
    weight = snr[t].clamp(max=b.cfg.snr_gamma) / snr[t]
    return (weight * (prediction - noise).pow(2).mean(dim=(1, 2, 3))).mean()


def train_unet(b: Build) -> StageResult:
    """The UNet and the EMA of its weights (``models["ema"]``, shipped in ``sd/``)."""
    cfg = b.cfg
    unet = make_unet(cfg).to(b.device)
    ema = copy.deepcopy(unet).requires_grad_(False)
    optimizer = torch.optim.AdamW(unet.parameters(), cfg.unet_lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(cfg.seed + 3)
    unet_params, ema_params = list(unet.parameters()), list(ema.parameters())

    def step(i: int) -> float:
        loss = _denoising_loss(b, lambda zt, t, ctx, idx: unet(zt, t, ctx).sample,
                               b.batch(g, cfg.unet_batch), g)
        value = _step(unet, optimizer, loss, cosine_lr(cfg.unet_lr, i, cfg.unet_steps))
        decay = min(cfg.unet_ema, (1 + i) / (10 + i))
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, unet_params, 1.0 - decay)
        return value

    result = b.run("unet", {"unet": unet, "ema": ema}, optimizer, g, cfg.unet_steps, step)
    b.models["ema"] = ema.eval()
    b.parts["sd"] = lambda folder: _write_pipeline(b, folder / "sd")
    return result


def train_controlnet(b: Build) -> StageResult:
    """The Canny ControlNet on the frozen EMA UNet (shipped as ``controlnet-canny/``)."""
    cfg, ema = b.cfg, b.models["ema"]
    controlnet = make_controlnet(ema, cfg).to(b.device)
    condition = torch.from_numpy(b.data.edges)[:, None].expand(-1, 3, -1, -1).to(b.device)
    optimizer = torch.optim.AdamW(controlnet.parameters(), cfg.controlnet_lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(cfg.seed + 4)

    def controlled(zt, t, ctx, idx):
        down, mid = controlnet(zt, t, ctx, controlnet_cond=condition[idx].float() / 255.0,
                               return_dict=False)
        return ema(zt, t, ctx, down_block_additional_residuals=down,
                   mid_block_additional_residual=mid).sample

    def step(i: int) -> float:
        loss = _denoising_loss(b, controlled, b.batch(g, cfg.controlnet_batch), g)
        return _step(controlnet, optimizer, loss,
                     cosine_lr(cfg.controlnet_lr, i, cfg.controlnet_steps))

    result = b.run("controlnet", {"controlnet": controlnet}, optimizer, g,
                   cfg.controlnet_steps, step)
    b.models["controlnet"] = controlnet
    b.parts["controlnet-canny"] = lambda folder: controlnet.to("cpu").save_pretrained(
        folder / "controlnet-canny", safe_serialization=True)
    return result


STAGES: tuple[tuple[str, Callable[[Build], StageResult]], ...] = (
    ("vae", train_vae),
    ("clip", train_clip),
    ("unet", train_unet),
    ("controlnet", train_controlnet),
)
"""The training stages in the order they run: (checkpoint name, stage function)."""


def _write_pipeline(b: Build, folder: Path) -> None:
    """``sd/``: the VAE, the CLIP text tower, the tokenizer and the EMA UNet."""
    pipeline = StableDiffusionPipeline(
        vae=b.models["vae"].to("cpu"), text_encoder=b.models["text_encoder"].to("cpu"),
        tokenizer=b.tokenizer, unet=b.models["ema"].to("cpu"), scheduler=make_scheduler(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipeline.save_pretrained(folder, safe_serialization=True)


def _write_encoder(b: Build, folder: Path) -> None:
    """``encoder/``: the CLIP, its tokenizer and its image processor."""
    b.models["clip"].to("cpu").save_pretrained(folder, safe_serialization=True)
    b.tokenizer.save_pretrained(folder)
    size = b.cfg.image_size
    CLIPImageProcessor(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size},
        image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD), resample=3,
    ).save_pretrained(folder)


def _metrics(b: Build, render_seconds: float, stages: dict[str, StageResult]) -> dict:
    return {
        "build_seconds_total": round(render_seconds + sum(s.seconds for s in stages.values()), 1),
        "stage_seconds": {"render": round(render_seconds, 1),
                          **{k: round(s.seconds, 1) for k, s in stages.items()}},
        "pairs": b.n,
        "data_sha256": hashlib.sha256(b.data.images.tobytes()).hexdigest(),
        "final_losses": {k: float(np.mean(s.losses[-100:])) for k, s in stages.items()},
        **b.metrics,
        "device": b.device.type,
        "stage_devices": {k: s.device for k, s in stages.items()},
    }


def _install(b: Build, out: Path, metrics: dict) -> dict:
    """Write every part (in :data:`PARTS` order) into a staging folder next to ``out``,
    hash them into its manifest, then swap the parts and the manifest into ``out``."""
    staging = out.parent / f".{out.name}.zoo-staging"
    shutil.rmtree(staging, ignore_errors=True)
    for part in PARTS:  # in this order: saving sd/ completes the text config encoder/ shares
        b.parts[part](staging)
    manifest = write_manifest(staging, b.cfg.to_dict(), metrics)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    for part in PARTS:
        shutil.rmtree(out / part, ignore_errors=True)
        (staging / part).rename(out / part)
    (staging / "manifest.json").rename(out / "manifest.json")
    staging.rmdir()
    return manifest


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
    work, out = Path(work), Path(out)
    check_replaceable(out)
    _check_work(cfg, work)
    torch.manual_seed(cfg.seed)
    b, render_seconds = _prepare(cfg, work, torch.device(device or "cpu"), progress)
    stages = {name: stage(b) for name, stage in STAGES}
    return _install(b, out, _metrics(b, render_seconds, stages))
