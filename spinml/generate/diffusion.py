"""The server side of SpinML: customise a diffusion model on what was shared, then
generate labelled synthetic data, object stream by object stream.

For each object stream (the ``target`` and the ``background``) the level the
user chose decides how its images are made:

- ``L0``: from a text prompt alone;
- ``L1``: by a ControlNet conditioned on the shared feature maps (augmented by
  flips and shifts so that a few maps give varied images);
- ``L2``: by the base model with a DreamBooth-LoRA adapter trained on the shared
  segments, one rare identifier token per object.

The target is generated on black, its mask is where the image is not black,
and it is composed onto the background (:mod:`spinml.generate.compositing`).
DreamBooth-LoRA minimises, over the object's shared segments ``x`` and prompts
``c`` naming its identifier,

    E_{t, eps} || eps - eps_theta(sqrt(a_t) z + sqrt(1 - a_t) eps, t, c) ||^2

with ``z = s * E(x)`` (``s``: the VAE's scaling factor), training only the
adapter's low-rank matrices.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from diffusers import ControlNetModel, StableDiffusionControlNetPipeline, StableDiffusionPipeline
from diffusers.utils import logging as diffusers_logging
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
from PIL import Image
from safetensors.numpy import load_file as load_arrays
from safetensors.numpy import save_file as save_arrays
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm
from transformers.utils import logging as transformers_logging

from spinml import checks
from spinml.data.references import BACKGROUND
from spinml.data.sanitized import SanitizedSet, require_sanitized
from spinml.data.synthetic import SyntheticImage, SyntheticSet
from spinml.estimator import Estimator, renamed
from spinml.generate.compositing import (
    MASK_THRESHOLD,
    augment_condition,
    compose,
    foreground_mask,
)
from spinml.generate.prompts import MiniWorldPrompts, PromptSource
from spinml.image import to_unit_range
from spinml.io import atomic_dir, read_manifest
from spinml.policy import Level
from spinml.progress import loading_bars
from spinml.seeding import derive_seed
from spinml.zoo.tokenizer import IDENTIFIERS

__all__ = ["DiffusionGenerator"]

STREAMS = ("target", BACKGROUND)
_OLD_FIT = {"steps": "lora_steps", "lr": "lora_lr", "rank": "lora_rank",
            "batch_size": "lora_batch_size", "prior_preservation": "prior_preservation",
            "prior_weight": "prior_weight", "seed": "lora_seed"}
"""``fit``'s keyword arguments before the settings moved to the constructor."""
_OLD_GENERATE = {"steps": "sample_steps", "guidance": "guidance",
                 "conditioning_scale": "conditioning_scale"}
_LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
_PIPELINE_PARTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
_FORMAT, _VERSION, _SETTINGS = "spinml.diffusion-generator", 2, "generator.json"
"""Version 2 records the constructor's settings; version 1 recorded ``fit``'s arguments."""


