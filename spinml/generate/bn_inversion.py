"""Synthetic images from a teacher's BatchNorm statistics (ZeroQ, DeepInversion), as in
"Synthetic Dataset Generation for Privacy-Preserving Machine Learning".

A batch of images starts as Gaussian noise and is optimised with Adam for
``K`` steps so that the teacher, in eval mode, sees batch statistics that
match its BatchNorm running statistics and predicts the intended labels::

    L(x) = R_BN(x) + CE(f(x), y)
           + tv * R_TV(x) + l2 * R_L2(x) + competition * (1 - JS(f(x), s(x)))

``R_BN`` is defined in :mod:`spinml.generate.bn_statistics`; the other terms
are DeepInversion's optional priors (:class:`Priors`, all off by default)::

    gen = BNInversionGenerator(steps=2000).fit(trained_model)
    synthetic = gen.generate(n_per_class=50, seed=0)    # a balanced SyntheticSet

The learning rate of step ``k = 0 .. K-1`` follows ``schedule``
(:func:`learning_rates`): ``"cosine"`` (the default, DeepInversion's decay
to zero over the ``K`` steps) or ``"constant"``. The synthetic-dataset paper's plain
method is ``schedule="constant"`` without priors.

Images live in the teacher's input space, ``x = p / 127.5 - 1`` for uint8
pixels ``p`` (:func:`spinml.image.to_unit_range`, as the Trainer feeds its networks), are
kept in ``[-1, 1]`` after every step and returned as ``p = round((x + 1) *
127.5)``: what the teacher saw, up to 8-bit rounding.
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from spinml import checks
from spinml.checks import is_integer, is_number
from spinml.data.synthetic import SyntheticImage, SyntheticSet
from spinml.estimator import Estimator
from spinml.generate.bn_statistics import BatchNormStatistics, batch_norm_layers, eval_mode
from spinml.image import from_unit_range, to_unit_range
from spinml.io import atomic_dir, read_manifest
from spinml.seeding import derive_seed
from spinml.train.trainer import TrainedModel, Trainer

__all__ = ["BNInversionGenerator", "Priors", "total_variation", "jensen_shannon"]

METHOD = "bn_inversion"
_FORMAT = "spinml.bn-inversion-generator"
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class Priors:
    """DeepInversion's priors, all off by default (the synthetic-dataset paper's plain method).

    tv
        Weight of the total variation ``R_TV(x) = sum_d ||x - shift_d(x)||_2``
        over the four neighbour directions (right, down and both diagonals),
        the norm taken over the whole batch (:func:`total_variation`).
    l2
        Weight of ``R_L2(x) = mean_n ||x_n||_2``, each image's Euclidean norm.
    jitter
        Each step the batch is rolled by ``(dy, dx)`` pixels, each uniform in
        ``[-jitter, jitter]``, before the teacher sees it.
    flip
        Each step the batch is mirrored left-right with probability 1/2.
    first_bn
        Multiplier of the first BatchNorm layer's term in ``R_BN``.
    competition
        Weight of Adaptive DeepInversion's ``1 - JS(f(x), s(x))`` between the
        teacher's and the student's softmax at ``temperature``
        (:func:`jensen_shannon`); needs a ``student``.
    temperature
        Softmax temperature of the competition term.
    student_steps
        Distillation steps (Adam, lr 1e-3, KL divergence to the teacher at
        ``temperature``) of the student on each finished batch, so that it
        learns what was generated and the next batches go where it still
        disagrees with the teacher.
    """

    tv: float = 0.0
    l2: float = 0.0
    jitter: int = 0
    flip: bool = False
    first_bn: float = 1.0
    competition: float = 0.0
    temperature: float = 3.0
    student_steps: int = 0

    def __post_init__(self) -> None:
        for name in ("tv", "l2", "first_bn", "competition"):
            checks.non_negative_number(getattr(self, name), f"priors.{name}")
        checks.positive_number(self.temperature, "priors.temperature")
        for name in ("jitter", "student_steps"):
            checks.non_negative_int(getattr(self, name), f"priors.{name}")
        checks.boolean(self.flip, "priors.flip")

    @classmethod
    def from_any(cls, priors: Priors | dict[str, Any] | None) -> Priors:
        """``None`` -> no priors; a dict (e.g. a papermill parameter) -> its fields."""
        if priors is None:
            return cls()
        if isinstance(priors, cls):
            return priors
        if isinstance(priors, dict):
            unknown = set(priors) - {f.name for f in fields(cls)}
            if unknown:
                raise ValueError(f"unknown priors {sorted(unknown)}; "
                                 f"known: {[f.name for f in fields(cls)]}")
            return cls(**priors)
        raise TypeError(f"priors must be a Priors, a dict or None, got {type(priors).__name__}")


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """DeepInversion's ``R_TV``: ``||x[.., :, :-1] - x[.., :, 1:]||_2`` plus the same
    for the vertical and both diagonal neighbours, norms over the whole
    ``(N, C, H, W)`` batch (input-space units)."""
    return (torch.linalg.vector_norm(x[..., :, :-1] - x[..., :, 1:])
            + torch.linalg.vector_norm(x[..., :-1, :] - x[..., 1:, :])
            + torch.linalg.vector_norm(x[..., 1:, :-1] - x[..., :-1, 1:])
            + torch.linalg.vector_norm(x[..., :-1, :-1] - x[..., 1:, 1:]))


def jensen_shannon(logits_p: torch.Tensor, logits_q: torch.Tensor,
                   temperature: float) -> torch.Tensor:
    """Adaptive DeepInversion's Jensen-Shannon divergence (nats), clipped to [0, 1]:
    ``P, Q = softmax(logits / T)``, ``M = (P + Q) / 2``, each clamped to
    ``[0.01, 0.99]``; ``JS = (KL(P || M) + KL(Q || M)) / 2``, KL summed over
    classes and averaged over the batch."""
    p = torch.softmax(logits_p / temperature, 1)
    q = torch.softmax(logits_q / temperature, 1)
    m = (0.5 * (p + q)).clamp(0.01, 0.99)
    p, q = p.clamp(0.01, 0.99), q.clamp(0.01, 0.99)
    kl_pm = (p * (p.log() - m.log())).sum(1).mean()
    kl_qm = (q * (q.log() - m.log())).sum(1).mean()
    return (0.5 * (kl_pm + kl_qm)).clamp(0.0, 1.0)


def learning_rates(lr: float, steps: int, schedule: str) -> list[float]:
    """Adam's learning rate at each step ``k = 0 .. K-1`` of a ``K = steps`` run::

        constant:  lr_k = lr
        cosine:    lr_k = lr * (1 + cos(pi * k / K)) / 2

    The cosine schedule is DeepInversion's ``lr_cosine_policy`` without
    warm-up: ``lr`` at the first step, ``lr * (1 - cos(pi / K)) / 2`` (about
    ``lr * 2.5 / K^2``) at the last. It depends on ``K``, so the images after
    ``k`` steps of a cosine run are not those of a run with ``steps=k``.
    """
    if schedule == "constant":
        return [lr] * steps
    if schedule == "cosine":
        return [lr * (1.0 + math.cos(math.pi * k / steps)) / 2.0 for k in range(steps)]
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")


def _device(network: nn.Module) -> torch.device:
    parameter = next(network.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _probe(network: nn.Module, size: tuple[int, int]) -> int:
    """Run two blank images through the teacher; return its number of logits."""
    try:
        with torch.no_grad(), eval_mode(network):
            logits = network(torch.zeros(2, 3, *size, device=_device(network)))
    except RuntimeError as err:
        raise ValueError(f"the teacher cannot take image_size={size[0]}x{size[1]}: "
                         f"{err}") from None
    if logits.ndim != 2 or logits.shape[0] != 2:
        raise ValueError(f"the teacher returns shape {tuple(logits.shape)} for 2 images; "
                         f"expected logits (2, num_classes)")
    return int(logits.shape[1])


def _class_path(module: nn.Module) -> str:
    return f"{type(module).__module__}.{type(module).__qualname__}"


def _image_size(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    pair = (value, value) if is_integer(value) else tuple(value) if isinstance(
        value, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(is_integer(v) and v > 0 for v in pair):
        raise ValueError(f"image_size must be a positive integer or an (H, W) pair of them, "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


class BNInversionGenerator(Estimator):
    """Generate a labelled :class:`SyntheticSet` by BatchNorm-statistics inversion::

        generator = BNInversionGenerator(steps=2000).fit(teacher)
        synthetic = generator.generate(n_per_class=20, seed=0)

    Parameters
    ----------
    steps
        ``K``, Adam steps per batch of images (0: the Gaussian noise itself).
    batch_size
        Images optimised together; their batch statistics are matched.
    lr
        Adam's (peak) learning rate, input-space units per step.
    schedule
        ``"cosine"``: ``lr_k = lr * (1 + cos(pi k / K)) / 2`` at step
        ``k = 0 .. K-1`` (DeepInversion); ``"constant"``: ``lr_k = lr``
        (the synthetic-dataset paper). See :func:`learning_rates`. On 16 px digits at K = 2000
        the cosine runs ended at R_BN 12 where the constant ones bounced at
        35-53, and trained better students; at K = 600 the constant rate's
        students were the better ones.
    betas
        Adam's ``(beta1, beta2)``, the decay rates of its running averages of
        the gradient and of its square, each in ``[0, 1)``. DeepInversion
        uses ``(0.5, 0.9)`` on ImageNet, PyTorch's default is ``(0.9, 0.999)``.
    image_size
        ``H`` or ``(H, W)`` in pixels; required for a bare module teacher, and
        must be the trained size for a trained one (which is the default there).
    priors
        :class:`Priors` or a dict of its fields; ``None``: none.
    classes
        Class names, one per logit; default the trained teacher's, or
        ``"0"``, ``"1"``, ... for a bare module.
    student
        The network of the competition term (a copy is used, so the given
        module is never changed).
    progress
        Show a ``tqdm`` progress bar.

    ``fit(teacher)`` takes a fitted :class:`~spinml.train.Trainer`, a
    :class:`~spinml.train.TrainedModel` (its network, classes and image size
    are used) or any ``torch.nn.Module`` with BatchNorm layers that maps
    ``(N, 3, H, W)`` images, normalised as ``p / 127.5 - 1``, to ``(N, C)``
    logits. The teacher is put in eval mode while generating and its mode is
    restored afterwards; its weights are never changed. Images are optimised
    on the teacher's device.

    Learned state: ``teacher_`` (the TrainedModel, or the module),
    ``network_``, ``image_size_`` ``(H, W)``, ``classes_``; after ``generate``,
    ``history_`` holds one dict per optimised batch: ``batch``, ``K`` (the
    steps of that run) and the per-step losses ``bn`` (``R_BN``), ``ce``
    (cross-entropy, nats) and ``total`` (the objective).
    """

    _PARAMS = ("steps", "batch_size", "lr", "schedule", "betas", "image_size", "priors",
               "classes", "student", "progress")

    def __init__(self, *teacher: TrainedModel | Trainer | nn.Module, steps: int = 2000,
                 batch_size: int = 250, lr: float = 0.1, schedule: str = "cosine",
                 betas: tuple[float, float] = (0.9, 0.999),
                 image_size: int | tuple[int, int] | None = None,
                 priors: Priors | dict[str, Any] | None = None,
                 classes: Sequence[str] | None = None, student: nn.Module | None = None,
                 progress: bool = True) -> None:
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.schedule = schedule
        self.betas = betas
        self.image_size = image_size
        self.priors = priors
        self.classes = classes
        self.student = student
        self.progress = progress
        self._check_params(self.get_params())
        self._totals = bool(teacher)
        if teacher:
            if len(teacher) != 1:
                raise TypeError(f"BNInversionGenerator() takes the settings by name, got "
                                f"{len(teacher)} positional arguments")
            warnings.warn("BNInversionGenerator(teacher, ...) is deprecated: use "
                          "BNInversionGenerator(...).fit(teacher), whose generate() takes "
                          "images per class. The old form (generate(n) taking a total) goes "
                          "in spinml 0.3", DeprecationWarning, stacklevel=2)
            self.fit(teacher[0])

    # ------------------------------------------------------------------ settings

    def _check_params(self, params: dict[str, Any]) -> None:
        if not is_integer(params["steps"]) or params["steps"] < 0:
            raise ValueError(f"steps (K) must be an integer >= 0, got {params['steps']!r}")
        checks.positive_int(params["batch_size"], "batch_size")
        checks.positive_number(params["lr"], "lr")
        if not isinstance(params["schedule"], str):
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {params['schedule']!r}")
        checks.one_of(params["schedule"], "schedule", SCHEDULES)
        betas = params["betas"]
        if (not isinstance(betas, (tuple, list)) or len(betas) != 2
                or not all(is_number(b) and 0 <= b < 1 for b in betas)):
            raise ValueError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1), "
                             f"got {betas!r}")
        _image_size(params["image_size"])
        priors = Priors.from_any(params["priors"])
        classes = params["classes"]
        if classes is not None and (isinstance(classes, str) or not all(
                isinstance(c, str) and c for c in classes)):
            raise ValueError(f"classes must be a sequence of non-empty names or None, "
                             f"got {classes!r}")
        student = params["student"]
        if student is not None and not isinstance(student, nn.Module):
            raise TypeError(f"student must be a torch.nn.Module, got {type(student).__name__}")
        if priors.competition > 0 and student is None:
            raise ValueError("priors.competition > 0 needs a student network (student=...)")
        checks.boolean(params["progress"], "progress")

    # ------------------------------------------------------------------ fit

    def fit(self, teacher: TrainedModel | Trainer | nn.Module) -> BNInversionGenerator:
        """Check ``teacher`` against the settings (BatchNorm layers, image size,
        number of logits) and keep it; returns the generator."""
        trained = teacher.model_ if isinstance(teacher, Trainer) else teacher
        if isinstance(trained, TrainedModel):
            network = trained.module_
        elif isinstance(trained, nn.Module):
            network = trained
        else:
            raise TypeError(f"teacher must be a fitted Trainer, a TrainedModel or a "
                            f"torch.nn.Module, got {type(teacher).__name__}")
        batch_norm_layers(network, "teacher")
        size = _image_size(self.image_size)
        if isinstance(trained, TrainedModel):
            if size is not None and size != trained.image_size_:
                raise ValueError(f"image_size={self.image_size!r} but the teacher was trained on "
                                 f"{trained.image_size_[0]}x{trained.image_size_[1]} images")
            size = trained.image_size_
        elif size is None:
            raise ValueError("image_size is required when the teacher is a bare nn.Module")
        jitter = Priors.from_any(self.priors).jitter
        if jitter >= min(size):
            raise ValueError(f"priors.jitter={jitter} must be smaller than the image "
                             f"({size[0]}x{size[1]})")
        num_logits = _probe(network, size)
        if self.classes is not None:
            classes = tuple(self.classes)
        elif isinstance(trained, TrainedModel):
            classes = trained.classes_
        else:
            classes = tuple(str(i) for i in range(num_logits))
        if len(classes) != num_logits:
            raise ValueError(f"classes has {len(classes)} names but the teacher returns "
                             f"{num_logits} logits")
        self.teacher_, self.network_ = trained, network
        self.image_size_, self.classes_ = size, classes
        return self

    # ------------------------------------------------------------------ generation

    def _total(self, n_per_class: int | None, deprecated: dict[str, Any], where: str) -> int:
        """The number of images a call asks for: ``n_per_class`` times the classes, or
        the total ``n`` of the old call forms (with a ``DeprecationWarning``)."""
        classes = self._fitted("classes_")
        if set(deprecated) - {"n"}:
            raise TypeError(f"{where} got unexpected arguments {sorted(set(deprecated) - {'n'})}")
        if "n" in deprecated or self._totals:
            total = deprecated.get("n", n_per_class)
            warnings.warn(f"{where}: a total number of images n is deprecated; give "
                          f"n_per_class (after fit(teacher)). The old form goes in spinml 0.3",
                          DeprecationWarning, stacklevel=3)
            return checks.positive_int(total, "n")
        return checks.positive_int(n_per_class, "n_per_class") * len(classes)

    def generate(self, n_per_class: int | None = None, seed: int = 0,
                 **deprecated: Any) -> SyntheticSet:
        """``n_per_class`` images of each class, ``K = steps``. Image ``i`` gets class
        ``i mod C``, so every batch holds all classes. Batch ``b`` starts from noise
        seeded by ``(seed, b)``: the same seed gives the same images (on the CPU).

        Old forms, with a ``DeprecationWarning``: ``generate(n=total)``, and
        ``generate(n)`` of a generator built as ``BNInversionGenerator(teacher, ...)``,
        take a total number of images."""
        total = self._total(n_per_class, deprecated, "BNInversionGenerator.generate()")
        return self._snapshots(total, seed, (self.steps,))[self.steps]

    def generate_snapshots(self, n_per_class: int | None = None, seed: int = 0,
                           at: Sequence[int] = (0, 50, 200, 1000, 2000),
                           **deprecated: Any) -> dict[int, SyntheticSet]:
        """``{K: generate(n_per_class, seed) with steps=K}`` for each step count ``K``
        in ``at`` (the ``steps`` setting is not used here).

        With ``schedule="constant"`` all of them are snapshots of one
        optimisation of ``max(at)`` steps per batch. A cosine schedule depends
        on ``K``, so each ``K > 0`` is then optimised on its own (``sum(at)``
        steps per batch instead of ``max(at)``); ``K = 0`` is the noise."""
        total = self._total(n_per_class, deprecated, "BNInversionGenerator.generate_snapshots()")
        return self._snapshots(total, seed, at)

    def _snapshots(self, n: int, seed: int, at: Sequence[int]) -> dict[int, SyntheticSet]:
        """:meth:`generate_snapshots` of ``n`` images in all."""
        network, size, classes = self.network_, self.image_size_, self.classes_
        priors = Priors.from_any(self.priors)
        checks.non_negative_int(seed, "seed")
        if not at or not all(is_integer(k) and k >= 0 for k in at):
            raise ValueError(f"at must list step counts K >= 0, got {at!r}")
        ks = sorted({int(k) for k in at})
        if self.schedule == "constant" or len(ks) == 1:
            runs = [ks]
        else:  # a run per K > 0; K = 0 (the noise) is the start of the first
            runs = [ks[:2]] + [[k] for k in ks[2:]] if ks[0] == 0 else [[k] for k in ks]
        device = _device(network)
        labels = torch.arange(n) % len(classes)
        per_k: dict[int, list[SyntheticImage]] = {k: [] for k in ks}
        self.history_: list[dict[str, Any]] = []
        batches = range(0, n, self.batch_size)
        bar = tqdm(total=len(batches) * sum(run[-1] for run in runs),
                   desc=f"BN inversion K={ks[-1]}", unit="step", disable=not self.progress)
        try:
            with eval_mode(network):
                for run in runs:
                    student = (None if self.student is None
                               else copy.deepcopy(self.student).to(device))
                    for b, start in enumerate(batches):
                        y = labels[start:start + self.batch_size]
                        snaps, history = self._invert(network, y.to(device), size, run, priors,
                                                      student, derive_seed(seed, b), bar)
                        self.history_.append({"batch": b, "K": run[-1], **history})
                        for k, images in snaps.items():
                            per_k[k] += self._images(images, y, classes, k, seed, b, start,
                                                     priors)
        finally:
            bar.close()
        return {k: SyntheticSet(per_k[k], classes=classes) for k in ks}

    def _images(self, images: np.ndarray, labels: torch.Tensor, classes: tuple[str, ...],
                k: int, seed: int, batch: int, start: int,
                priors: Priors) -> list[SyntheticImage]:
        """One batch's uint8 images with their labels and generation settings."""
        settings = {"lr": self.lr, "schedule": self.schedule, "betas": list(self.betas),
                    "batch_size": self.batch_size, "priors": asdict(priors)}
        return [SyntheticImage(image, classes[int(label)], provenance={
            "method": METHOD, "scheme": f"{METHOD}_K{k}", "K": k, "seed": seed, "batch": batch,
            "index": start + i, "label": classes[int(label)], **settings})
            for i, (image, label) in enumerate(zip(images, labels, strict=True))]

    def _invert(self, network: nn.Module, labels: torch.Tensor, size: tuple[int, int],
                ks: list[int], priors: Priors, student: nn.Module | None, seed: int,
                bar: tqdm) -> tuple[dict[int, np.ndarray], dict[str, list[float]]]:
        """Optimise one batch for ``K = max(ks)`` steps under the schedule of ``K``;
        uint8 snapshots at each of ``ks`` and the per-step losses (``bn``: R_BN,
        ``ce``: cross-entropy in nats, ``total``: the whole objective)."""
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(len(labels), 3, *size, generator=generator)
        x = noise.clamp(-1.0, 1.0).to(labels.device).requires_grad_(True)
        optimizer = torch.optim.Adam([x], lr=self.lr, betas=tuple(self.betas))
        rates = learning_rates(self.lr, ks[-1], self.schedule)
        snaps = {0: from_unit_range(x)} if ks[0] == 0 else {}
        losses: dict[str, list[torch.Tensor]] = {"bn": [], "ce": [], "total": []}
        if student is not None:
            student.eval()
        with BatchNormStatistics(network, priors.first_bn) as stats:
            for step, rate in enumerate(rates, 1):
                inputs = self._augment(x, priors, generator)
                logits = network(inputs)
                bn, ce = stats.loss(), F.cross_entropy(logits, labels)
                loss = bn + ce
                if priors.tv:
                    loss = loss + priors.tv * total_variation(inputs)
                if priors.l2:
                    loss = loss + priors.l2 * torch.linalg.vector_norm(
                        inputs.flatten(1), dim=1).mean()
                if priors.competition:
                    loss = loss + priors.competition * (1.0 - jensen_shannon(
                        logits, student(inputs), priors.temperature))
                (x.grad,) = torch.autograd.grad(loss, [x])
                optimizer.param_groups[0]["lr"] = rate
                optimizer.step()
                with torch.no_grad():
                    x.clamp_(-1.0, 1.0)
                for name, value in (("bn", bn), ("ce", ce), ("total", loss)):
                    losses[name].append(value.detach())  # no device sync per step
                if step in ks:
                    snaps[step] = from_unit_range(x)
                bar.update()
        if student is not None and priors.student_steps:
            self._distill(network, student, to_unit_range(torch.from_numpy(
                snaps[ks[-1]]).permute(0, 3, 1, 2).to(labels.device)), priors)
        return snaps, {name: torch.stack(values).tolist() if values else []
                       for name, values in losses.items()}

    @staticmethod
    def _augment(x: torch.Tensor, priors: Priors, generator: torch.Generator) -> torch.Tensor:
        if priors.jitter:
            dy, dx = torch.randint(-priors.jitter, priors.jitter + 1, (2,),
                                   generator=generator).tolist()
            x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
        if priors.flip and torch.rand((), generator=generator) < 0.5:
            x = torch.flip(x, dims=(3,))
        return x

    @staticmethod
    def _distill(teacher: nn.Module, student: nn.Module, images: torch.Tensor,
                 priors: Priors) -> None:
        """``student_steps`` Adam steps (lr 1e-3) on ``T^2 KL(softmax(f/T) ||
        softmax(s/T))`` over the finished batch, then back to eval mode."""
        with torch.no_grad():
            target = torch.log_softmax(teacher(images) / priors.temperature, 1)
        optimizer = torch.optim.Adam(student.parameters(), lr=1e-3)
        student.train()
        with torch.enable_grad():
            for _ in range(priors.student_steps):
                log_q = torch.log_softmax(student(images) / priors.temperature, 1)
                loss = F.kl_div(log_q, target, reduction="batchmean",
                                log_target=True) * priors.temperature ** 2
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        student.eval()

    # ------------------------------------------------------------------ save / load

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write the settings (``generator.json``) and the teacher, atomically: a
        trained teacher as a saved :class:`~spinml.train.TrainedModel` in
        ``teacher/``, a bare module as its weights (``teacher.safetensors``). A
        student is recorded by its class; :meth:`load` needs it passed again."""
        teacher = self._fitted("teacher_")
        settings = {**self.get_params(), "priors": asdict(Priors.from_any(self.priors)),
                    "betas": list(self.betas), "student": None,
                    "classes": None if self.classes is None else list(self.classes)}
        record = {"format": _FORMAT, "version": 1, "settings": settings,
                  "student": None if self.student is None else _class_path(self.student),
                  "teacher": ("trained_model" if isinstance(teacher, TrainedModel)
                              else _class_path(teacher))}
        folder = Path(folder)
        with atomic_dir(folder, overwrite=overwrite) as tmp:
            if isinstance(teacher, TrainedModel):
                teacher.save(tmp / "teacher")
            else:
                save_file({k: v.detach().cpu().contiguous()
                           for k, v in teacher.state_dict().items()},
                          str(tmp / "teacher.safetensors"))
            (tmp / "generator.json").write_text(json.dumps(record, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, teacher: nn.Module | None = None,
             student: nn.Module | None = None, device: str | torch.device = "cpu",
             **settings: Any) -> BNInversionGenerator:
        """A fitted generator from :meth:`save`, its teacher on ``device``. A bare
        module teacher needs ``teacher``, a fresh instance of its class to load the
        weights into; a saved student needs ``student`` again. ``settings``
        override the saved ones."""
        folder = Path(folder)
        record = read_manifest(folder, _FORMAT, (1,), name="generator.json")
        saved = {**record["settings"], **settings}
        if record["student"] is not None and student is None:
            raise ValueError(f"{folder} was saved with a student {record['student']}: pass "
                             f"student=, a network of that class, to load()")
        saved["student"] = student
        if record["teacher"] == "trained_model":
            fitted = TrainedModel.load(folder / "teacher", device=device)
        elif teacher is None:
            raise ValueError(f"{folder} holds a bare teacher module {record['teacher']}: pass "
                             f"teacher=, a fresh instance of it, to load()")
        else:
            teacher.load_state_dict(load_file(str(folder / "teacher.safetensors")))
            fitted = teacher.to(device)
        return cls(**saved).fit(fitted)
