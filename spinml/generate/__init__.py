"""The server side: generators of synthetic training data and their compositing."""

from spinml.generate.bn_inversion import BNInversionGenerator, Priors
from spinml.generate.compositing import augment_condition, compose, foreground_mask
from spinml.generate.diffusion import DiffusionGenerator
from spinml.generate.prompts import MiniWorldPrompts, PromptSource, TemplatePrompts

__all__ = [
    "DiffusionGenerator",
    "BNInversionGenerator",
    "Priors",
    "PromptSource",
    "MiniWorldPrompts",
    "TemplatePrompts",
    "compose",
    "foreground_mask",
    "augment_condition",
]
