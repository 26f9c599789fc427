"""The zoo's build recipe: every size, step count and learning rate, in one dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from spinml import checks

__all__ = ["ZooConfig"]


@dataclass(frozen=True)
class ZooConfig:
    """Settings of ``spinml zoo build``. Sizes in pixels, rates per optimiser step.

    The public mini-world is rendered at ``image_size``; the VAE downsamples by
    ``2 ** (len(vae_channels) - 1)``, so latents are ``image_size / f`` square
    with ``latent_channels`` channels. Text is tokenised to ``max_tokens``.
    """

    seed: int = 0
    image_size: int = 32
    n_per_class: int = 4000
    max_tokens: int = 24
    checkpoint_every: int = 250

    vae_channels: tuple[int, ...] = (32, 64)
    latent_channels: int = 4
    vae_steps: int = 4000
    vae_batch: int = 128
    vae_lr: float = 1e-3
    vae_kl_weight: float = 1e-6

    text_width: int = 64
    text_layers: int = 3
    vision_width: int = 96
    vision_layers: int = 4
    vision_patch: int = 4
    projection_dim: int = 64
    clip_steps: int = 1500
    clip_batch: int = 256
    clip_lr: float = 1e-3

    unet_channels: tuple[int, ...] = (32, 64, 128)
    unet_layers: int = 1
    unet_steps: int = 4000
    unet_batch: int = 256
    unet_lr: float = 1e-3
    unet_ema: float = 0.999
    caption_dropout: float = 0.1
    snr_gamma: float = 5.0

    controlnet_steps: int = 2000
    controlnet_batch: int = 128
    controlnet_lr: float = 5e-4

    @classmethod
    def tiny(cls, **changes: object) -> ZooConfig:
        """A seconds-long recipe for tests: 2 steps per stage, narrow models."""
        settings = dict(
            image_size=16, n_per_class=4, checkpoint_every=1, vae_channels=(8, 16),
            vae_steps=2, vae_batch=4, text_width=16, text_layers=1, vision_width=16,
            vision_layers=1, projection_dim=8, clip_steps=2, clip_batch=8,
            unet_channels=(16, 32), unet_steps=2, unet_batch=4, controlnet_steps=2,
            controlnet_batch=4,
        )
        settings.update(changes)
        return cls(**settings)

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name.endswith(("_steps", "_batch", "_every", "_size", "_class", "_tokens",
                                    "_layers", "_width", "_dim", "_patch", "_channels")):
                values = value if isinstance(value, tuple) else (value,)
                if not values:
                    raise ValueError(f"ZooConfig.{field.name} must not be empty")
                for v in values:
                    checks.positive_int(v, f"ZooConfig.{field.name}")
            if field.name.endswith("_lr"):
                checks.positive_number(value, f"ZooConfig.{field.name}")

    @property
    def vae_factor(self) -> int:
        """Pixels per latent cell along each side."""
        return 2 ** (len(self.vae_channels) - 1)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