def _add_lora(unet: torch.nn.Module, stream: str, rank: int, **options: Any) -> None:
    """Add LoRA adapter ``stream`` (rank ``rank``, alpha = rank) on the attention
    projections. One UNet carries one adapter per stream by design, so peft's warning
    about a second adapter is silenced here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Already found a `peft_config`")
        unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, target_modules=_LORA_TARGETS,
                                    **options), adapter_name=stream)


def _check_pipeline_folder(path: Path) -> None:
    index = path / "model_index.json"
    if not path.is_dir():
        raise FileNotFoundError(f"Stable Diffusion folder {path} does not exist")
    if not index.is_file():
        raise ValueError(f"{path} is not a diffusers Stable Diffusion folder: no model_index.json")
    parts = json.loads(index.read_text())
    missing = [p for p in _PIPELINE_PARTS if p not in parts or not (path / p).is_dir()]
    if missing:
        raise ValueError(f"{path} is not a Stable Diffusion pipeline folder: it lacks {missing}")


def _check_controlnet_folder(path: Path) -> None:
    config = path / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"ControlNet folder {path} has no config.json")
    if json.loads(config.read_text()).get("_class_name") != "ControlNetModel":
        raise ValueError(f"{path} does not hold a diffusers ControlNetModel")


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape[0] == image.shape[1] == size:
        return image
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


class DiffusionGenerator(Estimator):
    """DreamBooth-LoRA / ControlNet / prompt generation of per-object streams.

    Build it with :meth:`from_pretrained` (any diffusers Stable Diffusion
    folder) or :meth:`from_zoo` (the bundled mini-world models); the
    constructor only stores and checks settings. ``fit`` takes a
    :class:`~spinml.SanitizedSet` and nothing else and returns the generator;
    ``generate(n_per_class=..., seed=...)`` returns a :class:`~spinml.SyntheticSet`.
    Learned state ends in ``_``.

    Parameters
    ----------
    path, controlnet, device, dtype
        The Stable Diffusion folder, the ControlNets (a folder for Canny maps,
        or a dict from feature kind to folder), the device (default: a GPU
        when there is one) and the weights' dtype; read by
        :meth:`from_pretrained`, so changing them needs a new one.
    prompts
        A :class:`~spinml.generate.prompts.PromptSource`; default
        :class:`~spinml.generate.prompts.MiniWorldPrompts`.
    lora_steps, lora_lr, lora_rank, lora_batch_size
        DreamBooth-LoRA of each L2 object in ``fit``: AdamW optimisation steps,
        its learning rate, the adapters' rank (``lora_alpha`` equals it), and
        latent images per step.
    prior_preservation, prior_weight
        With ``prior_preservation`` the LoRA loss adds ``prior_weight`` times the
        same loss on images the base model generates from the object's class
        prompts (20 solver steps, guidance 5).
    lora_seed
        Seed of the adapters' initialisation and of the training noise and timesteps.
    sample_steps, guidance, conditioning_scale
        Sampling in ``generate``: solver steps per image, classifier-free
        guidance scale (>= 1), and the factor of the ControlNet residuals added
        to the UNet's for L1 streams (diffusers' ``controlnet_conditioning_scale``;
        0 ignores the edges).
    sample_batch_size
        Images sampled per pipeline call.
    mask_threshold
        Grey level above which a pixel of a target generated on black is target.
    progress
        ``tqdm`` progress bars.
    """

    _PARAMS = ("path", "controlnet", "device", "dtype", "prompts", "lora_steps", "lora_lr",
               "lora_rank", "lora_batch_size", "prior_preservation", "prior_weight", "lora_seed",
               "sample_steps", "guidance", "conditioning_scale", "sample_batch_size",
               "mask_threshold", "progress")
    _SAVED = ("lora_steps", "lora_lr", "lora_rank", "lora_batch_size", "prior_preservation",
              "prior_weight", "lora_seed", "sample_steps", "guidance", "conditioning_scale",
              "sample_batch_size", "mask_threshold")
    """The settings :meth:`save` records and :meth:`load` restores."""

    def __init__(
        self,
        path: str | Path,
        controlnet: str | Path | Mapping[str, str | Path] | None = None,
        device: str | None = None,
        dtype: torch.dtype | None = None,
        *,
        prompts: PromptSource | None = None,
        lora_steps: int = 300,
        lora_lr: float = 1e-3,
        lora_rank: int = 8,
        lora_batch_size: int = 4,
        prior_preservation: bool = False,
        prior_weight: float = 1.0,
        lora_seed: int = 0,
        sample_steps: int = 20,
        guidance: float = 5.0,
        conditioning_scale: float = 1.0,
        sample_batch_size: int = 16,
        mask_threshold: int = MASK_THRESHOLD,
        progress: bool = True,
        **deprecated: Any,
    ) -> None:
        self.path = path
        self.controlnet = controlnet
        self.device = device
        self.dtype = dtype
        self.prompts = prompts
        self.lora_steps = lora_steps
        self.lora_lr = lora_lr
        self.lora_rank = lora_rank
        self.lora_batch_size = lora_batch_size
        self.prior_preservation = prior_preservation
        self.prior_weight = prior_weight
        self.lora_seed = lora_seed
        self.sample_steps = sample_steps
        self.guidance = guidance
        self.conditioning_scale = conditioning_scale
        self.sample_batch_size = sample_batch_size
        self.mask_threshold = mask_threshold
        self.progress = progress
        for name, value in renamed(deprecated, {"batch_size": "sample_batch_size"},
                                   "DiffusionGenerator()").items():
            setattr(self, name, value)
        self._check_params(self.get_params())

    def _check_params(self, params: dict[str, Any]) -> None:
        if not isinstance(params["path"], (str, Path)):
            raise TypeError(f"path must be a folder (str or Path), got {params['path']!r}")
        controlnet = params["controlnet"]
        if controlnet is not None and not isinstance(controlnet, (str, Path, Mapping)):
            raise TypeError(f"controlnet must be a folder, a dict of folders or None, "
                            f"got {controlnet!r}")
        if params["device"] is not None and not isinstance(params["device"], str):
            raise TypeError(f"device must be a string such as 'cpu' or None, "
                            f"got {params['device']!r}")
        if params["dtype"] is not None and not isinstance(params["dtype"], torch.dtype):
            raise TypeError(f"dtype must be a torch.dtype or None, got {params['dtype']!r}")
        if params["prompts"] is not None and not callable(params["prompts"]):
            raise TypeError(f"prompts must be a PromptSource or None, got {params['prompts']!r}")
        for name in ("lora_steps", "lora_rank", "lora_batch_size", "sample_steps",
                     "sample_batch_size"):
            checks.positive_int(params[name], name)
        checks.positive_number(params["lora_lr"], "lora_lr")
        checks.positive_number(params["prior_weight"], "prior_weight")
        checks.non_negative_int(params["lora_seed"], "lora_seed")
        checks.in_interval(params["guidance"], "guidance", 1, math.inf, "[)")
        checks.non_negative_number(params["conditioning_scale"], "conditioning_scale")
        checks.non_negative_int(params["mask_threshold"], "mask_threshold")
        checks.in_interval(params["mask_threshold"], "mask_threshold", 0, 255, "[)")
        checks.boolean(params["prior_preservation"], "prior_preservation")
        checks.boolean(params["progress"], "progress")

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        controlnet: str | Path | Mapping[str, str | Path] | None = None,
        device: str | None = None,
        dtype: torch.dtype | None = None,
        **settings: Any,
    ) -> DiffusionGenerator:
        """Load a Stable Diffusion folder and ControlNets (a folder for Canny maps,
        or a dict from feature kind to folder) from local disk; ``settings`` are
        the constructor's."""
        generator = cls(path, controlnet, device, dtype, **settings)
        generator._load()
        return generator

    @classmethod
    def from_zoo(cls, device: str | None = None, **settings: Any) -> DiffusionGenerator:
        """The bundled mini-world zoo (hashes checked), with its Canny ControlNet."""
        from spinml.zoo import zoo_path

        return cls.from_pretrained(zoo_path("sd"), zoo_path("controlnet-canny"), device,
                                   **settings)

    def _load(self) -> None:
        path = Path(self.path)
        _check_pipeline_folder(path)
        nets = self.controlnet or {}
        nets = {"canny": nets} if isinstance(nets, (str, Path)) else dict(nets)
        for folder in nets.values():
            _check_controlnet_folder(Path(folder))
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.device_ = torch.device(device)
        options = {"local_files_only": True, "safety_checker": None,
                   "requires_safety_checker": False}
        if self.dtype is not None:
            options["torch_dtype"] = self.dtype
        with loading_bars(self.progress, diffusers_logging, transformers_logging):
            self.pipe_ = StableDiffusionPipeline.from_pretrained(path, **options).to(self.device_)
        self.pipe_.set_progress_bar_config(disable=True)
        self.controlnets_ = {}
        for kind, folder in nets.items():
            net = ControlNetModel.from_pretrained(folder, local_files_only=True,
                                                  torch_dtype=self.dtype or torch.float32)
            pipe = StableDiffusionControlNetPipeline(**self.pipe_.components,
                                                     controlnet=net.to(self.device_),
                                                     requires_safety_checker=False)
            pipe.set_progress_bar_config(disable=True)
            self.controlnets_[kind] = pipe
        self.image_size_ = self.pipe_.unet.config.sample_size * self.pipe_.vae_scale_factor
        self.prompt_source_ = self.prompts or MiniWorldPrompts()

    def _require_loaded(self) -> None:
        if not hasattr(self, "pipe_"):
            raise RuntimeError("load the model first: DiffusionGenerator.from_pretrained(...)")

    def fit(self, sanitized: SanitizedSet, **deprecated: Any) -> DiffusionGenerator:
        """Customise the model on an upload; returns the generator.

        L2 objects get a LoRA adapter each (``lora_steps`` AdamW steps at
        ``lora_lr``, rank ``lora_rank``, ``lora_batch_size`` images a step, seeded
        by ``lora_seed``); L1 objects' feature maps are kept as ControlNet
        conditions. The old form ``fit(sanitized, steps=, lr=, rank=, batch_size=,
        prior_preservation=, prior_weight=, seed=)`` sets those settings, with a
        ``DeprecationWarning``.
        """
        sanitized = require_sanitized(sanitized, argument="sanitized")
        self._require_loaded()
        old = renamed(deprecated, _OLD_FIT, "DiffusionGenerator.fit()")
        if old:
            self.set_params(**old)
        levels = {s: sanitized.policy[s] for s in STREAMS}
        for stream, level in levels.items():
            kinds = {o.feature_kind for _, o in sanitized.shared(stream) if o.level == Level.L1}
            missing = kinds - set(self.controlnets_)
            if level == Level.L1 and missing:
                raise ValueError(f"{stream!r} is shared at L1 as {sorted(missing)} maps, but "
                                 f"this generator has ControlNets for {sorted(self.controlnets_)}")
        unet = self.pipe_.unet
        for name in list(getattr(self, "adapters_", {})):
            unet.delete_adapters(name)
        self.adapters_, self.levels_, self.conditions_ = {}, levels, {}
        self.classes_ = sanitized.classes
        self.scheme_ = sanitized.scheme
        for k, stream in enumerate(STREAMS):
            pairs = sanitized.shared(stream)
            if levels[stream] == Level.L1:
                maps = [_resize(o.feature, self.image_size_) for _, o in pairs]
                self.conditions_[stream] = ([np.where(m > 0, 255, 0).astype(np.uint8)
                                             for m in maps], [im.label for im, _ in pairs],
                                            pairs[0][1].feature_kind)
            if levels[stream] == Level.L2:
                identifier = IDENTIFIERS[k]
                self._train_adapter(stream, identifier, pairs,
                                    seed=derive_seed(self.lora_seed, k))
                self.adapters_[stream] = identifier
        return self

    def _encode(self, images: np.ndarray) -> torch.Tensor:
        vae = self.pipe_.vae
        pixels = torch.from_numpy(images).permute(0, 3, 1, 2).to(self.device_)
        x = to_unit_range(pixels).to(vae.dtype)
        with torch.no_grad():
            return vae.encode(x).latent_dist.mean * vae.config.scaling_factor

    def _embed(self, prompts: list[str]) -> torch.Tensor:
        tokens = self.pipe_.tokenizer(prompts, padding="max_length", truncation=True,
                                      max_length=self.pipe_.tokenizer.model_max_length,
                                      return_tensors="pt")
        with torch.no_grad():
            return self.pipe_.text_encoder(tokens.input_ids.to(self.device_))[0]

    def _train_adapter(self, stream: str, identifier: str, pairs, *, seed: int) -> None:
        steps, lr, rank, batch_size = (self.lora_steps, self.lora_lr, self.lora_rank,
                                       self.lora_batch_size)
        prior, prior_weight = self.prior_preservation, self.prior_weight
        images = np.stack([_resize(o.segment, self.image_size_) for _, o in pairs])
        labels = [im.label for im, _ in pairs]
        source = self.prompt_source_
        latents = self._encode(images)
        context = self._embed([source(stream, lab, 1, seed=seed, identifier=identifier)[0]
                               for lab in labels])
        if prior:
            class_prompts = [p for lab in labels for p in source(stream, lab, 4, seed=seed)]
            prior_images = self._sample(
                self.pipe_, class_prompts,
                seeds=[derive_seed(seed, i) for i in range(len(class_prompts))])
            prior_latents, prior_context = self._encode(prior_images), self._embed(class_prompts)
        unet = self.pipe_.unet.requires_grad_(False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            _add_lora(unet, stream, rank, init_lora_weights="gaussian")
        unet.set_adapter(stream)
        params = [p for p in unet.parameters() if p.requires_grad]
        accelerator = Accelerator(cpu=self.device_.type == "cpu")
        optimizer = torch.optim.AdamW(params, lr=lr)
        unet, optimizer = accelerator.prepare(unet, optimizer)
        unet.train()
        alphas = self.pipe_.scheduler.alphas_cumprod.to(self.device_)
        g = torch.Generator().manual_seed(seed)

        def loss_on(z0: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
            idx = torch.randint(0, len(z0), (batch_size,), generator=g)
            noise = torch.randn(z0[idx].shape, generator=g).to(z0)
            t = torch.randint(0, len(alphas), (batch_size,), generator=g).to(self.device_)
            a = alphas[t].view(-1, 1, 1, 1).to(z0.dtype)
            noisy = a.sqrt() * z0[idx] + (1 - a).sqrt() * noise
            return F.mse_loss(unet(noisy, t, ctx[idx]).sample.float(), noise.float())

        for _ in tqdm(range(steps), desc=f"DreamBooth-LoRA {stream}", disable=not self.progress):
            loss = loss_on(latents, context)
            if prior:
                loss = loss + prior_weight * loss_on(prior_latents, prior_context)
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            optimizer.step()
        unet.eval()
        self.pipe_.unet = accelerator.unwrap_model(unet)
        self.pipe_.unet.requires_grad_(False)

    def _sample(self, pipe, prompts: list[str], *, seeds: list[int], steps: int = 20,
                guidance: float = 5.0, conditions: list[np.ndarray] | None = None,
                conditioning_scale: float = 1.0) -> np.ndarray:
        """uint8 images for ``prompts``, ``sample_batch_size`` at a time; image ``i`` starts from
        noise drawn by a generator seeded with ``seeds[i]``, so batching does not
        change which image a seed gives."""
        cfg = pipe.unet.config
        out = []
        size = self.sample_batch_size
        for start in tqdm(range(0, len(prompts), size), desc="sampling",
                          disable=not self.progress, leave=False):
            chunk = prompts[start:start + size]
            extra = {}
            if conditions is not None:
                extra["image"] = [Image.fromarray(np.repeat(c[:, :, None], 3, axis=2))
                                  for c in conditions[start:start + size]]
                extra["controlnet_conditioning_scale"] = conditioning_scale
            latents = torch.stack([
                torch.randn((cfg.in_channels, cfg.sample_size, cfg.sample_size),
                            generator=torch.Generator().manual_seed(s))
                for s in seeds[start:start + size]]).to(self.device_, pipe.unet.dtype)
            images = pipe(chunk, num_inference_steps=steps, guidance_scale=guidance,
                          latents=latents, output_type="np", height=self.image_size_,
                          width=self.image_size_, **extra).images
            out.append(np.clip(np.round(images * 255), 0, 255).astype(np.uint8))
        return np.concatenate(out)

    def _conditions(self, stream: str, label: str, n: int,
                    seed: int) -> tuple[list[np.ndarray], np.ndarray]:
        """``n`` augmented feature maps of ``stream``'s class ``label`` (all classes' maps
        when the upload has none of it), and which shared map each came from."""
        maps, labels, _ = self.conditions_[stream]
        pool = [m for m, lab in zip(maps, labels, strict=True) if lab == label] or maps
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, len(pool), n)
        return [augment_condition(pool[i], rng) for i in picks], picks

    def conditions(self, stream: str, n_per_class: int, *, seed: int = 0
                   ) -> dict[str, list[np.ndarray]]:
        """Per class, the ControlNet conditions that ``generate(n_per_class, seed=seed)``
        uses for L1 stream ``stream``, in the order of its images."""
        if self._fitted("levels_").get(stream) != Level.L1:
            raise ValueError(f"stream {stream!r} is not shared at L1 in this fit")
        k = STREAMS.index(stream)
        return {label: self._conditions(stream, label, n_per_class, derive_seed(seed, c, k))[0]
                for c, label in enumerate(self.classes_)}

    def _plan(self, stream: str, label: str, n: int, seed: int) -> dict[str, Any]:
        """What stream ``stream`` of class ``label`` needs: the pipeline configuration
        (``key``), prompts, per-image seeds, conditions and provenance records."""
        level = self.levels_[stream]
        identifier = self.adapters_.get(stream)
        prompts = self.prompt_source_(stream, label, n, seed=seed, identifier=identifier)
        records = [{"level": level.name, "prompt": p} for p in prompts]
        plan = {"key": (level.name,), "prompts": prompts, "records": records,
                "seeds": [derive_seed(seed, i) for i in range(n)], "conditions": None}
        if level == Level.L2:
            plan["key"] = (level.name, stream)
            for r in records:
                r.update(adapter=stream, identifier=identifier)
        elif level == Level.L1:
            conditions, picks = self._conditions(stream, label, n, seed)
            kind = self.conditions_[stream][2]
            plan.update(key=(level.name, kind), conditions=conditions)
            for r, pick in zip(records, picks, strict=True):
                r.update(condition=kind, condition_index=int(pick))
        return plan

    def _run(self, plans: list[dict[str, Any]], *, steps: int, guidance: float,
             conditioning_scale: float) -> None:
        """Sample every plan, batching together the plans of one pipeline configuration;
        each plan gets its ``images``."""
        unet = self.pipe_.unet
        groups: dict[tuple, list[dict[str, Any]]] = {}
        for plan in plans:
            groups.setdefault(plan["key"], []).append(plan)
        for key, members in groups.items():
            pipe = self.pipe_
            if key[0] == Level.L2.name:
                unet.enable_adapters()
                unet.set_adapter(key[1])
            elif self.adapters_:
                unet.disable_adapters()
            conditions = None
            if key[0] == Level.L1.name:
                pipe = self.controlnets_[key[1]]
                conditions = [c for m in members for c in m["conditions"]]
            images = self._sample(pipe, [p for m in members for p in m["prompts"]],
                                  seeds=[x for m in members for x in m["seeds"]], steps=steps,
                                  guidance=guidance, conditions=conditions,
                                  conditioning_scale=conditioning_scale)
            start = 0
            for m in members:
                m["images"] = images[start:start + len(m["prompts"])]
                start += len(m["prompts"])
        if self.adapters_:
            unet.enable_adapters()

    def generate(self, n_per_class: int, *, seed: int = 0, **deprecated: Any) -> SyntheticSet:
        """``n_per_class`` composed images of every class: each object stream made by
        its level, the target composed onto the background through its mask.

        Sampling uses ``sample_steps`` solver steps, guidance ``guidance`` and
        ``conditioning_scale``; the same ``seed`` gives the same images. The old
        form ``generate(n, steps=, guidance=, conditioning_scale=)`` overrides
        those settings for the call, with a ``DeprecationWarning``.
        """
        self._fitted("levels_")
        params = {**self.get_params(), **renamed(deprecated, _OLD_GENERATE,
                                                  "DiffusionGenerator.generate()")}
        self._check_params(params)
        checks.positive_int(n_per_class, "n_per_class")
        checks.non_negative_int(seed, "seed")
        steps, guidance = params["sample_steps"], params["guidance"]
        conditioning_scale = params["conditioning_scale"]
        plans = {(label, stream): self._plan(stream, label, n_per_class, derive_seed(seed, c, k))
                 for c, label in enumerate(self.classes_) for k, stream in enumerate(STREAMS)}
        self._run(list(plans.values()), steps=steps, guidance=guidance,
                  conditioning_scale=conditioning_scale)
        images = []
        for label in self.classes_:
            fg, bg = plans[label, "target"], plans[label, BACKGROUND]
            for i in range(n_per_class):
                mask = foreground_mask(fg["images"][i], self.mask_threshold)
                provenance = {"scheme": self.scheme_, "seed": seed, "class": label,
                              "index": i, "steps": steps, "guidance": guidance,
                              "conditioning_scale": conditioning_scale,
                              "target": fg["records"][i], "background": bg["records"][i]}
                images.append(SyntheticImage(compose(fg["images"][i], bg["images"][i], mask),
                                             label, foreground=fg["images"][i],
                                             background=bg["images"][i], mask=mask,
                                             provenance=provenance))
        return SyntheticSet(images, classes=self.classes_)

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write the adapters (safetensors), the kept L1 conditions and the settings
        (those of ``_SAVED``; not ``prompts``, ``device``, ``dtype``); never the base
        model."""
        self._fitted("levels_")
        folder = Path(folder)
        with atomic_dir(folder, overwrite=overwrite, kind=_FORMAT, manifest=_SETTINGS) as tmp:
            for stream in self.adapters_:
                save_file(get_peft_model_state_dict(self.pipe_.unet, adapter_name=stream),
                          tmp / f"adapter_{stream}.safetensors")
            for stream, (maps, _, _) in self.conditions_.items():
                save_arrays({str(i): m for i, m in enumerate(maps)},
                            tmp / f"conditions_{stream}.safetensors")
            settings = {
                "format": _FORMAT, "version": _VERSION,
                "path": str(Path(self.path).resolve()),
                "controlnet": None if self.controlnet is None else (
                    {k: str(v) for k, v in self.controlnet.items()}
                    if isinstance(self.controlnet, Mapping) else str(self.controlnet)),
                "settings": {name: getattr(self, name) for name in self._SAVED},
                "classes": list(self.classes_), "scheme": self.scheme_,
                "levels": {k: v.name for k, v in self.levels_.items()},
                "adapters": self.adapters_, "rank": self.lora_rank,
                "conditions": {k: {"labels": labels, "kind": kind}
                               for k, (_, labels, kind) in self.conditions_.items()},
            }
            (tmp / _SETTINGS).write_text(json.dumps(settings, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str | None = None, **settings: Any
             ) -> DiffusionGenerator:
        """Rebuild a fitted generator saved by :meth:`save` (the base model and
        ControlNets are loaded again from their recorded folders) with its saved
        settings; ``settings`` override them (``prompts``, ``progress``, ...)."""
        folder = Path(folder)
        saved = read_manifest(folder, _FORMAT, (1, _VERSION), name=_SETTINGS)
        streams = [*saved.get("adapters", {}), *saved.get("conditions", {})]
        if not set(streams) <= set(STREAMS):
            raise ValueError(f"{folder / _SETTINGS}: streams {streams} are not among {STREAMS}")
        recorded = saved["settings"] if saved["version"] == _VERSION else {
            _OLD_FIT[k]: v for k, v in saved["fit"].items()}
        generator = cls.from_pretrained(saved["path"], saved["controlnet"], device,
                                        **{**recorded, **settings})
        unet = generator.pipe_.unet
        generator.adapters_ = {}
        for stream, identifier in saved["adapters"].items():
            _add_lora(unet, stream, saved["rank"])
            state = load_file(folder / f"adapter_{stream}.safetensors", device=str(unet.device))
            set_peft_model_state_dict(unet, state, adapter_name=stream)
            generator.adapters_[stream] = identifier
        unet.requires_grad_(False)
        generator.conditions_ = {}
        for stream, info in saved["conditions"].items():
            arrays = load_arrays(folder / f"conditions_{stream}.safetensors")
            maps = [arrays[str(i)] for i in range(len(arrays))]
            generator.conditions_[stream] = (maps, info["labels"], info["kind"])
        generator.levels_ = {k: Level[v] for k, v in saved["levels"].items()}
        generator.classes_ = tuple(saved["classes"])
        generator.scheme_ = saved["scheme"]
        return generator
