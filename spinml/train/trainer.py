"""Training the specialised model: the SpinML paper's protocol, through HF Accelerate.

The protocol (section "Tasks and training" of the paper): Adam, learning rate
1e-3, cross-entropy, 5 epochs, batch 128; the synthetic set is split 90/10
into train and validation, and the weights of the epoch with the best
validation accuracy are kept. The model is then tested on real images::

    trainer = Trainer(arch="mobilenet_v2", epochs=5).fit(synthetic)
    trainer.score(real_test_set)          # accuracy in [0, 1]
    trainer.save("runs/L2_L0/model")      # model.safetensors + config.json
    model = TrainedModel.load("runs/L2_L0/model")

Training goes through :class:`accelerate.Accelerator`, so the same code runs
on the CPU, on one GPU, or on several under ``accelerate launch``.
With the same ``seed`` a CPU run gives bitwise the same weights.
"""

from __future__ import annotations

import copy
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import accelerate
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from spinml import checks
from spinml.estimator import Estimator
from spinml.image import nhwc_to_nchw, to_unit_range
from spinml.io import atomic_dir, library_versions, read_manifest
from spinml.seeding import derive_seeds
from spinml.train.architectures import ARCHITECTURES, build_model
from spinml.train.pretrained import check_init, describe_init, resolve_init

__all__ = ["Trainer", "TrainedModel", "random_crop_flip", "random_color"]


class LabelledImages(Protocol):
    """What the Trainer reads from a data set (``ReferenceSet``, ``SyntheticSet``)."""

    classes: tuple[str, ...]

    def __len__(self) -> int: ...

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]: ...


Data = LabelledImages | tuple[np.ndarray, np.ndarray, Sequence[str]]
"""A data set, or a tuple ``(X, y, classes)``: ``X`` uint8 ``(N, H, W, 3)``, ``y``
integer class indices into ``classes``."""

_CONFIG = "config.json"
_WEIGHTS = "model.safetensors"
_FORMAT = "spinml.trained_model"
_VERSION = 1
_DEVICES = (None, "cpu", "cuda")
_NORM_IMAGES = 128
"""Training images over which BatchNorm statistics are recomputed before each
evaluation (:func:`_recompute_batch_norm`): on 1,000 mini-world images, 128, 256,
512 or all of them gave the same test accuracy within 2.5 points, and one batch
costs a third of a training step."""


# --------------------------------------------------------------------------- data


