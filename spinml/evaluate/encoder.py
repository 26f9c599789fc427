"""Image encoders for SIM and memorisation distances: any local ``transformers``
folder whose model has ``get_image_features`` (CLIP, BLIP-2, the bundled zoo encoder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from spinml.progress import loading_bars

__all__ = ["ImageEncoder"]


class ImageEncoder:
    """``embed(images) -> (N, D)`` unit vectors: ``e = f(x) / ||f(x)||_2`` with ``f`` the
    model's ``get_image_features`` (its pooled, projected output).

    ``path=None`` loads the bundled zoo encoder after checking its hashes;
    ``progress=False`` hides transformers' loading bar.
    """

    def __init__(self, path: str | Path | None = None, *, device: str | None = None,
                 batch_size: int = 64, progress: bool = True) -> None:
        from transformers import AutoImageProcessor, AutoModel
        from transformers.utils import logging as transformers_logging

        if path is None:
            from spinml.zoo import zoo_path

            path = zoo_path("encoder")
        self.path = Path(path)
        if not (self.path / "config.json").is_file():
            raise FileNotFoundError(f"encoder folder {self.path} has no config.json: "
                                    "expected a local transformers model folder")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.device = torch.device(device or "cpu")
        with loading_bars(progress, transformers_logging):
            self.model = AutoModel.from_pretrained(self.path, local_files_only=True)
        self.model.to(self.device)
        if not hasattr(self.model, "get_image_features"):
            raise ValueError(f"encoder folder {self.path} holds a "
                             f"{type(self.model).__name__}, which has no get_image_features")
        self.model.eval()
        self.processor = AutoImageProcessor.from_pretrained(self.path, local_files_only=True)

    @torch.no_grad()
    def embed(self, images: np.ndarray) -> np.ndarray:
        """Unit-norm float32 embeddings of uint8 ``(N, H, W, 3)`` images."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be (N, H, W, 3), got {images.shape}")
        out = []
        for i in range(0, len(images), self.batch_size):
            inputs = self.processor(images=list(images[i:i + self.batch_size]),
                                    return_tensors="pt").to(self.device)
            features = self.model.get_image_features(**inputs)
            if not isinstance(features, torch.Tensor):
                features = features.pooler_output
            out.append(F.normalize(features.float(), dim=-1).cpu().numpy())
        if not out:
            return np.zeros((0, 0), np.float32)
        return np.concatenate(out)

    def __repr__(self) -> str:
        return f"ImageEncoder({str(self.path)!r})"
