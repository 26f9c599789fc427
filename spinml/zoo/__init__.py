"""The bundled zoo: tiny models pre-trained on the public mini-world, in standard folders.

- ``sd/``: a diffusers Stable-Diffusion folder (VAE, UNet, CLIP text encoder,
  tokenizer, scheduler); ``StableDiffusionPipeline.from_pretrained`` loads it.
- ``controlnet-canny/``: a ``ControlNetModel`` conditioned on Canny maps.
- ``encoder/``: a ``transformers`` CLIP whose ``get_image_features`` embeds
  images for the SIM metric and memorisation distances.
- ``backbone/``: a classifier of the task's activities pre-trained on public
  renders (a saved :class:`~spinml.train.TrainedModel`), the start of
  ``Trainer(init="miniworld")``; :func:`build_backbone` trains it alone.

:func:`zoo_path` returns a part's folder after checking every file's SHA-256
against ``manifest.json``; :func:`build` retrains everything.
"""

from spinml.zoo.backbone import BackboneConfig, build_backbone
from spinml.zoo.build import build
from spinml.zoo.config import ZooConfig
from spinml.zoo.manifest import PARTS, ZOO_DIR, ZooIntegrityError, verify, zoo_path

__all__ = ["ZooConfig", "ZOO_DIR", "PARTS", "ZooIntegrityError", "verify", "zoo_path", "build",
           "BackboneConfig", "build_backbone"]
