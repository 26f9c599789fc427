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
from spinml.estimator import NotFittedError
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
                                              device="cpu", progress=False, sample_batch_size=3,
                                              **settings)


@pytest.mark.parametrize("policy", ["target=L2,background=L1", "target=L1,background=L0",
                                    "target=L0,background=L2"])
def test_fit_generate_save_load(tiny_sd, tmp_path, policy):
    upload = Sanitizer().sanitize(_references(), policy, progress=False)
    generator = _generator(tiny_sd, lora_steps=2, lora_rank=2, lora_batch_size=2,
                           sample_steps=2)
    assert generator.fit(upload) is generator
    synthetic = generator.generate(n_per_class=3, seed=7)
    assert isinstance(synthetic, SyntheticSet) and len(synthetic) == 6
    assert synthetic.classes == ("sleeping", "eating")
    first = synthetic[0]
    assert first.image.shape == (24, 24, 3) and first.mask.shape == (24, 24)
    assert np.array_equal(first.image[first.mask], first.foreground[first.mask])
    assert first.provenance["scheme"] == upload.scheme
    assert first.provenance["target"]["level"] == policy.split(",")[0][-2:]
    again = generator.generate(3, seed=7)
    for a, b in zip(synthetic, again, strict=True):
        assert np.array_equal(a.image, b.image)
    folder = generator.save(tmp_path / "gen")
    assert not list(folder.rglob("diffusion_pytorch_model*"))
    loaded = DiffusionGenerator.load(folder, device="cpu", progress=False)
    assert loaded.get_params() == {**generator.get_params(), "path": str(tiny_sd / "sd"),
                                   "controlnet": str(tiny_sd / "controlnet")}
    for a, b in zip(synthetic, loaded.generate(3, seed=7), strict=True):
        assert np.abs(a.image.astype(int) - b.image.astype(int)).max() <= 1


def test_adapter_changes_what_l2_generates(tiny_sd):
    upload = Sanitizer().sanitize(_references(), "target=L2", progress=False)
    base = _generator(tiny_sd, sample_steps=2).fit(
        Sanitizer().sanitize(_references(), "", progress=False))
    tuned = _generator(tiny_sd, lora_steps=5, lora_lr=1e-2, lora_rank=2, sample_steps=2).fit(upload)
    a, b = base.generate(2, seed=1), tuned.generate(2, seed=1)
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
        _generator(tiny_sd, lora_steps=2, lora_rank=2, sample_steps=2).fit(upload).generate(1)
    finally:
        watching[0] = False
    assert any(p.startswith(str(tiny_sd / "sd")) for p in opened), "the hook saw no model file"
    allowed = (str(tiny_sd), sys.prefix, sys.base_prefix, "/proc", "/sys", "/dev")
    outside = [p for p in opened if not p.startswith(allowed)]
    assert not outside, f"the generator opened {outside}"


