"""DiffusionGenerator on a tiny Stable Diffusion built from random configs whose shapes
differ from the zoo's (other channels, attention sizes, VAE factor and sample size)."""

import sys

import numpy as np
import pytest
import torch
from diffusers import (
    AutoencoderKL,
    ControlNetModel,
    DPMSolverMultistepScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel

from spinml import ReferenceSet, SanitizedSet, Sanitizer, SyntheticSet
from spinml.data import ReferenceImage, Segment
from spinml.generate import DiffusionGenerator
from spinml.zoo.tokenizer import IDENTIFIERS, build_tokenizer

WORDS = ["a", "an", "photo", "of", "empty", "creature", "room", "sleeping", "eating", *IDENTIFIERS]


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-sd")
    torch.manual_seed(0)
    tokenizer = build_tokenizer(WORDS, root / "tok", max_length=12)
    text = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=24, intermediate_size=40, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=12, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    vae = AutoencoderKL(block_out_channels=(8, 16, 16), latent_channels=3, norm_num_groups=4,
                        down_block_types=("DownEncoderBlock2D",) * 3,
                        up_block_types=("UpDecoderBlock2D",) * 3, sample_size=24)
    unet = UNet2DConditionModel(
        sample_size=6, in_channels=3, out_channels=3, block_out_channels=(16, 24),
        layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=24,
        attention_head_dim=4, norm_num_groups=8)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                   scheduler=DPMSolverMultistepScheduler(), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(root / "sd")
    ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(4, 8, 8)).save_pretrained(
        root / "controlnet")
    return root


def _references():
    rng = np.random.default_rng(0)
    images = []
    for i, label in enumerate(["sleeping", "eating"] * 2):
        image = rng.integers(30, 256, (20, 20, 3), dtype=np.uint8)
        mask = np.zeros((20, 20), bool)
        mask[4 + i:14 + i, 3:12] = True
        images.append(ReferenceImage(image, label, (Segment("target", mask),), f"r{i}"))
    return ReferenceSet(images, classes=("sleeping", "eating"))


def _generator(tiny_sd, **settings):
    return DiffusionGenerator.from_pretrained(tiny_sd / "sd", controlnet=tiny_sd / "controlnet",
                                              device="cpu", progress=False, batch_size=3,
                                              **settings)


@pytest.mark.parametrize("policy", ["target=L2,background=L1", "target=L1,background=L0",
                                    "target=L0,background=L2"])
def test_fit_generate_save_load(tiny_sd, tmp_path, policy):
    upload = Sanitizer().sanitize(_references(), policy, progress=False)
    generator = _generator(tiny_sd).fit(upload, steps=2, rank=2, batch_size=2)
    synthetic = generator.generate(3, seed=7, steps=2)
    assert isinstance(synthetic, SyntheticSet) and len(synthetic) == 6
    assert synthetic.classes == ("sleeping", "eating")
    first = synthetic[0]
    assert first.image.shape == (24, 24, 3) and first.mask.shape == (24, 24)
    assert np.array_equal(first.image[first.mask], first.foreground[first.mask])
    assert first.provenance["scheme"] == upload.scheme
    assert first.provenance["target"]["level"] == policy.split(",")[0][-2:]
    again = generator.generate(3, seed=7, steps=2)
    for a, b in zip(synthetic, again, strict=True):
        assert np.array_equal(a.image, b.image)
    folder = generator.save(tmp_path / "gen")
    assert not list(folder.rglob("diffusion_pytorch_model*"))
    loaded = DiffusionGenerator.load(folder, device="cpu", progress=False, batch_size=3)
    for a, b in zip(synthetic, loaded.generate(3, seed=7, steps=2), strict=True):
        assert np.abs(a.image.astype(int) - b.image.astype(int)).max() <= 1


def test_adapter_changes_what_l2_generates(tiny_sd):
    upload = Sanitizer().sanitize(_references(), "target=L2", progress=False)
    base = _generator(tiny_sd).fit(Sanitizer().sanitize(_references(), "", progress=False))
    tuned = _generator(tiny_sd).fit(upload, steps=5, lr=1e-2, rank=2)
    a, b = base.generate(2, seed=1, steps=2), tuned.generate(2, seed=1, steps=2)
    assert not np.array_equal(a[0].foreground, b[0].foreground)
    assert b[0].provenance["target"]["identifier"] == IDENTIFIERS[0]