def _as_arrays(data: Data, name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``(X, y, classes)`` of a data set, checked: X uint8 ``(N, H, W, 3)``, y int64 in
    ``[0, len(classes))``."""
    if hasattr(data, "to_arrays") and hasattr(data, "classes"):
        if len(data) == 0:
            raise ValueError(f"{name} is empty")
        X, y = data.to_arrays()
        classes = data.classes
    elif isinstance(data, tuple) and len(data) == 3:
        X, y, classes = data
    else:
        raise TypeError(f"{name} must be a ReferenceSet, a SyntheticSet or an (X, y, classes) "
                        f"tuple, got {type(data).__name__}")
    classes = tuple(classes)
    if not classes or not all(isinstance(c, str) and c for c in classes):
        raise ValueError(f"{name}: classes must be non-empty strings, got {classes!r}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"{name}: classes {classes} contain duplicates")
    X = _check_images(X, name)
    y = np.asarray(y)
    if y.shape != (len(X),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name}: labels must be {len(X)} integers, got {y.dtype} {y.shape}")
    if len(y) and (y.min() < 0 or y.max() >= len(classes)):
        raise ValueError(f"{name}: labels must be class indices in [0, {len(classes)}), "
                         f"got values in [{y.min()}, {y.max()}]")
    return X, y.astype(np.int64), classes


def _check_images(X: object, name: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 4 or X.shape[-1] != 3 or X.dtype != np.uint8:
        raise ValueError(f"{name}: images must be uint8 RGB of shape (N, H, W, 3), "
                         f"got {X.dtype} {X.shape}")
    if len(X) == 0:
        raise ValueError(f"{name} is empty")
    return X


def random_crop_flip(images: torch.Tensor, generator: torch.Generator,
                     padding: int) -> torch.Tensor:
    """The CIFAR augmentation, batched: pad ``(N, C, H, W)`` images with
    ``padding`` zeros (black, for uint8 pixels) on each side, cut a random
    ``H x W`` window out of each (offsets uniform in ``[0, 2 * padding]``) and
    mirror it left-right with probability 1/2. One gather for the whole batch;
    random numbers come from ``generator`` (a CPU generator), so the result is
    fixed by its seed."""
    n, c, h, w = images.shape
    dy = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator)
    flip = torch.rand(n, 1, generator=generator) < 0.5
    rows = dy + torch.arange(h)
    cols = dx + torch.arange(w)
    cols = torch.where(flip, cols.flip(1), cols)
    rows, cols = rows.to(images.device), cols.to(images.device)
    padded = F.pad(images, (padding, padding, padding, padding))
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def random_color(images: torch.Tensor, generator: torch.Generator,
                 strength: float) -> torch.Tensor:
    """Colour jitter for uint8 ``(N, 3, H, W)`` images, batched: each image's
    channel ``c`` becomes ``clip(g_c p_c + b, 0, 255)`` with gains
    ``g_c = exp(strength * z_c)`` and a brightness shift ``b = 80 * strength * z``
    grey levels, ``z_c, z ~ N(0, 1)`` per image, drawn from ``generator`` (a CPU
    generator).

    A model trained on generated rooms meets the user's one real room at test
    time; varied colours keep it from keying on the rooms' colour statistics.
    """
    n = images.shape[0]
    gains = torch.exp(strength * torch.randn(n, images.shape[1], 1, 1, generator=generator))
    shift = 80.0 * strength * torch.randn(n, 1, 1, 1, generator=generator)
    out = images.float() * gains.to(images.device) + shift.to(images.device)
    return out.round().clamp(0, 255).to(torch.uint8)


class _Batches(Dataset):
    """uint8 images ``(N, 3, H, W)`` and labels ``(N,)``, read a whole batch per
    indexing operation (``__getitems__``), with no per-sample Python work."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices)
        return self.images[index], self.labels[index]


def _whole_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Collation of :class:`_Batches`: the batch is already stacked."""
    return batch


def _stratified_split(y: np.ndarray, fraction: float,
                      generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random ``(train, val)`` indices with ``max(1, round(fraction * N))`` validation
    images (none when ``fraction == 0``), each class represented in proportion.

    Images are shuffled, numbered ``r = 0, 1, ...`` within their class (of size
    ``n_c``) and taken for validation in the order of ``(r + 0.5) / n_c``.
    """
    n = len(y)
    n_val = 0 if fraction == 0 else max(1, round(fraction * n))
    if n_val >= n:
        raise ValueError(f"val_fraction={fraction} of {n} images leaves no training images")
    order = torch.randperm(n, generator=generator).numpy()
    shuffled = y[order]
    counts = np.bincount(shuffled)
    by_class = np.argsort(shuffled, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[by_class] = np.arange(n) - (np.cumsum(counts) - counts)[shuffled[by_class]]
    position = (rank + 0.5) / counts[shuffled]
    picked = order[np.argsort(position, kind="stable")]
    return np.sort(picked[n_val:]), np.sort(picked[:n_val])


@torch.inference_mode()
def _predict_logits(module: nn.Module, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Logits of uint8 ``(N, 3, H, W)`` images in eval mode, batch by batch, on the
    module's device; returned on the CPU as float32."""
    device = next(module.parameters()).device
    was_training = module.training
    module.eval()
    try:
        out = [module(to_unit_range(images[i:i + batch_size].to(device))).float().cpu()
               for i in range(0, len(images), batch_size)]
    finally:
        module.train(was_training)
    return torch.cat(out)


@torch.no_grad()
def _recompute_batch_norm(module: nn.Module, images: torch.Tensor, batch_size: int) -> None:
    """Precise BatchNorm (Wu & Johnson, 2021): set every BatchNorm layer's running
    mean and variance to their average over uint8 ``images`` ``(N, 3, H, W)``
    under the current weights (batches of ``batch_size``, no gradient, dropout off).

    During training a layer tracks them as ``r <- 0.9 r + 0.1 b`` over the last
    batches ``b``; in the few dozen Adam steps of this protocol the weights
    change faster than that average follows, and a network evaluated with it
    can fall to chance while its training accuracy is high.
    """
    norms = [layer for layer in module.modules()
             if isinstance(layer, nn.modules.batchnorm._BatchNorm) and layer.track_running_stats]
    if not norms:
        return
    device = next(module.parameters()).device
    momenta = [layer.momentum for layer in norms]
    was_training = module.training
    module.eval()
    for layer in norms:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over the batches that follow
        layer.train()
    try:
        for i in range(0, len(images), batch_size):
            module(to_unit_range(images[i:i + batch_size].to(device)))
    finally:
        for layer, momentum in zip(norms, momenta, strict=True):
            layer.momentum = momentum
        module.train(was_training)


# --------------------------------------------------------------------------- settings


def _arch_name(arch: str | nn.Module) -> str:
    """The name recorded for ``arch``: the registry key, or the module's class path."""
    if isinstance(arch, str):
        return arch
    return f"{type(arch).__module__}.{type(arch).__qualname__}"


# --------------------------------------------------------------------------- Trainer


@dataclass(frozen=True)
class _Seeds:
    """Independent seeds for each random choice of a run, derived from its one seed."""

    init: int
    split: int
    shuffle: int
    augment: int
    norm: int

    @classmethod
    def derive(cls, seed: int) -> _Seeds:
        return cls(*derive_seeds(seed, n=5))


class Trainer(Estimator):
    """Train an image classifier by the SpinML protocol.

    Parameters
    ----------
    arch
        ``"mobilenet_v2"``, ``"resnet20"`` (see :mod:`spinml.train.architectures`)
        or any ``torch.nn.Module`` mapping ``(N, 3, H, W)`` images to
        ``(N, num_classes)`` logits (a copy of it is trained, from its weights).
    epochs
        Passes over the training split.
    lr
        Adam learning rate.
    batch_size
        Images per optimisation step (per process under ``accelerate launch``).
    val_fraction
        Share of the data set held out, stratified by class, to choose the
        best epoch (``max(1, round(val_fraction * N))`` images; of epochs with
        equal validation accuracy the later one). With 0 the last epoch's
        weights are kept.
    seed
        Fixes the initial weights, the split, the shuffling, dropout and the
        augmentation: on the CPU the same seed gives bitwise the same model.
    device
        ``None``: what Accelerate picks (a GPU when there is one, the
        launcher's device under ``accelerate launch``); ``"cpu"``; ``"cuda"``
        (an error when no GPU is available). Accelerate keeps one state per
        process: after a fit on the GPU, ``"cpu"`` needs a new process.
    augment
        Random crop after black padding of ``max(1, min(H, W) // 8)`` pixels
        (4 at 32 px, 8 at 64 px) and horizontal flip, per training batch
        (:func:`random_crop_flip`).
    color_jitter
        Strength of a per-image colour jitter of the training batches
        (:func:`random_color`); 0 switches it off.
    arch_kwargs
        Passed to the architecture, e.g. ``{"width": 0.35}`` for ``mobilenet_v2``.
    init
        ``None``: random initial weights. Otherwise the pretrained network to
        fine-tune (then ``arch`` and ``arch_kwargs`` are not read): a zoo
        backbone's name (``"miniworld"``, pre-trained on the public mini-world),
        a saved :class:`TrainedModel` folder, a :class:`TrainedModel` or an
        ``nn.Module``; a new head when its classes differ from the data set's
        (:mod:`spinml.train.pretrained`).
    progress
        Show a ``tqdm`` progress bar.

    Images enter the network as ``p / 127.5 - 1`` (:func:`spinml.image.to_unit_range`), at the
    data set's size. Before each validation, and for the model returned,
    BatchNorm statistics are recomputed with the epoch's final weights over
    128 training images (precise BatchNorm, :func:`_recompute_batch_norm`):
    a short run evaluated with the running averages can fall to chance.
    ``fit`` returns the Trainer, its :class:`TrainedModel` in ``model_``;
    ``predict``, ``predict_proba``, ``score``, ``adapt`` and ``save`` are the
    model's, so ``Trainer(...).fit(data).save(folder)`` works, and
    ``TrainedModel.load(folder)`` reads it back. A new ``fit`` replaces ``model_``
    (a model taken from it earlier stays as it was), so one Trainer can serve a
    sweep.

    Under ``accelerate launch`` each process trains on its share of every
    epoch, validates on the whole validation split and returns the same
    model; save it from one process only
    (``accelerate.PartialState().is_main_process``).
    """

    def __init__(self, arch: str | nn.Module = "mobilenet_v2", epochs: int = 5,
                 lr: float = 1e-3, batch_size: int = 128, val_fraction: float = 0.1,
                 seed: int = 0, device: str | None = None, augment: bool = True,
                 color_jitter: float = 0.0, arch_kwargs: dict[str, Any] | None = None,
                 init: str | Path | nn.Module | TrainedModel | None = None,
                 progress: bool = True) -> None:
        self.arch = arch
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.seed = seed
        self.device = device
        self.augment = augment
        self.color_jitter = color_jitter
        self.arch_kwargs = arch_kwargs
        self.init = init
        self.progress = progress
        self._check_params(self.get_params())

    _PARAMS = ("arch", "epochs", "lr", "batch_size", "val_fraction", "seed", "device",
               "augment", "color_jitter", "arch_kwargs", "init", "progress")

    def _check_params(self, params: dict[str, Any]) -> None:
        """Raise a ValueError/TypeError naming the setting that ``params`` do not allow."""
        arch = params["arch"]
        if isinstance(arch, str):
            if arch not in ARCHITECTURES:
                raise ValueError(f"unknown architecture arch={arch!r}; "
                                 f"known: {sorted(ARCHITECTURES)} or an nn.Module")
        elif not isinstance(arch, nn.Module):
            raise TypeError(f"arch must be an architecture name {sorted(ARCHITECTURES)} or a "
                            f"torch.nn.Module, got {type(arch).__name__}")
        checks.positive_int(params["epochs"], "epochs")
        checks.positive_int(params["batch_size"], "batch_size")
        checks.positive_number(params["lr"], "lr")
        checks.non_negative_number(params["color_jitter"], "color_jitter")
        checks.in_interval(params["val_fraction"], "val_fraction", 0, 1, "[)")
        checks.non_negative_int(params["seed"], "seed")
        checks.one_of(params["device"], "device", _DEVICES)
        checks.boolean(params["augment"], "augment")
        checks.boolean(params["progress"], "progress")
        if params["arch_kwargs"] is not None and not isinstance(params["arch_kwargs"], dict):
            raise TypeError(f"arch_kwargs must be a dict or None, "
                            f"got {type(params['arch_kwargs']).__name__}")
        check_init(params["init"])

    def _record(self) -> dict[str, Any]:
        """The settings as JSON-friendly values (a module becomes its class path)."""
        return {**self.get_params(), "arch": _arch_name(self.arch),
                "arch_kwargs": dict(self.arch_kwargs or {}), "init": describe_init(self.init)}

    def fit(self, dataset: Data, val: Data | None = None) -> Trainer:
        """Train on ``dataset``; the best-validation :class:`TrainedModel` goes to
        ``model_``. Returns the Trainer.

        Without ``val``, a stratified ``val_fraction`` of ``dataset`` is held
        out for validation; with ``val`` (same classes, same image size) all of
        ``dataset`` trains and ``val`` validates.
        """
        self._check_params(self.get_params())
        X, y, classes = _as_arrays(dataset, "dataset")
        if len(classes) < 2:
            raise ValueError(f"dataset has a single class {classes}: nothing to learn")
        seeds = _Seeds.derive(self.seed)
        if val is None:
            train_idx, val_idx = _stratified_split(
                y, self.val_fraction, torch.Generator().manual_seed(seeds.split))
            X_val, y_val = X[val_idx], y[val_idx]
            X, y = X[train_idx], y[train_idx]
        else:
            X_val, y_val, val_classes = _as_arrays(val, "val")
            y_val = _remap(y_val, val_classes, classes, "val", "dataset")
            if X_val.shape[1:] != X.shape[1:]:
                raise ValueError(f"val images are {X_val.shape[2]}x{X_val.shape[1]}, "
                                 f"dataset images are {X.shape[2]}x{X.shape[1]}")

        accelerator = accelerate.Accelerator(cpu=self.device == "cpu")
        if self.device == "cuda" and accelerator.device.type != "cuda":
            raise RuntimeError("device='cuda' but no CUDA GPU is available")
        forked = [accelerator.device.index or 0] if accelerator.device.type == "cuda" else []
        with torch.random.fork_rng(devices=forked):
            torch.manual_seed(seeds.init)  # initial weights, then dropout
            self.model_ = self._train(accelerator, (X, y), (X_val, y_val), classes, seeds)
        return self

    @property
    def classes_(self) -> tuple[str, ...]:
        """The fitted model's classes (:attr:`TrainedModel.classes_`)."""
        return self._fitted("model_").classes_

    def predict(self, data: Data | np.ndarray, batch_size: int = 256) -> np.ndarray:
        """:meth:`TrainedModel.predict` of ``model_``."""
        return self._fitted("model_").predict(data, batch_size)

    def predict_proba(self, data: Data | np.ndarray, batch_size: int = 256) -> np.ndarray:
        """:meth:`TrainedModel.predict_proba` of ``model_``."""
        return self._fitted("model_").predict_proba(data, batch_size)

    def score(self, dataset: Data, batch_size: int = 256) -> float:
        """:meth:`TrainedModel.score` of ``model_``: accuracy on ``dataset``."""
        return self._fitted("model_").score(dataset, batch_size)

    def adapt(self, data: Data | np.ndarray, batch_size: int = 256) -> TrainedModel:
        """:meth:`TrainedModel.adapt` of ``model_``: an adapted copy of the model."""
        return self._fitted("model_").adapt(data, batch_size)

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """:meth:`TrainedModel.save` of ``model_``; :meth:`TrainedModel.load` reads it."""
        return self._fitted("model_").save(folder, overwrite=overwrite)

    def export(self, path: str | Path, format: str = "onnx", *,
               calibration: Data | np.ndarray | None = None, overwrite: bool = False) -> Path:
        """:meth:`TrainedModel.export` of ``model_``: the model in a device format."""
        from spinml.train.export import trained_model

        return trained_model(self).export(path, format, calibration=calibration,
                                          overwrite=overwrite)

    def _train(self, accelerator: accelerate.Accelerator, train: tuple[np.ndarray, np.ndarray],
               val: tuple[np.ndarray, np.ndarray], classes: tuple[str, ...],
               seeds: _Seeds) -> TrainedModel:
        (X, y), (X_val, y_val) = train, val
        image_size = (int(X.shape[1]), int(X.shape[2]))
        arch, arch_kwargs = _arch_name(self.arch), dict(self.arch_kwargs or {})
        if self.init is not None:
            start = resolve_init(self.init, classes)
            module, arch, arch_kwargs = start.module, start.arch, start.arch_kwargs
        elif isinstance(self.arch, nn.Module):
            module = copy.deepcopy(self.arch)
        else:
            module = build_model(self.arch, len(classes), min(image_size), **arch_kwargs)
        optimizer = torch.optim.Adam(module.parameters(), lr=self.lr)
        loader = DataLoader(_Batches(nhwc_to_nchw(X), torch.from_numpy(y)),
                            batch_size=self.batch_size, shuffle=True, collate_fn=_whole_batch,
                            generator=torch.Generator().manual_seed(seeds.shuffle))
        model, optimizer, loader = accelerator.prepare(module, optimizer, loader)
        augment_generator = torch.Generator().manual_seed(seeds.augment)
        norm_pick = torch.randperm(len(y), generator=torch.Generator().manual_seed(seeds.norm))
        norm_images = nhwc_to_nchw(X[np.sort(norm_pick[:_NORM_IMAGES].numpy())])
        images_val, labels_val = nhwc_to_nchw(X_val), torch.from_numpy(y_val)

        history: list[dict[str, Any]] = []
        best_accuracy, best_epoch, best_state = -1.0, self.epochs, None
        bar = tqdm(total=self.epochs * len(loader), desc="training", unit="batch",
                   disable=not self.progress or not accelerator.is_local_main_process)
        for epoch in range(1, self.epochs + 1):
            start = time.perf_counter()
            loss, accuracy = self._train_epoch(accelerator, model, optimizer, loader,
                                               augment_generator, len(classes), bar)
            record = {"epoch": epoch, "train_loss": loss, "train_accuracy": accuracy,
                      "val_accuracy": None}
            if len(y_val):
                unwrapped = accelerator.unwrap_model(model)
                _recompute_batch_norm(unwrapped, norm_images, self.batch_size)
                predicted = _predict_logits(unwrapped, images_val, self.batch_size).argmax(1)
                record["val_accuracy"] = (predicted == labels_val).double().mean().item()
                if record["val_accuracy"] >= best_accuracy:
                    best_accuracy, best_epoch = record["val_accuracy"], epoch
                    best_state = {k: v.detach().clone() for k, v in unwrapped.state_dict().items()}
            record["seconds"] = time.perf_counter() - start
            history.append(record)
            bar.set_postfix(epoch=epoch, loss=f"{loss:.3f}", val_acc=record["val_accuracy"])
        bar.close()

        module = accelerator.unwrap_model(model)
        if best_state is None:
            _recompute_batch_norm(module, norm_images, self.batch_size)
        else:
            module.load_state_dict(best_state)
        module.eval()
        return TrainedModel(module, classes, image_size, arch=arch,
                            arch_kwargs=arch_kwargs, params=self._record(),
                            history=history, best_epoch=best_epoch)

    def _train_epoch(self, accelerator: accelerate.Accelerator, model: nn.Module,
                     optimizer: torch.optim.Optimizer, loader: DataLoader,
                     augment_generator: torch.Generator, num_classes: int,
                     bar: tqdm) -> tuple[float, float]:
        """One pass over ``loader``; returns the mean cross-entropy (nats) and the
        accuracy on the (augmented) training batches, summed over all processes."""
        model.train()
        loss_sum = torch.zeros((), device=accelerator.device)
        correct = torch.zeros((), device=accelerator.device)
        seen = 0
        for images, labels in loader:
            if self.augment:
                images = random_crop_flip(images, augment_generator,
                                          max(1, min(images.shape[-2:]) // 8))
            if self.color_jitter:
                images = random_color(images, augment_generator, self.color_jitter)
            logits = model(to_unit_range(images))
            if logits.ndim != 2 or logits.shape[1] != num_classes:
                raise ValueError(f"the model returns logits of shape {tuple(logits.shape)}; "
                                 f"expected (batch, {num_classes}), one per class")
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            accelerator.backward(loss)
            optimizer.step()
            loss_sum += loss.detach() * len(labels)
            correct += (logits.detach().argmax(1) == labels).sum()
            seen += len(labels)
            bar.update()
        totals = torch.stack([loss_sum, correct, torch.tensor(float(seen), device=loss_sum.device)])
        loss_total, correct_total, seen_total = accelerator.reduce(totals, "sum").tolist()
        return loss_total / seen_total, correct_total / seen_total


def _remap(y: np.ndarray, classes: tuple[str, ...], target: tuple[str, ...],
           name: str, target_name: str) -> np.ndarray:
    """Class indices into ``classes`` -> indices into ``target`` (same names, any order)."""
    if set(classes) != set(target):
        raise ValueError(f"{name} has classes {list(classes)} but {target_name} has classes "
                         f"{list(target)}: they must be the same")
    return np.array([target.index(c) for c in classes], dtype=np.int64)[y]


# --------------------------------------------------------------------------- TrainedModel


class TrainedModel:
    """A trained classifier: the network, its classes and how it was trained.

    ``predict`` returns class indices into ``classes_`` (the form of the ``y``
    that ``to_arrays()`` gives); ``classes_[i]`` is the name. Inputs are images
    at the training size ``image_size_`` (``H, W``), as a data set or a uint8
    array ``(N, H, W, 3)``.

    Attributes: ``module_`` (the ``nn.Module``, in eval mode), ``classes_``,
    ``image_size_``, ``history_`` (one dict per epoch: ``train_loss`` (mean
    cross-entropy, nats), ``train_accuracy`` (on augmented batches),
    ``val_accuracy`` (None without validation), ``seconds``), ``best_epoch_``
    (the epoch whose weights were kept), and the settings ``arch``,
    ``arch_kwargs``, ``params`` (the Trainer's).
    """

    def __init__(self, module: nn.Module, classes: tuple[str, ...], image_size: tuple[int, int],
                 *, arch: str, arch_kwargs: dict[str, Any], params: dict[str, Any],
                 history: list[dict[str, Any]], best_epoch: int) -> None:
        self.module_ = module
        self.classes_ = tuple(classes)
        self.image_size_ = (int(image_size[0]), int(image_size[1]))
        self.arch = arch
        self.arch_kwargs = arch_kwargs
        self.params = params
        self.history_ = history
        self.best_epoch_ = best_epoch

    def __repr__(self) -> str:
        return (f"TrainedModel(arch={self.arch!r}, classes={list(self.classes_)}, "
                f"image_size={self.image_size_}, best_epoch={self.best_epoch_})")

    def _images(self, data: Data | np.ndarray) -> torch.Tensor:
        if isinstance(data, np.ndarray) or torch.is_tensor(data):
            X = np.asarray(data)
            X = _check_images(X[None] if X.ndim == 3 else X, "images")
        else:
            X = _as_arrays(data, "data")[0]
        if X.shape[1:3] != self.image_size_:
            raise ValueError(f"images are {X.shape[2]}x{X.shape[1]} pixels; the model was "
                             f"trained on {self.image_size_[1]}x{self.image_size_[0]}")
        return nhwc_to_nchw(X)

    def predict_proba(self, data: Data | np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Softmax class probabilities, float32 ``(N, len(classes_))``."""
        logits = _predict_logits(self.module_, self._images(data), batch_size)
        return torch.softmax(logits, 1).numpy()

    def predict(self, data: Data | np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The most probable class of each image: int64 indices into ``classes_``."""
        logits = _predict_logits(self.module_, self._images(data), batch_size)
        return logits.argmax(1).numpy()

    def score(self, dataset: Data, batch_size: int = 256) -> float:
        """Accuracy on ``dataset``: the fraction of images whose predicted class is
        their label. Its classes must be the training classes (any order)."""
        X, y, classes = _as_arrays(dataset, "test set")
        y = _remap(y, classes, self.classes_, "test set", "the training set")
        return float(np.mean(self.predict(X, batch_size) == y))

    def adapt(self, data: Data | np.ndarray, batch_size: int = 256) -> TrainedModel:
        """A copy whose BatchNorm running statistics are those of ``data``'s images
        (AdaBN, Li et al., 2017): each layer's running mean and unbiased variance
        become those of its input over N, H, W, averaged over batches of
        ``batch_size``. Labels are not read, and the weights do not change.

        On the device, the deployed model meets the user's camera and rooms:
        adapting it to the user's own unlabelled images needs nothing beyond
        the device. A model without BatchNorm layers comes back unchanged.
        """
        images = self._images(data)
        adapted = copy.copy(self)
        adapted.module_ = copy.deepcopy(self.module_)
        _recompute_batch_norm(adapted.module_, images, batch_size)
        return adapted

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``folder/model.safetensors`` (the weights) and ``folder/config.json``
        (architecture, classes, image size, settings, history, library
        versions), atomically."""
        folder = Path(folder)
        state = {k: v.detach().cpu().contiguous() for k, v in self.module_.state_dict().items()}
        config = {"format": _FORMAT, "version": _VERSION, "arch": self.arch,
                  "arch_kwargs": self.arch_kwargs, "classes": list(self.classes_),
                  "image_size": list(self.image_size_), "params": self.params,
                  "history": self.history_, "best_epoch": self.best_epoch_,
                  "versions": library_versions("spinml", "torch", "accelerate")}
        with atomic_dir(folder, overwrite=overwrite, kind=_FORMAT, manifest=_CONFIG) as tmp:
            save_file(state, str(tmp / _WEIGHTS), metadata={"format": _FORMAT})
            (tmp / _CONFIG).write_text(json.dumps(config, indent=1))
        return folder

    def export(self, path: str | Path, format: str = "onnx", *,
               calibration: Data | np.ndarray | None = None, overwrite: bool = False) -> Path:
        """Write the model in a device format, atomically (:mod:`spinml.train.export`).

        ``format="onnx"``: fp32 ONNX, uint8 NHWC images in, probabilities out,
        checked against torch at export. ``format="onnx-int8"``: the same graph
        quantised to int8, calibrated on ``calibration``'s images (the user's
        unlabelled references, on the device).
        """
        from spinml.train.export import FORMATS, check_target, export_onnx, quantize_onnx

        if format not in FORMATS:
            raise ValueError(f"unknown export format {format!r}; known: {list(FORMATS)}")
        if format == "onnx":
            if calibration is not None:
                raise ValueError("calibration= is for format='onnx-int8'; fp32 needs none")
            return export_onnx(self, path, overwrite=overwrite)
        if calibration is None:
            raise ValueError("format='onnx-int8' needs calibration=, the user's unlabelled "
                             "reference images")
        check_target(path, overwrite)
        with tempfile.TemporaryDirectory(prefix="spinml-export-") as tmp:
            fp32 = export_onnx(self, Path(tmp) / "fp32.onnx")
            return quantize_onnx(fp32, path, calibration, overwrite=overwrite)

    @classmethod
    def load(cls, folder: str | Path, module: nn.Module | None = None,
             device: str | torch.device = "cpu") -> TrainedModel:
        """Rebuild a saved model on ``device``. A model trained from a custom
        ``nn.Module`` needs ``module``, a fresh instance of that class, to load
        the weights into."""
        folder = Path(folder)
        config = read_manifest(folder, _FORMAT, (_VERSION,), name=_CONFIG)
        if not (folder / _WEIGHTS).is_file():
            raise FileNotFoundError(f"{folder} holds no {_WEIGHTS}: not a saved {_FORMAT}")
        try:
            arch, classes = config["arch"], tuple(config["classes"])
            image_size = tuple(config["image_size"])
            if (type(arch) is not str or not classes or not all(type(c) is str for c in classes)
                    or len(image_size) != 2
                    or not all(type(v) is int and v > 0 for v in image_size)
                    or type(config["arch_kwargs"]) is not dict):
                raise TypeError("arch, classes, image_size or arch_kwargs has the wrong type")
            if module is None:
                if arch not in ARCHITECTURES:
                    raise ValueError(f"{folder} holds a custom architecture {arch}: pass "
                                     f"module=, a fresh instance of it, to load()")
                module = build_model(arch, len(classes), min(image_size), **config["arch_kwargs"])
            module.load_state_dict(load_file(str(folder / _WEIGHTS)))
            return cls(module.to(device).eval(), classes, image_size, arch=arch,
                       arch_kwargs=config["arch_kwargs"], params=config["params"],
                       history=config["history"], best_epoch=config["best_epoch"])
        except (KeyError, TypeError) as err:
            raise ValueError(f"{folder / _CONFIG} is missing or has a bad entry: {err}") from None
