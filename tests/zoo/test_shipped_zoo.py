"""The bundled zoo: its hashes match, and plain diffusers/transformers calls load it offline."""

import json

import numpy as np
import torch
from diffusers import ControlNetModel, StableDiffusionPipeline
from transformers import CLIPModel

from spinml.zoo import ZOO_DIR, ZooConfig, verify


def test_bundled_zoo_matches_its_manifest_and_recipe():
    manifest = verify(ZOO_DIR)
    assert manifest["settings"] == json.loads(json.dumps(ZooConfig().to_dict()))
    size = sum((ZOO_DIR / rel).stat().st_size for rel in manifest["files"])
    assert size <= 40e6
    assert all(rel.endswith((".json", ".txt")) or rel.endswith(".safetensors")
               for rel in manifest["files"])


def test_bundled_zoo_generates_with_plain_diffusers():
    pipe = StableDiffusionPipeline.from_pretrained(ZOO_DIR / "sd", local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    images = pipe(["a photo of a plain red creature sleeping in a green room"] * 2,
                  num_inference_steps=4, output_type="np",
                  generator=torch.Generator().manual_seed(0)).images
    assert images.shape == (2, 32, 32, 3) and np.isfinite(images).all()
    assert images.std() > 0.05
    controlnet = ControlNetModel.from_pretrained(ZOO_DIR / "controlnet-canny",
                                                 local_files_only=True)
    assert controlnet.config.conditioning_channels == 3
    encoder = CLIPModel.from_pretrained(ZOO_DIR / "encoder", local_files_only=True)
    features = encoder.get_image_features(pixel_values=torch.zeros(1, 3, 32, 32)).pooler_output
    assert features.shape == (1, encoder.config.projection_dim)
