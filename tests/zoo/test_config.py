"""The zoo recipe refuses bad settings."""


import pytest

from spinml.zoo import ZooConfig


def test_bad_recipe_settings():
    with pytest.raises(ValueError, match="unet_steps"):
        ZooConfig(unet_steps=0)
    with pytest.raises(ValueError, match="vae_lr"):
        ZooConfig(vae_lr=0.0)
