"""The zoo's build: a 2-step build on a tiny subset, loaded with plain diffusers and
transformers calls; resumption; a work folder of another recipe is refused."""

import json
import shutil

import numpy as np
import pytest
import torch
from diffusers import ControlNetModel, StableDiffusionControlNetPipeline, StableDiffusionPipeline
from PIL import Image
from transformers import CLIPImageProcessor, CLIPModel

import spinml
from spinml.zoo import ZooConfig, build


def test_folders_load_with_plain_library_calls(tiny_zoo):
    root, manifest = tiny_zoo
    zoo = root / "zoo"
    assert set(json.loads((zoo / "manifest.json").read_text())["files"]) == set(manifest["files"])
    pipe = StableDiffusionPipeline.from_pretrained(zoo / "sd", local_files_only=True)
    image = pipe("a photo of a plain red creature sleeping", num_inference_steps=2,
                 output_type="np", generator=torch.Generator().manual_seed(0)).images
    assert image.shape == (1, 16, 16, 3) and np.isfinite(image).all()
    controlnet = ControlNetModel.from_pretrained(zoo / "controlnet-canny", local_files_only=True)
    controlled = StableDiffusionControlNetPipeline(**pipe.components, controlnet=controlnet)
    edges = Image.fromarray(np.zeros((16, 16, 3), np.uint8))
    assert controlled("a photo", image=edges, num_inference_steps=2,
                      output_type="np").images.shape == (1, 16, 16, 3)
    encoder = CLIPModel.from_pretrained(zoo / "encoder", local_files_only=True)
    processor = CLIPImageProcessor.from_pretrained(zoo / "encoder", local_files_only=True)
    inputs = processor(images=[np.zeros((16, 16, 3), np.uint8)], return_tensors="pt")
    assert encoder.get_image_features(**inputs).pooler_output.shape == (1, 8)
    tokenizer = pipe.tokenizer
    assert len(tokenizer("a photo of a sks creature").input_ids) == 8


def test_resumed_build_equals_an_uninterrupted_one(tiny_zoo, tmp_path):
    root, manifest = tiny_zoo
    work = tmp_path / "work"
    shutil.copytree(root / "work", work)
    for stage in ("unet", "controlnet"):
        shutil.rmtree(work / stage / "final")
        assert (work / stage / "checkpoint" / "state.json").is_file()
    again = build(tmp_path / "zoo", config=ZooConfig.tiny(), work=work, progress=False)
    assert again["files"] == manifest["files"]
    assert again["metrics"]["stage_devices"] == dict.fromkeys(
        ("vae", "clip", "unet", "controlnet"), "cpu")
    assert again["versions"]["spinml"] == spinml.__version__


def test_work_folder_of_another_recipe_is_refused(tiny_zoo, tmp_path):
    root, _ = tiny_zoo
    with pytest.raises(ValueError, match="other settings"):
        build(tmp_path / "zoo", config=ZooConfig.tiny(seed=1), work=root / "work", progress=False)


