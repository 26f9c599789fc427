"""Constructors of the zoo's models, in the standard diffusers / transformers classes,
so that the saved folders load with no spinml code."""

from __future__ import annotations

from diffusers import (
    AutoencoderKL,
    ControlNetModel,
    DPMSolverMultistepScheduler,
    UNet2DConditionModel,
)
from transformers import CLIPConfig, CLIPModel, CLIPTextModel, CLIPTokenizer

from spinml.zoo.config import ZooConfig

__all__ = ["make_vae", "make_clip", "make_unet", "make_controlnet", "make_scheduler",
           "text_encoder_of", "CLIP_MEAN", "CLIP_STD"]

CLIP_MEAN = (0.5, 0.5, 0.5)
CLIP_STD = (0.5, 0.5, 0.5)
"""Pixel normalisation of the zoo's image encoder: ``(x / 255 - mean) / std``."""


def _groups(channels: tuple[int, ...]) -> int:
    return min(32, *(c // 4 for c in channels))


def make_vae(cfg: ZooConfig) -> AutoencoderKL:
    """An ``AutoencoderKL`` that downsamples ``image_size`` px by ``cfg.vae_factor``
    (no attention in its middle block: at 32 px it costs more than it gives)."""
    n = len(cfg.vae_channels)
    return AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=cfg.vae_channels,
        layers_per_block=1, latent_channels=cfg.latent_channels,
        norm_num_groups=_groups(cfg.vae_channels), sample_size=cfg.image_size,
        mid_block_add_attention=False,
    )


def make_clip(cfg: ZooConfig, tokenizer: CLIPTokenizer) -> CLIPModel:
    """A small CLIP: a ViT on ``image_size`` px images and a text transformer over
    the tokenizer's vocabulary, projected to ``projection_dim``."""
    text = dict(
        vocab_size=len(tokenizer), hidden_size=cfg.text_width, intermediate_size=2 * cfg.text_width,
        num_hidden_layers=cfg.text_layers, num_attention_heads=4,
        max_position_embeddings=cfg.max_tokens, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    vision = dict(
        image_size=cfg.image_size, patch_size=cfg.vision_patch, hidden_size=cfg.vision_width,
        intermediate_size=2 * cfg.vision_width, num_hidden_layers=cfg.vision_layers,
        num_attention_heads=4,
    )
    return CLIPModel(CLIPConfig(text_config=text, vision_config=vision,
                                projection_dim=cfg.projection_dim))


def text_encoder_of(clip: CLIPModel) -> CLIPTextModel:
    """The CLIP's text tower as a stand-alone ``CLIPTextModel`` (the SD text encoder)."""
    encoder = CLIPTextModel(clip.config.text_config)
    encoder.load_state_dict(clip.text_model.state_dict())
    return encoder.eval()


def make_unet(cfg: ZooConfig) -> UNet2DConditionModel:
    """The denoiser: plain ResNet blocks at full latent resolution, cross-attention
    to the text below it."""
    n = len(cfg.unet_channels)
    down = ("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1)
    up = ("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",)
    return UNet2DConditionModel(
        sample_size=cfg.image_size // cfg.vae_factor, in_channels=cfg.latent_channels,
        out_channels=cfg.latent_channels, block_out_channels=cfg.unet_channels,
        down_block_types=down, up_block_types=up, layers_per_block=cfg.unet_layers,
        cross_attention_dim=cfg.text_width, attention_head_dim=8,
        norm_num_groups=_groups(cfg.unet_channels),
    )


def make_controlnet(unet: UNet2DConditionModel, cfg: ZooConfig) -> ControlNetModel:
    """A ControlNet copied from ``unet``; its condition embedding downsamples an
    ``image_size`` px edge map by ``cfg.vae_factor`` to the latent size."""
    embedding = tuple(16 * 2**i for i in range(len(cfg.vae_channels)))
    return ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=embedding)


def make_scheduler() -> DPMSolverMultistepScheduler:
    """Stable Diffusion's noise schedule (1,000 steps, scaled-linear betas) with
    the DPM-Solver++ sampler."""
    return DPMSolverMultistepScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
        beta_schedule="scaled_linear", prediction_type="epsilon", steps_offset=1,
    )
