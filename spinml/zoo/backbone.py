"""The zoo's backbone: a classifier pre-trained on the public mini-world (its "ImageNet").

``spinml zoo build --only backbone`` trains it and adds ``backbone/`` (a saved
:class:`~spinml.train.TrainedModel`: ``model.safetensors`` + ``config.json``)
and its hashes to the zoo's manifest, leaving every other part's files as
they are. It learns the task's activities from ``4 * n_per_class`` renders
of public pets in public rooms (:func:`spinml.data.miniworld.public`): never
a private user's pet or room. ``Trainer(init="miniworld")`` fine-tunes it.

The stage is resumable as a whole: the trained model is written atomically to
``work/backbone/final`` and a later build with the same settings loads it
instead of training again.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from spinml.io import atomic_write_text
from spinml.zoo.manifest import MANIFEST, ZOO_DIR, sha256, verify

__all__ = ["BACKBONE", "BackboneConfig", "build_backbone"]

BACKBONE = "backbone"
"""The backbone's part (folder) in the zoo."""


@dataclass(frozen=True)
class BackboneConfig:
    """Settings of the backbone stage: ``n_per_class`` public renders per activity
    at ``image_size`` px (seed ``seed``), then :class:`~spinml.train.Trainer`
    with ``arch``, ``epochs``, ``batch_size``, Adam at ``lr``, colour jitter
    ``color_jitter``, the same seed. Chosen by the probes in
    ``benchmarks/utility.py``'s docstring."""

    seed: int = 0
    image_size: int = 32
    n_per_class: int = 500
    arch: str = "resnet20"
    epochs: int = 15
    batch_size: int = 64
    lr: float = 1e-3
    color_jitter: float = 0.25

    @classmethod
    def tiny(cls, **changes: object) -> BackboneConfig:
        """A seconds-long recipe for tests."""
        return cls(**{"image_size": 16, "n_per_class": 6, "epochs": 1, "batch_size": 8,
                      **changes})

    def __post_init__(self) -> None:
        for name in ("image_size", "n_per_class", "epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"BackboneConfig.{name} must be a positive integer, "
                                 f"got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"BackboneConfig.lr must be > 0, got {self.lr!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _train(cfg: BackboneConfig, work: Path, progress: bool):
    """The backbone, trained into ``work/backbone/final`` once and loaded from there."""
    from spinml.data import miniworld
    from spinml.train import TrainedModel, Trainer

    folder = work / BACKBONE
    folder.mkdir(parents=True, exist_ok=True)
    settings = json.dumps(cfg.to_dict(), sort_keys=True)
    saved = folder / "config.json"
    if saved.is_file() and saved.read_text() != settings:
        raise ValueError(f"work folder {folder} holds a backbone with other settings: "
                         "use another --work folder or delete it")
    atomic_write_text(saved, settings)
    final = folder / "final"
    if not (final / "model.safetensors").is_file():
        public = miniworld.public(cfg.n_per_class, seed=cfg.seed, size=cfg.image_size,
                                  progress=progress)
        trainer = Trainer(arch=cfg.arch, epochs=cfg.epochs, batch_size=cfg.batch_size,
                          lr=cfg.lr, color_jitter=cfg.color_jitter, seed=cfg.seed,
                          device="cpu", progress=progress)
        trainer.fit(public).save(final, overwrite=True)
    return TrainedModel.load(final)


def build_backbone(out: str | Path = ZOO_DIR, *, config: BackboneConfig | None = None,
                   work: str | Path = ".zoo-build", progress: bool = True) -> dict:
    """Train (or resume) the backbone, write ``out/backbone/`` and add its files'
    SHA-256 and its settings to ``out/manifest.json``; return the manifest.

    The other parts of ``out`` must match the manifest before (checked by
    :func:`~spinml.zoo.verify`) and are not touched.
    """
    cfg = config or BackboneConfig()
    out, work = Path(out), Path(work)
    manifest = verify(out)
    model = _train(cfg, work, progress)
    model.save(out / BACKBONE, overwrite=True)
    files = {rel: digest for rel, digest in manifest["files"].items()
             if not rel.startswith(f"{BACKBONE}/")}
    for path in sorted((out / BACKBONE).rglob("*")):
        if path.is_file():
            files[path.relative_to(out).as_posix()] = sha256(path)
    best = model.history_[model.best_epoch_ - 1]
    manifest = {**manifest, "files": files,
                BACKBONE: {"settings": cfg.to_dict(),
                           "metrics": {"images": 4 * cfg.n_per_class,
                                       "best_epoch": model.best_epoch_,
                                       "val_accuracy": best["val_accuracy"],
                                       "seconds": round(sum(h["seconds"]
                                                            for h in model.history_), 1)}}}
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1))
    verify(out)
    return manifest
