"""Where a sweep's runs execute: a local process pool, Ray tasks, or any executor.

A sweep is a list of :class:`Job` s with dependencies (a scheme's synthetic set
and the ``L0_L0`` set it mixes with before the runs that train on them);
:func:`run_jobs` submits each job to a :class:`concurrent.futures.Executor`
once the jobs it depends on are done, in list order, and returns the results
in list order whatever order they finished in.

Torch threads: ``w`` workers on ``c`` cores get ``max(1, c // w)`` threads
each (:func:`process_pool`'s initialiser, :class:`RayExecutor`'s tasks), so
the workers together do not oversubscribe the cores. An executor built
elsewhere keeps its workers' own thread settings. A sweep's runs then compute
on ``Settings.threads`` each, as in the sequential sweep, so that their
numbers do not depend on where they ran (:mod:`spinml.experiment`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from spinml import checks

__all__ = ["Job", "run_jobs", "process_pool", "RayExecutor", "make_executor", "cores",
           "EXECUTOR_KINDS"]

EXECUTOR_KINDS = ("process", "ray")
"""What :func:`make_executor` builds: a local process pool or Ray tasks."""


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS says, else
    ``os.cpu_count()``)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


@dataclass(frozen=True)
class Job:
    """``fn(*args)``, run after the jobs at indices ``after``; ``counted`` jobs
    advance the progress bar (the runs, not the sets they depend on)."""

    fn: Callable[..., Any]
    args: tuple = ()
    after: tuple[int, ...] = ()
    counted: bool = True


def run_jobs(jobs: Sequence[Job], executor: Executor, *, progress: bool = True,
             desc: str = "sweep") -> list[Any]:
    """Every job's result, in the order of ``jobs``. A job is submitted once all
    jobs it comes ``after`` have finished; ready jobs go in list order. The first
    failure cancels what has not started and is raised."""
    for i, job in enumerate(jobs):
        if any(not 0 <= d < i for d in job.after):
            raise ValueError(f"job {i} depends on {job.after}: a job may only come after "
                             "jobs listed before it")
    results: list[Any] = [None] * len(jobs)
    done: set[int] = set()
    waiting = list(range(len(jobs)))
    running: dict[Future, int] = {}
    bar = tqdm(total=sum(j.counted for j in jobs), desc=desc, disable=not progress)
    try:
        while waiting or running:
            ready = [i for i in waiting if done.issuperset(jobs[i].after)]
            for i in ready:
                running[executor.submit(jobs[i].fn, *jobs[i].args)] = i
            waiting = [i for i in waiting if i not in ready]
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                i = running.pop(future)
                results[i] = future.result()
                done.add(i)
                bar.update(jobs[i].counted)
    except BaseException:
        for future in running:
            future.cancel()
        raise
    finally:
        bar.close()
    return results


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` fresh (spawned, not forked: torch's thread pools do not
    survive a fork) processes, each with ``max(1, cores() // workers)`` torch threads."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_set_threads,
                               initargs=(max(1, cores() // workers),))


def _call_with_threads(threads: int, fn: Callable[..., Any], *args: Any) -> Any:
    _set_threads(threads)
    return fn(*args)


class RayExecutor(Executor):
    """Ray tasks behind the :class:`~concurrent.futures.Executor` interface.

    Connects to a running Ray (``ray.init`` called before), else to ``address``
    (or ``$RAY_ADDRESS``: an existing cluster, whose nodes must import the same
    spinml and see the sweep's cache folder at the same path), else starts a
    local Ray bounded to ``num_cpus`` cores (default :func:`cores`). Each task
    asks for ``cpus_per_task`` CPUs and ``gpus_per_task`` GPUs (default: 1 when
    the cluster has GPUs, else 0); its torch threads are ``cpus_per_task`` on a
    cluster, and locally this machine's cores over the tasks that run at once.
    ``shutdown`` stops Ray only where this executor started it.
    """

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 cpus_per_task: int = 1, gpus_per_task: float | None = None) -> None:
        import ray

        for name, value in (("num_cpus", num_cpus), ("cpus_per_task", cpus_per_task)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"RayExecutor: {name} must be a positive integer, got {value!r}")
        self._started, self.threads = False, cpus_per_task
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS") or None
            if address is None:
                num_cpus = num_cpus or cores()
                ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
                self.threads = max(1, cores() * cpus_per_task // num_cpus)
            else:
                ray.init(address=address, log_to_driver=False)
            self._started = True
        if gpus_per_task is None:
            gpus_per_task = 1 if ray.cluster_resources().get("GPU", 0) else 0
        self.cpus_per_task, self.gpus_per_task = cpus_per_task, gpus_per_task
        self._task = ray.remote(_call_with_threads).options(num_cpus=cpus_per_task,
                                                            num_gpus=gpus_per_task)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if kwargs:
            raise TypeError("RayExecutor.submit takes positional arguments only")
        return self._task.remote(self.threads, fn, *args).future()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        import ray

        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started = False


def make_executor(workers: int = 0, kind: str = "process", *,
                  threads: int = 1) -> Executor | None:
    """The executor of ``workers`` parallel runs of ``threads`` torch threads each
    (``workers=0``: ``max(1, cores() // threads)``, filling the cores): ``kind``
    ``"process"`` gives :func:`process_pool` (``None``, this process, for one
    worker), ``"ray"`` a :class:`RayExecutor` of that many CPUs (or the cluster at
    ``$RAY_ADDRESS``). The caller shuts it down."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be an integer >= 0 (0: fill the cores), got {workers!r}")
    if kind not in EXECUTOR_KINDS:
        raise ValueError(f"executor must be one of {list(EXECUTOR_KINDS)}, got {kind!r}")
    checks.positive_int(threads, "threads")
    workers = workers or max(1, cores() // threads)
    if kind == "ray":
        return RayExecutor(num_cpus=workers)
    return process_pool(workers) if workers > 1 else None
