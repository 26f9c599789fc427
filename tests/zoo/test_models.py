"""The zoo's model constructors: standard classes whose sizes follow the recipe."""

import torch

from spinml.zoo import models
from spinml.zoo.config import ZooConfig
from spinml.zoo.tokenizer import build_tokenizer


def test_shapes_follow_the_recipe(tmp_path):
    cfg = ZooConfig.tiny()                   # 16 px, VAE channels (8, 16): latents 8 x 8
    assert cfg.vae_factor == 2
    torch.manual_seed(0)
    vae = models.make_vae(cfg)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    z = vae.encode(x).latent_dist.mean
    assert z.shape == (2, cfg.latent_channels, 8, 8)
    assert vae.decode(z).sample.shape == x.shape
    tokenizer = build_tokenizer(["a", "photo", "creature"], tmp_path / "tok", cfg.max_tokens)
    clip = models.make_clip(cfg, tokenizer)
    ids = tokenizer(["a photo"], padding="max_length", max_length=cfg.max_tokens,
                    return_tensors="pt").input_ids
    assert clip.get_text_features(ids).pooler_output.shape == (1, cfg.projection_dim)
    assert clip.get_image_features(torch.rand(1, 3, 16, 16)).pooler_output.shape == (
        1, cfg.projection_dim)
    text = models.text_encoder_of(clip)
    context = text(ids).last_hidden_state
    torch.testing.assert_close(context, clip.text_model(ids).last_hidden_state)
    assert context.shape == (1, cfg.max_tokens, cfg.text_width)
    unet = models.make_unet(cfg)
    t = torch.tensor([10])
    assert unet(z[:1], t, context).sample.shape == z[:1].shape
    controlnet = models.make_controlnet(unet, cfg)
    down, mid = controlnet(z[:1], t, context, controlnet_cond=torch.rand(1, 3, 16, 16),
                           return_dict=False)
    # one residual for conv_in, each resnet and each downsampler
    assert len(down) == len(unet.down_blocks) * (cfg.unet_layers + 1)
    assert mid.shape[1] == cfg.unet_channels[-1]


def test_scheduler_is_stable_diffusions_schedule():
    scheduler = models.make_scheduler()
    assert scheduler.config.num_train_timesteps == 1000
    assert scheduler.config.beta_schedule == "scaled_linear"
    assert abs(float(scheduler.betas[0]) - 0.00085) < 1e-9
    assert abs(float(scheduler.betas[-1]) - 0.012) < 1e-8