def test_loading_is_quiet_without_progress(tiny_sd, capsys):
    """Under ``progress=False`` (pool workers, papermill) loading prints no bar of
    diffusers or transformers and no safety-checker warning, and their process-wide
    bar switches are left as they were."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    libraries = (diffusers_logging, transformers_logging)
    assert all(lib.is_progress_bar_enabled() for lib in libraries)
    _generator(tiny_sd)
    assert capsys.readouterr().err == ""
    assert all(lib.is_progress_bar_enabled() for lib in libraries)
    DiffusionGenerator.from_pretrained(tiny_sd / "sd", device="cpu", progress=True)
    assert "Loading pipeline components" in capsys.readouterr().err


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
    with pytest.raises(NotFittedError, match="fit"):
        no_controlnet.generate(1)
    with pytest.raises(NotFittedError, match="fit"):
        no_controlnet.save(tmp_path / "unfitted")
    no_controlnet.set_params(lora_steps=1, lora_rank=2).fit(upload)
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
        generator = _generator(tiny_sd, lora_steps=2, lora_rank=2, sample_steps=2)
        runs.append(generator.fit(upload).generate(1, seed=3))
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
    zero = _generator(tiny_sd, sample_steps=2).fit(upload).generate(2, seed=3)
    trained = DiffusionGenerator.from_pretrained(
        tiny_sd / "sd", controlnet=tmp_path / "trained", device="cpu", progress=False,
        sample_batch_size=3, sample_steps=2).fit(upload)
    off, on = (trained.set_params(conditioning_scale=s).generate(2, seed=3) for s in (0.0, 1.0))
    assert all(np.array_equal(a.foreground, b.foreground) for a, b in zip(zero, off, strict=True))
    assert not np.array_equal(off[0].foreground, on[0].foreground)
    assert on[0].provenance["conditioning_scale"] == 1.0
    with pytest.raises(ValueError, match="conditioning_scale"):
        trained.set_params(conditioning_scale=-1.0)


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("lora_steps", 0, "lora_steps must be a positive integer"),
    ("lora_lr", -1.0, "lora_lr must be a positive number"),
    ("lora_rank", 2.5, "lora_rank must be a positive integer"),
    ("lora_batch_size", 0, "lora_batch_size must be a positive integer"),
    ("lora_seed", -1, "lora_seed must be a non-negative integer"),
    ("prior_preservation", 1, "prior_preservation must be True or False"),
    ("prior_weight", 0.0, "prior_weight must be a positive number"),
    ("sample_steps", 0, "sample_steps must be a positive integer"),
    ("guidance", 0.5, r"guidance must be in \[1, inf\)"),
    ("conditioning_scale", float("nan"), "conditioning_scale must be a number >= 0"),
    ("sample_batch_size", -2, "sample_batch_size must be a positive integer"),
    ("mask_threshold", 300, r"mask_threshold must be in \[0, 255\)"),
    ("dtype", "float16", "dtype must be a torch.dtype"),
])
def test_settings_are_checked_in_the_constructor_and_set_params(tiny_sd, setting, value,
                                                                message):
    with pytest.raises((ValueError, TypeError), match=message):
        DiffusionGenerator(tiny_sd / "sd", **{setting: value})
    generator = DiffusionGenerator(tiny_sd / "sd")
    with pytest.raises((ValueError, TypeError), match=message):
        generator.set_params(**{setting: value})
    assert generator.get_params() == DiffusionGenerator(tiny_sd / "sd").get_params()


def test_settings_round_trip(tiny_sd):
    generator = DiffusionGenerator(tiny_sd / "sd", lora_steps=7, sample_steps=3, guidance=2.0)
    params = generator.get_params()
    assert params["lora_steps"] == 7 and params["sample_steps"] == 3
    assert DiffusionGenerator(**params).get_params() == params
    assert generator.set_params(lora_rank=4) is generator and generator.lora_rank == 4
    with pytest.raises(ValueError, match=r"unknown DiffusionGenerator settings \['steps'\]"):
        generator.set_params(steps=3)
    assert not [k for k in vars(generator) if k.endswith("_")]


def test_fitted_state_ends_in_underscore(tiny_sd):
    upload = Sanitizer().sanitize(_references(), "target=L2,background=L1", progress=False)
    generator = _generator(tiny_sd, lora_steps=1, lora_rank=2)
    loaded = set(vars(generator))
    generator.fit(upload)
    learned = set(vars(generator)) - loaded
    assert learned == {"adapters_", "levels_", "conditions_", "classes_", "scheme_"}
    assert set(generator.get_params()) == loaded - {k for k in loaded if k.endswith("_")}


def test_old_call_forms_warn_and_give_the_same_images(tiny_sd):
    upload = Sanitizer().sanitize(_references(), "target=L2,background=L1", progress=False)
    new = _generator(tiny_sd, lora_steps=2, lora_rank=2, lora_seed=5, sample_steps=2)
    images = new.fit(upload).generate(2, seed=1)
    with pytest.warns(DeprecationWarning, match="batch_size -> sample_batch_size"):
        old = DiffusionGenerator.from_pretrained(tiny_sd / "sd", controlnet=tiny_sd / "controlnet",
                                                 device="cpu", progress=False, batch_size=3)
    with pytest.warns(DeprecationWarning, match="steps -> lora_steps"):
        old.fit(upload, steps=2, rank=2, seed=5)
    assert old.lora_steps == 2 and old.lora_seed == 5
    with pytest.warns(DeprecationWarning, match="steps -> sample_steps"):
        again = old.generate(2, seed=1, steps=2)
    assert old.sample_steps == 20  # an old generate() argument holds for that call only
    assert all(np.array_equal(a.image, b.image) for a, b in zip(images, again, strict=True))
    with pytest.raises(TypeError, match=r"unexpected arguments \['rnk'\]"):
        old.fit(upload, rnk=2)
