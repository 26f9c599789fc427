"""Sweeps on executors: dependency order, one shared cache built once, the sequential frame.

Torch's CPU kernels may sum in another order on another number of threads (the
LoRA fit's last bits moved between 2 threads and 1 here), so every run computes
on ``Settings.threads`` whoever runs it: the sequential reference is swept with
torch's own thread count in this process, and still equals the workers' frames.
"""

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
import torch

from spinml.executors import Job, cores, make_executor, process_pool, run_jobs
from spinml.experiment import Experiment, Settings, sweep

TOY = Settings(n_ref=2, n_test=3, n_oracle=3, lora_steps=3, n_per_class=3, sample_steps=2,
               epochs=1, batch_size=8)
SWEEP = dict(policies=["target=L2,background=L1"], alphas=(0, 0.5), seeds=(0,),
             baselines=("public",), settings=TOY, progress=False)


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        frame = sweep(**SWEEP, cache=tmp_path_factory.mktemp("sequential"))
        assert torch.get_num_threads() == 2  # the runs' own count is restored afterwards
        return frame
    finally:
        torch.set_num_threads(threads)


@pytest.mark.timeout(600)
def test_a_process_pool_gives_the_sequential_frame(sequential, tmp_path):
    with process_pool(2) as pool:
        frame = sweep(**SWEEP, cache=tmp_path, executor=pool)
    pd.testing.assert_frame_equal(frame, sequential, check_exact=True)
    assert list(frame.scheme.unique()) == ["L2_L1", "public"]
    assert len(list((tmp_path / "synthetic").iterdir())) == 2  # L2_L1 and the L0_L0 it mixes
    again = Experiment(TOY, cache=tmp_path, progress=False)
    pd.testing.assert_frame_equal(again.sweep(SWEEP["policies"], SWEEP["alphas"], (0,),
                                              ("public",)), sequential, check_exact=True)
    assert "generator" not in again._loaded  # the pool's entries are the sequential ones


@pytest.mark.slow  # a local Ray takes ~1 min to start on a loaded 2-core machine
@pytest.mark.timeout(600)
def test_ray_tasks_give_the_sequential_frame(sequential, tmp_path):
    ray = pytest.importorskip("ray")
    from spinml.executors import RayExecutor

    executor = RayExecutor(num_cpus=2)
    try:
        assert executor.threads == 1 and executor.gpus_per_task == 0
        frame = Experiment(TOY, cache=tmp_path, progress=False).sweep(
            SWEEP["policies"], SWEEP["alphas"], (0,), ("public",), executor=executor)
    finally:
        executor.shutdown()
    assert not ray.is_initialized()
    pd.testing.assert_frame_equal(frame, sequential, check_exact=True)


def _ask_for_one_entry(cache, log, barrier) -> None:
    experiment = Experiment(TOY, cache=cache, progress=False)
    key = experiment._key("upload", probe="two workers")

    def make(tmp):
        with open(log, "a") as fh:
            fh.write("built\n")
        time.sleep(1.0)
        (tmp / "value.txt").write_text("the one build")

    barrier.wait()
    value = experiment._cached("upload", key, make, lambda f: (f / "value.txt").read_text())
    with open(log, "a") as fh:
        fh.write(f"loaded {value}\n")


@pytest.mark.timeout(300)
def test_two_workers_asking_for_one_entry_build_it_once(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    log = tmp_path / "log.txt"
    workers = [context.Process(target=_ask_for_one_entry, args=(tmp_path / "cache", log, barrier))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(240)
    assert [w.exitcode for w in workers] == [0, 0]
    lines = log.read_text().splitlines()
    assert lines.count("built") == 1
    assert lines.count("loaded the one build") == 2
    assert len(list((tmp_path / "cache" / "upload").iterdir())) == 1


def test_jobs_start_after_their_dependencies_and_come_back_in_order():
    started, finished = {}, {}
    lock = threading.Lock()

    def job(name, seconds):
        with lock:
            started[name] = time.monotonic()
        time.sleep(seconds)
        with lock:
            finished[name] = time.monotonic()
        return name

    jobs = [Job(job, ("set a", 0.3), counted=False), Job(job, ("set b", 0.05), counted=False),
            Job(job, ("run a", 0.0), after=(0,)), Job(job, ("run b", 0.0), after=(1,)),
            Job(job, ("run ab", 0.0), after=(0, 1)), Job(job, ("baseline", 0.0))]
    with ThreadPoolExecutor(4) as pool:
        results = run_jobs(jobs, pool, progress=False)
    assert results == ["set a", "set b", "run a", "run b", "run ab", "baseline"]
    assert started["run a"] >= finished["set a"] and started["run b"] >= finished["set b"]
    assert started["run ab"] >= max(finished["set a"], finished["set b"])
    assert started["run b"] < finished["set a"]  # not held back by an unrelated set


def test_a_failing_job_is_raised_and_its_dependants_never_start():
    ran = []

    def fail():
        raise RuntimeError("generator fit failed")

    jobs = [Job(fail, counted=False), Job(ran.append, ("dependant",), after=(0,))]
    with ThreadPoolExecutor(2) as pool, pytest.raises(RuntimeError, match="fit failed"):
        run_jobs(jobs, pool, progress=False)
    assert ran == []
    with pytest.raises(ValueError, match="only come after"):
        run_jobs([Job(print, after=(0,))], ThreadPoolExecutor(1), progress=False)


def test_bad_executors_and_worker_counts_are_refused(tmp_path):
    with pytest.raises(ValueError, match="executor must be"):
        sweep(**SWEEP, cache=tmp_path, executor="dask")
    with pytest.raises(TypeError, match="executor must be"):
        sweep(**SWEEP, cache=tmp_path, executor=4)
    with pytest.raises(ValueError, match="workers"):
        process_pool(0)
    with pytest.raises(ValueError, match="workers"):
        make_executor(-1)
    with pytest.raises(ValueError, match="executor must be one of"):
        make_executor(2, "threads")
    with pytest.raises(ValueError, match="threads"):
        make_executor(0, threads=0)
    assert make_executor(1) is None
    assert make_executor(0, threads=cores()) is None  # one run fills the cores: no pool
    assert not list(tmp_path.iterdir())