def test_generator_opens_nothing_but_its_models(tiny_sd, tmp_path):
    """Fit and generate read only the SanitizedSet in memory and the model folders."""
    upload_dir = Sanitizer().sanitize(_references(), "target=L2,background=L1",
                                      progress=False).save(tmp_path / "upload")
    upload = SanitizedSet.load(upload_dir)
    opened = []
    watching = [True]

    def hook(event, args):
        if watching[0] and event == "open" and isinstance(args[0], (str, bytes)):
            opened.append(str(args[0]))

    sys.addaudithook(hook)
    try:
        _generator(tiny_sd).fit(upload, steps=2, rank=2).generate(1, steps=2)
    finally:
        watching[0] = False
    assert any(p.startswith(str(tiny_sd / "sd")) for p in opened), "the hook saw no model file"
    allowed = (str(tiny_sd), sys.prefix, sys.base_prefix, "/proc", "/sys", "/dev")
    outside = [p for p in opened if not p.startswith(allowed)]
    assert not outside, f"the generator opened {outside}"


def test_bad_input(tiny_sd, tmp_path):
    with pytest.raises(ValueError, match="not a diffusers Stable Diffusion folder"):
        DiffusionGenerator.from_pretrained(tmp_path, device="cpu")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        DiffusionGenerator.from_pretrained(tmp_path / "nowhere", device="cpu")
    references = _references()
    no_controlnet = DiffusionGenerator.from_pretrained(tiny_sd / "sd", device="cpu",
                                                       progress=False)
    with pytest.raises(ValueError, match=r"shared at L1 as \['canny'\]"):
        no_controlnet.fit(Sanitizer().sanitize(references, "target=L1", progress=False))
    with pytest.raises(TypeError, match="ReferenceSet.*raw private images"):
        no_controlnet.fit(references)
    upload = Sanitizer().sanitize(references, "target=L2", progress=False)
    for bad in ({"steps": 0}, {"lr": -1.0}, {"rank": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            no_controlnet.fit(upload, **bad)
    with pytest.raises(RuntimeError, match="fit"):
        no_controlnet.generate(1)
    no_controlnet.fit(upload, steps=1, rank=2)
    with pytest.raises(ValueError, match="n_per_class"):
        no_controlnet.generate(0)


def test_conditions_are_the_shared_maps_generate_uses(tiny_sd):
    upload = Sanitizer().sanitize(_references(), "target=L1,background=L0", progress=False)
    generator = _generator(tiny_sd).fit(upload)
    maps = generator.conditions("target", 3, seed=4)
    assert set(maps) == {"sleeping", "eating"} and all(len(m) == 3 for m in maps.values())
    flat = [m for ms in maps.values() for m in ms]
    assert all(m.shape == (24, 24) and set(np.unique(m)) <= {0, 255} for m in flat)
    again = generator.conditions("target", 3, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(flat, [m for ms in again.values() for m in ms],
                                                        strict=True))
    with pytest.raises(ValueError, match="not shared at L1"):
        generator.conditions("background", 3)


def test_lora_initialisation_does_not_depend_on_the_global_rng(tiny_sd):
    upload = Sanitizer().sanitize(_references(), "target=L2", progress=False)
    runs = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        runs.append(_generator(tiny_sd).fit(upload, steps=2, rank=2).generate(1, seed=3, steps=2))
    assert np.array_equal(runs[0][0].image, runs[1][0].image)


def test_conditioning_scale_multiplies_the_controlnet_residuals(tiny_sd, tmp_path):
    """The fixture's ControlNet is freshly zero-initialised (no residual at any scale);
    with non-zero output convolutions, scale 0 must give its images and scale 1 others."""
    controlnet = ControlNetModel.from_pretrained(tiny_sd / "controlnet")
    torch.manual_seed(1)
    with torch.no_grad():
        for conv in [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block]:
            conv.weight.normal_(0.0, 0.5)
    controlnet.save_pretrained(tmp_path / "trained")
    upload = Sanitizer().sanitize(_references(), "target=L1", progress=False)
    zero = _generator(tiny_sd).fit(upload).generate(2, seed=3, steps=2)
    trained = DiffusionGenerator.from_pretrained(
        tiny_sd / "sd", controlnet=tmp_path / "trained", device="cpu", progress=False,
        batch_size=3).fit(upload)
    off, on = (trained.generate(2, seed=3, steps=2, conditioning_scale=s) for s in (0.0, 1.0))
    assert all(np.array_equal(a.foreground, b.foreground) for a, b in zip(zero, off, strict=True))
    assert not np.array_equal(off[0].foreground, on[0].foreground)
    assert on[0].provenance["conditioning_scale"] == 1.0
    with pytest.raises(ValueError, match="conditioning_scale"):
        trained.generate(1, conditioning_scale=-1.0)
