"""Run one sharing scheme end to end, or sweep many, with every artefact cached.

A run of policy ``p`` (scheme ``{target}_{background}``), mixing fraction
``alpha`` and seed ``s``:

1. sanitise the user's references under ``p`` (the upload);
2. fit the :class:`~spinml.DiffusionGenerator` on the upload (seed ``s``) and
   generate ``n_per_class`` composed images per class;
3. mix: a fraction ``alpha`` of the training set is drawn from the ``L0_L0``
   set of the same seed (:meth:`~spinml.SyntheticSet.mix`);
4. train the specialised model (:class:`~spinml.Trainer`, seed ``s``);
5. evaluate utility on the user's real test images and per-object privacy
   (:class:`~spinml.evaluate.Evaluator`).

Mixing at ``alpha = 1`` is the ``L0_L0`` run itself (same images, same order,
same model), and at ``alpha = 0`` the scheme's own run.

Baselines (:data:`BASELINES`, the frame's ``scheme`` column names them; their
rows hold utility only) are trained by the same Trainer, from the same start,
and scored on the same test images:

- ``public``: ``n_per_class`` fresh public renders per class (seed ``1 + s``):
  what the user gets with nothing shared and no generator;
- ``references``: the user's own references, on the device: the local
  alternative that shares nothing;
- ``oracle``: ``n_oracle`` of the user's own images per class (the mini-world
  renders them; never the test images): the ceiling.

:func:`sweep` runs every user of ``Settings.users`` and adds a ``user`` column;
:mod:`spinml.evaluate.paired` compares arms pair by pair.

Each stage's output is cached under ``cache/<stage>/<key>``, the key being the
SHA-256 of a request: the stage's settings, its inputs' keys, the library
versions, the SHA-256 of spinml's own source files (``spinml/**/*.py``, once
per process), of the contents of every data and model folder the stage reads
(``data``, ``test_data``, ``sd``, ``controlnet``, ``encoder``) and of the zoo's
manifest where the zoo is used. So an edited mask or model file, or changed
code, gives a new entry. Each entry records its request in ``request.json``;
an entry whose request differs from the one asked (a replaced or corrupted
folder) is refused with an error naming it, never loaded. Entries are written
with :func:`~spinml.io.atomic_dir`, so a crashed run leaves no entry behind
and a rerun of an unchanged sweep only reads files. An entry is built under
an exclusive file lock (``cache/.locks/<stage>-<key>``), so processes sharing
the cache folder build each entry once: the others wait and load it.

Sweeps run in this process or on an executor (:mod:`spinml.executors`: a
process pool, Ray, any :class:`concurrent.futures.Executor`): each scheme's
synthetic sets first, each run once the sets it trains on exist, on one
shared cache, giving the sequential sweep's frame: the same rows in the same
order and, on the CPU, the same values to the last bit. Torch's CPU kernels may
sum in another order on another number of threads, so every entry is computed
on ``Settings.threads`` torch threads (part of its key) wherever it runs: in
this process, in a pool's worker or in a Ray task
(``benchmarks/sweep_executors.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from filelock import FileLock
from tqdm.auto import tqdm

from spinml import checks
from spinml.data.references import ReferenceSet
from spinml.data.sanitized import SanitizedSet
from spinml.data.synthetic import SyntheticSet
from spinml.io import atomic_dir, library_versions, read_manifest, sha256, write_manifest
from spinml.policy import Level, SharingPolicy
from spinml.seeding import torch_threads

__all__ = ["Settings", "Experiment", "run", "sweep", "all_schemes", "default_cache", "BASELINES",
           "utility_runs"]

BASELINES = ("public", "references", "oracle")
"""The baseline arms of every utility table (see the module)."""

T = TypeVar("T")


def default_cache() -> Path:
    """``$SPINML_CACHE``, else ``~/.cache/spinml``."""
    return Path(os.environ.get("SPINML_CACHE", "~/.cache/spinml")).expanduser()


def all_schemes() -> list[str]:
    """The nine ``{L0,L1,L2} x {L0,L1,L2}`` policies, as ``"target=..,background=.."``."""
    return [f"target={t.name},background={b.name}" for t in Level for b in Level]


@dataclass(frozen=True)
class Settings:
    """Everything a run depends on besides its policy, ``alpha`` and seed.

    Data: mini-world private users ``users`` (``n_ref`` / ``n_test`` images
    per class at ``image_size`` px; an :class:`Experiment` runs the first,
    ``user``; :func:`sweep` all of them; the ``oracle`` baseline trains on
    ``n_oracle`` of the user's images per class), or ``data`` / ``test_data``, folders in the
    SpinML artifact or plain layout. Models: ``sd`` / ``controlnet`` /
    ``encoder`` folders, empty for the bundled zoo. Generation: ``lora_steps``
    AdamW steps at ``lora_lr`` and rank ``lora_rank`` per L2 object;
    ``n_per_class`` images per class, ``sample_steps`` solver steps at
    classifier-free guidance ``guidance``, L1 objects' ControlNet residuals
    scaled by ``conditioning_scale``. Training: :class:`~spinml.Trainer`
    with ``arch``, ``epochs``, ``batch_size``, ``lr`` and ``color_jitter``,
    fine-tuning ``init`` (``Trainer(init=...)``: ``"miniworld"``, the zoo's
    backbone pre-trained on the public mini-world, or a saved
    ``TrainedModel`` folder; ``""`` trains ``arch`` from scratch).
    Evaluation: with ``adapt``, utility is that of the model adapted on the
    device to the user's unlabelled references (BatchNorm statistics,
    :meth:`~spinml.train.TrainedModel.adapt`). Every generation, training and
    evaluation runs on ``threads`` torch CPU threads, whether the sweep runs in
    this process or on ``w`` workers (give ``w * threads <= cores``): the same
    seed and ``threads`` give the same numbers on a CPU.

    The defaults fit the main report into minutes on 2 CPU cores. Unlike the
    paper's 5 epochs of MobileNetV2 on thousands of 224 px images, a few
    hundred 32 px images need ~40 epochs of batch 16, and ResNet-20 (the CIFAR-size
    network) learns them better from scratch than MobileNetV2 did here.
    Trained from scratch on generated rooms, it meets one real room at test
    time: without colour jitter and adaptation it often predicts one class
    for all of the user's images.
    """

    users: tuple[int, ...] = (0,)
    data: str = ""
    test_data: str = ""
    n_ref: int = 5
    n_test: int = 100
    n_oracle: int = 100
    image_size: int = 32
    sd: str = ""
    controlnet: str = ""
    encoder: str = ""
    lora_steps: int = 150
    lora_rank: int = 8
    lora_lr: float = 1e-3
    n_per_class: int = 24
    sample_steps: int = 12
    guidance: float = 5.0
    conditioning_scale: float = 1.0
    arch: str = "resnet20"
    epochs: int = 40
    batch_size: int = 16
    lr: float = 1e-3
    color_jitter: float = 0.25
    adapt: bool = True
    init: str = "miniworld"
    threads: int = 1

    @property
    def user(self) -> int:
        """The user an :class:`Experiment` runs: the first of ``users``."""
        return self.users[0]

    def __post_init__(self) -> None:
        users = (self.users,) if isinstance(self.users, int) else tuple(self.users)
        if (not users or len(set(users)) != len(users)
                or any(isinstance(u, bool) or not isinstance(u, int) or u < 0 for u in users)):
            raise ValueError("Settings.users must be distinct non-negative integers, "
                             f"got {self.users!r}")
        object.__setattr__(self, "users", users)
        if bool(self.data) != bool(self.test_data):
            raise ValueError("give both data and test_data folders, or neither (mini-world)")
        for name in ("n_ref", "n_test", "n_oracle", "image_size", "lora_steps", "lora_rank",
                     "n_per_class", "sample_steps", "epochs", "batch_size", "threads"):
            checks.positive_int(getattr(self, name), f"Settings.{name}")
        checks.non_negative_number(self.color_jitter, "Settings.color_jitter")
        checks.boolean(self.adapt, "Settings.adapt")
        for name in ("lora_lr", "lr"):
            checks.positive_number(getattr(self, name), f"Settings.{name}")
        checks.in_interval(self.guidance, "Settings.guidance", 1, math.inf, "[)")
        checks.non_negative_number(self.conditioning_scale, "Settings.conditioning_scale")
        if not isinstance(self.init, str):
            raise TypeError(f"Settings.init must be a backbone name or a folder (text), "
                            f"got {self.init!r}")
        from spinml.train.pretrained import ZOO_BACKBONES

        if self.init and self.init not in ZOO_BACKBONES and not Path(self.init).is_dir():
            raise FileNotFoundError(f"Settings.init: {self.init!r} is neither a zoo backbone "
                                    f"{sorted(ZOO_BACKBONES)} nor a folder")
        for name in _FOLDERS:
            folder = getattr(self, name)
            if folder and not Path(folder).is_dir():
                raise FileNotFoundError(f"Settings.{name}: folder {folder} does not exist")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_VERSIONED = ("spinml", "torch", "diffusers", "transformers", "peft")
_STAGES = ("upload", "synthetic", "model", "metrics")
_STAGE_FIELDS = {
    "upload": ("user", "data", "test_data", "n_ref", "n_test", "image_size"),
    "synthetic": ("threads", "sd", "controlnet", "lora_steps", "lora_rank", "lora_lr",
                  "n_per_class", "sample_steps", "guidance", "conditioning_scale"),
    "model": ("arch", "epochs", "batch_size", "lr", "color_jitter", "init"),
    "metrics": ("encoder", "adapt"),
}
_BASELINE_FIELDS = ("n_oracle",)
"""Settings that only baselines read (in their keys beside the model stage's)."""


_L0_L0 = SharingPolicy("target=L0,background=L0")


def _effective(policy: SharingPolicy, alpha: float) -> tuple[SharingPolicy, float]:
    """The run that trains on the same images: at ``alpha = 1``, ``L0_L0``'s own."""
    return (_L0_L0, 0.0) if alpha == 1 else (policy, alpha)


_FOLDERS = ("data", "test_data", "sd", "controlnet", "encoder")
_ENTRY, _REQUEST = "spinml.cache-entry", "request.json"
_HASHED: dict[tuple, str] = {}


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted((p for p in root.rglob(pattern) if p.is_file()), key=lambda p: p.as_posix())


def _tree_hash(root: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(root).as_posix()}\0{sha256(path)}\0".encode())
    return digest.hexdigest()


def _folder_hash(folder: str | Path) -> str:
    """SHA-256 over every file below ``folder``: its relative path and its contents'
    SHA-256, in path order. Kept per process while no file's size or mtime changes."""
    root = Path(folder).resolve()
    files = _files(root, "*")
    stats = ((p, p.stat()) for p in files)
    stamp = (root, *((p, st.st_size, st.st_mtime_ns) for p, st in stats))
    if stamp not in _HASHED:
        _HASHED[stamp] = _tree_hash(root, files)
    return _HASHED[stamp]


@functools.cache
def _source_hash() -> str:
    """SHA-256 of spinml's own source, every ``spinml/**/*.py`` (relative path and
    contents), computed once per process."""
    root = Path(__file__).resolve().parent
    return _tree_hash(root, _files(root, "*.py"))


@contextmanager
def _entry_lock(cache: Path, stage: str, key: str) -> Iterator[None]:
    """Hold the exclusive lock of entry ``stage/key`` (a ``flock`` on Unix: honoured
    across hosts where the shared filesystem supports it, e.g. NFSv4)."""
    locks = cache / ".locks"
    try:
        locks.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PermissionError(f"cannot write into cache folder {cache}: {err.strerror}") from None
    with FileLock(locks / f"{stage}-{key}.lock"):
        yield


def _check_alpha(alpha: float) -> float:
    return float(checks.in_interval(alpha, "alpha", 0, 1, "[]"))


class Experiment:
    """One user's runs, sharing loaded data, models and the cache.

    ``cache=None`` uses :func:`default_cache`; ``progress`` switches the
    progress bars.
    """

    def __init__(self, settings: Settings | None = None, *, cache: str | Path | None = None,
                 progress: bool = True) -> None:
        self.settings = settings or Settings()
        self.cache = Path(cache) if cache is not None else default_cache()
        self.progress = progress
        self._loaded: dict[str, Any] = {}
        self._requests: dict[str, str] = {}

    def _key(self, stage: str, **parts: Any) -> str:
        """The cache key of ``stage``: the SHA-256 of its request, which holds only the
        settings that stage and the ones before it read (:data:`_STAGE_FIELDS`), so e.g.
        another ``arch`` reuses the images, and the contents' hashes of their folders."""
        s = self.settings
        if "base" not in self._loaded:
            from spinml.zoo import ZOO_DIR

            zoo = (ZOO_DIR / "manifest.json").read_bytes() if not (s.sd and s.encoder) else b""
            self._loaded["base"] = {
                "versions": library_versions(*_VERSIONED), "source": _source_hash(),
                "zoo": hashlib.sha256(zoo).hexdigest(),
                "contents": {f: _folder_hash(getattr(s, f)) for f in _FOLDERS if getattr(s, f)}}
        base = self._loaded["base"]
        fields = [f for name in _STAGES[:_STAGES.index(stage) + 1] for f in _STAGE_FIELDS[name]]
        settings = {f: getattr(s, f) for f in fields}
        contents = {f: h for f, h in base["contents"].items() if f in fields}
        blob = json.dumps({"stage": stage, "settings": settings, **base, "contents": contents,
                           **parts}, sort_keys=True)
        key = hashlib.sha256(blob.encode()).hexdigest()[:24]
        self._requests[key] = blob
        return key

    def _cached(self, stage: str, key: str, make: Callable[[Path], None],
                load: Callable[[Path], T]) -> T:
        """Load the entry ``cache/stage/key``, made first by ``make`` if absent (by one
        process at a time: the lock is taken, and the entry looked for again, before
        making it, on ``Settings.threads`` torch threads). An entry whose
        ``request.json`` is not the request of ``key`` is refused."""
        folder = self.cache / stage / key
        request = json.loads(self._requests[key])
        if not folder.is_dir():
            with _entry_lock(self.cache, stage, key):
                if not folder.is_dir():
                    with atomic_dir(folder) as tmp, torch_threads(self.settings.threads):
                        make(tmp)
                        write_manifest(tmp, _ENTRY, 1, {"request": request}, name=_REQUEST)
        try:
            recorded = read_manifest(folder, _ENTRY, (1,), name=_REQUEST).get("request")
        except (FileNotFoundError, ValueError):
            recorded = None
        if recorded != request:
            raise ValueError(f"cache entry {folder} does not hold what its key asks for (its "
                             f"{_REQUEST} is missing or differs): it was replaced or damaged; "
                             "remove the folder and rerun to rebuild it")
        return load(folder)

    def data(self) -> tuple[ReferenceSet, ReferenceSet]:
        """``(references, test)`` of the user."""
        if "data" not in self._loaded:
            s = self.settings
            if s.data:
                from spinml.data.folder import load_folder

                self._loaded["data"] = (load_folder(s.data), load_folder(s.test_data))
            else:
                from spinml.data import miniworld

                self._loaded["data"] = miniworld.user(s.user, n_ref=s.n_ref, n_test=s.n_test,
                                                      size=s.image_size)
        return self._loaded["data"]

    def generator(self):
        """The :class:`~spinml.DiffusionGenerator`, loaded once (the zoo unless ``sd``)."""
        if "generator" not in self._loaded:
            from spinml.generate import DiffusionGenerator

            s = self.settings
            if s.sd:
                self._loaded["generator"] = DiffusionGenerator.from_pretrained(
                    s.sd, controlnet=s.controlnet or None, progress=self.progress)
            else:
                self._loaded["generator"] = DiffusionGenerator.from_zoo(progress=self.progress)
        return self._loaded["generator"]

    def evaluator(self):
        """The :class:`~spinml.evaluate.Evaluator` of the user's references and test set."""
        if "evaluator" not in self._loaded:
            from spinml.evaluate import Evaluator

            references, test = self.data()
            self._loaded["evaluator"] = Evaluator(references, test,
                                                  encoder=self.settings.encoder or None,
                                                  adapt=self.settings.adapt,
                                                  progress=self.progress)
        return self._loaded["evaluator"]

    def upload(self, policy: SharingPolicy | str) -> SanitizedSet:
        """The sanitised upload of the user's references under ``policy``."""
        from spinml.sanitize import Sanitizer

        policy = SharingPolicy.coerce(policy)
        key = self._key("upload", policy=str(policy))

        def make(tmp: Path) -> None:
            Sanitizer().sanitize(self.data()[0], policy, progress=False).save(tmp / "upload")

        return self._cached("upload", key, make, lambda f: SanitizedSet.load(f / "upload"))

    def synthetic(self, policy: SharingPolicy | str, seed: int) -> SyntheticSet:
        """The generated set of ``policy`` and ``seed``; the adapters are kept beside it."""
        policy = SharingPolicy.coerce(policy)
        key = self._key("synthetic", policy=str(policy), seed=seed)

        def make(tmp: Path) -> None:
            s = self.settings
            generator = self.generator().set_params(
                lora_steps=s.lora_steps, lora_lr=s.lora_lr, lora_rank=s.lora_rank, lora_seed=seed,
                sample_steps=s.sample_steps, guidance=s.guidance,
                conditioning_scale=s.conditioning_scale).fit(self.upload(policy))
            generator.save(tmp / "generator")
            generator.generate(n_per_class=s.n_per_class, seed=seed).save(tmp / "synthetic")

        return self._cached("synthetic", key, make, lambda f: SyntheticSet.load(f / "synthetic"))

    def training_set(self, policy: SharingPolicy | str, alpha: float, seed: int) -> SyntheticSet:
        """The scheme's synthetic set with a fraction ``alpha`` drawn from ``L0_L0``;
        at ``alpha = 1`` the ``L0_L0`` set itself, at 0 the scheme's own."""
        policy, alpha = _effective(SharingPolicy.coerce(policy), _check_alpha(alpha))
        own = self.synthetic(policy, seed)
        if alpha == 0:
            return own
        return own.mix(self.synthetic(_L0_L0, seed), alpha, seed=seed)

    def trainer(self, seed: int):
        """The :class:`~spinml.Trainer` of every arm: the settings' recipe and ``seed``."""
        from spinml.train import Trainer

        s = self.settings
        return Trainer(arch=s.arch, epochs=s.epochs, lr=s.lr, batch_size=s.batch_size,
                       color_jitter=s.color_jitter, init=s.init or None, seed=seed,
                       progress=self.progress)

    def model(self, policy: SharingPolicy | str, alpha: float, seed: int):
        """The specialised model trained on :meth:`training_set`."""
        from spinml.train import TrainedModel

        policy, alpha = _effective(SharingPolicy.coerce(policy), _check_alpha(alpha))
        key = self._key("model", policy=str(policy), alpha=alpha, seed=seed)

        def make(tmp: Path) -> None:
            self.trainer(seed).fit(self.training_set(policy, alpha, seed)).save(tmp / "model")

        return self._cached("model", key, make, lambda f: TrainedModel.load(f / "model"))

    def baseline_set(self, arm: str, seed: int) -> ReferenceSet:
        """The real images baseline ``arm`` (:data:`BASELINES`) trains on."""
        s = self.settings
        if arm == "references":
            return self.data()[0]
        if arm not in BASELINES:
            raise ValueError(f"unknown baseline {arm!r}; known: {list(BASELINES)}")
        if s.data:
            raise ValueError(f"baseline {arm!r} renders mini-world images: it needs the "
                             "mini-world, not the data folders")
        from spinml.data import miniworld

        if arm == "public":
            return miniworld.public(s.n_per_class, seed=1 + seed, size=s.image_size,
                                    progress=False)
        return miniworld.user(s.user, n_ref=s.n_oracle, n_test=0, size=s.image_size)[0]

    def baseline_model(self, arm: str, seed: int):
        """The model of baseline ``arm`` trained by :meth:`trainer` on :meth:`baseline_set`."""
        from spinml.train import TrainedModel

        key = self._key("model", arm=arm, seed=seed,
                        **{f: getattr(self.settings, f) for f in _BASELINE_FIELDS})

        def make(tmp: Path) -> None:
            self.trainer(seed).fit(self.baseline_set(arm, seed)).save(tmp / "model")

        return self._cached("model", key, make, lambda f: TrainedModel.load(f / "model"))

    def run_baseline(self, arm: str, *, seed: int = 0) -> pd.DataFrame:
        """Utility of baseline ``arm`` (rows of object ``"model"``; ``scheme`` = ``arm``)."""
        key = self._key("metrics", arm=arm, seed=seed,
                        **{f: getattr(self.settings, f) for f in _BASELINE_FIELDS})

        def make(tmp: Path) -> None:
            report = self.evaluator().evaluate(model=self.baseline_model(arm, seed),
                                               scheme=arm, seed=seed)
            report.to_frame().to_csv(tmp / "metrics.csv", index=False)

        return self._with_user(self._cached(
            "metrics", key, make, lambda f: pd.read_csv(f / "metrics.csv", dtype={"seed": int})))

    def _with_user(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(user=self.settings.user)

    def run(self, policy: SharingPolicy | str, *, alpha: float = 0.0,
            seed: int = 0) -> pd.DataFrame:
        """All metrics of one run, tidy (see :meth:`~spinml.evaluate.RunMetrics.to_frame`)."""
        policy = SharingPolicy.coerce(policy)
        alpha = _check_alpha(alpha)
        key = self._key("metrics", policy=str(policy), alpha=alpha, seed=seed)

        def make(tmp: Path) -> None:
            metrics = self.evaluator().evaluate(
                model=self.model(policy, alpha, seed),
                synthetic=self.training_set(policy, alpha, seed),
                sanitized=self.upload(policy), scheme=policy.scheme, alpha=alpha, seed=seed)
            metrics.to_frame().to_csv(tmp / "metrics.csv", index=False)

        return self._with_user(self._cached(
            "metrics", key, make, lambda f: pd.read_csv(f / "metrics.csv", dtype={"seed": int})))

    def _runs(self, policies: Iterable[SharingPolicy | str], alphas: Sequence[float],
              seeds: Sequence[int], baselines: Sequence[str]) -> list[tuple]:
        """``(policy, alpha, seed)`` per run, then ``(arm, None, seed)`` per baseline."""
        policies = [SharingPolicy.coerce(p) for p in policies]
        alphas = [_check_alpha(a) for a in alphas]
        if not policies or not alphas or not seeds:
            raise ValueError("sweep needs at least one policy, one alpha and one seed")
        unknown = set(baselines) - set(BASELINES)
        if unknown:
            raise ValueError(f"unknown baselines {sorted(unknown)}; known: {list(BASELINES)}")
        runs = [(p, a, s) for p in policies for a in alphas for s in seeds]
        return runs + [(arm, None, s) for arm in baselines for s in seeds]

    def sweep(self, policies: Iterable[SharingPolicy | str], alphas: Sequence[float] = (0.0,),
              seeds: Sequence[int] = (0,), baselines: Sequence[str] = (), *,
              executor: Executor | str | None = None) -> pd.DataFrame:
        """Every ``(policy, alpha, seed)`` run, then every ``(baseline, seed)``,
        concatenated in that order; on ``executor`` (see :func:`sweep`) if given."""
        runs = self._runs(policies, alphas, seeds, baselines)
        if executor is not None:
            return _scheduled([(self.settings, runs)], self.cache, executor, self.progress)
        frames = []
        for arm, alpha, seed in tqdm(runs, desc=f"sweep, user {self.settings.user}",
                                     disable=not self.progress):
            frames.append(self.run(arm, alpha=alpha, seed=seed) if alpha is not None
                          else self.run_baseline(arm, seed=seed))
        return pd.concat(frames, ignore_index=True)


_WORKER: dict[tuple[Settings, str], Experiment] = {}


def _in_worker(settings: Settings, cache: str, job: str, *args: Any) -> pd.DataFrame | None:
    """One sweep job in a worker process. The process keeps its last
    :class:`Experiment` (and the models it loaded) for the next job of the same
    settings and cache."""
    experiment = _WORKER.get((settings, cache))
    if experiment is None:
        _WORKER.clear()
        experiment = _WORKER[(settings, cache)] = Experiment(settings, cache=cache,
                                                             progress=False)
    if job == "synthetic":
        experiment.synthetic(*args)
        return None
    if job == "baseline":
        return experiment.run_baseline(args[0], seed=args[1])
    return experiment.run(args[0], alpha=args[1], seed=args[2])


def _scheduled(sweeps: list[tuple[Settings, list[tuple]]], cache: Path,
               executor: Executor | str, progress: bool) -> pd.DataFrame:
    """The runs of every ``(settings, runs)`` on ``executor``, concatenated in order.
    Jobs: each synthetic set that a run trains on (its scheme's, and ``L0_L0``'s
    where it mixes), then each run after the sets it needs; baselines need none."""
    from spinml.executors import Job, RayExecutor, run_jobs

    if isinstance(executor, str) and executor != "ray":
        raise ValueError(f"executor must be a concurrent.futures.Executor, 'ray' or None, "
                         f"got {executor!r}")
    if not isinstance(executor, (Executor, str)):
        raise TypeError(f"executor must be a concurrent.futures.Executor, 'ray' or None, "
                        f"got {type(executor).__name__}")
    cache = str(Path(cache).resolve())
    sets: dict[tuple, int] = {}
    jobs: list[Job] = []
    for settings, runs in sweeps:
        for arm, alpha, seed in runs:
            if alpha is None:
                continue
            policy, alpha = _effective(arm, alpha)
            for needed in [policy] + ([_L0_L0] if 0 < alpha < 1 else []):
                if (settings, str(needed), seed) not in sets:
                    sets[settings, str(needed), seed] = len(jobs)
                    jobs.append(Job(_in_worker, (settings, cache, "synthetic", str(needed), seed),
                                    counted=False))
    for settings, runs in sweeps:
        for arm, alpha, seed in runs:
            if alpha is None:
                jobs.append(Job(_in_worker, (settings, cache, "baseline", arm, seed)))
                continue
            policy, effective = _effective(arm, alpha)
            after = [sets[settings, str(policy), seed]]
            if 0 < effective < 1:
                after.append(sets[settings, str(_L0_L0), seed])
            jobs.append(Job(_in_worker, (settings, cache, "run", str(arm), alpha, seed),
                            after=tuple(after)))
    owned = RayExecutor() if executor == "ray" else None
    try:
        results = run_jobs(jobs, owned or executor, progress=progress)
    finally:
        if owned is not None:
            owned.shutdown()
    return pd.concat([r for r, job in zip(results, jobs, strict=True) if job.counted],
                     ignore_index=True)


def run(policy: SharingPolicy | str, *, alpha: float = 0.0, seed: int = 0,
        settings: Settings | None = None, cache: str | Path | None = None,
        progress: bool = True) -> pd.DataFrame:
    """One scheme end to end: sanitise, fit, generate, train, evaluate (see the module)."""
    return Experiment(settings, cache=cache, progress=progress).run(policy, alpha=alpha,
                                                                     seed=seed)


def sweep(policies: Iterable[SharingPolicy | str], alphas: Sequence[float] = (0.0,),
          seeds: Sequence[int] = (0,), *, baselines: Sequence[str] = BASELINES,
          settings: Settings | None = None, cache: str | Path | None = None,
          progress: bool = True, executor: Executor | str | None = None) -> pd.DataFrame:
    """:meth:`Experiment.sweep` over ``policies x alphas x seeds`` and ``baselines``
    for each of ``settings.users``: one tidy DataFrame with a ``user`` column.

    ``executor``: ``None`` runs everything in this process; a
    :class:`concurrent.futures.Executor` (e.g.
    :func:`spinml.executors.process_pool`, or ``dask.distributed``'s) or
    ``"ray"`` (:class:`spinml.executors.RayExecutor`, stopped afterwards if it
    started Ray) runs every user's jobs there in dependency order, on the one
    cache folder (which workers on other hosts must see at the same path). The
    frame has the sequential sweep's rows in its order; its values are the
    sequential sweep's on the CPU where each worker runs torch on as many threads
    as the sequential sweep did (see the module).
    """
    settings, policies = settings or Settings(), list(policies)
    experiments = [Experiment(dataclasses.replace(settings, users=(u,)), cache=cache,
                              progress=progress) for u in settings.users]
    if executor is not None:
        return _scheduled([(e.settings, e._runs(policies, alphas, seeds, baselines))
                           for e in experiments], experiments[0].cache, executor, progress)
    return pd.concat([e.sweep(policies, alphas, seeds, baselines) for e in experiments],
                     ignore_index=True)


def utility_runs(frame: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """One row per arm, user and seed at ``alpha = 0`` (columns ``arm``, ``user``,
    ``seed``, ``accuracy``): the input of :func:`spinml.evaluate.paired.paired_table`."""
    rows = frame[(frame["object"] == "model") & (frame["metric"] == metric)
                 & ~(frame["alpha"] > 0)]
    return (rows.rename(columns={"scheme": "arm", "value": metric})
            [["arm", "user", "seed", metric]].reset_index(drop=True))
