"""Trainer.fit and the diffusion generator's LoRA fit, in one process or under
``accelerate launch``; the main process writes the weights to OUT (safetensors).

    python tests/train/multiprocess_fit.py OUT --batch-size 16
    accelerate launch --num_processes 2 --cpu tests/train/multiprocess_fit.py OUT --batch-size 8

The classifier has no BatchNorm and trains without augmentation, so the two
ways differ only in how the per-process gradients are summed (see
tests/train/test_multiprocess.py).
"""

import argparse

import accelerate
import numpy as np
import torch
from peft.utils import get_peft_model_state_dict
from safetensors.torch import save_file
from torch import nn

from spinml import Sanitizer, SharingPolicy
from spinml.data import miniworld
from spinml.generate import DiffusionGenerator
from spinml.train import Trainer


def small_net() -> nn.Module:
    """Conv, ReLU, mean over pixels, linear: no BatchNorm, no dropout."""
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 4))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--batch-size", type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (72, 8, 8, 3), dtype=np.uint8)
    y = np.arange(72) % 4
    torch.manual_seed(0)
    trainer = Trainer(arch=small_net(), epochs=2, lr=1e-2, batch_size=args.batch_size,
                      val_fraction=1 / 9, augment=False, color_jitter=0.0, seed=0,
                      progress=False).fit((X, y, ("a", "b", "c", "d")))
    weights = {f"trainer.{k}": v.contiguous() for k, v in
               trainer.model_.module_.state_dict().items()}

    references, _ = miniworld.user(0, n_ref=1, n_test=0, size=32)
    upload = Sanitizer().sanitize(references, SharingPolicy("target=L2,background=L0"),
                                  progress=False)
    generator = DiffusionGenerator.from_zoo(lora_steps=4, lora_seed=0, progress=False).fit(upload)
    for stream in generator.adapters_:
        state = get_peft_model_state_dict(generator.pipe_.unet, adapter_name=stream)
        weights.update({f"lora.{stream}.{k}": v.contiguous() for k, v in state.items()})
    state = accelerate.PartialState()
    if state.is_main_process:
        save_file(weights, args.out, metadata={"processes": str(state.num_processes)})


if __name__ == "__main__":
    main()
