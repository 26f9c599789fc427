"""DP-FedEmb under ``flwr run``: on Flower's Deployment Engine (a SuperLink and two
SuperNodes on 127.0.0.1, insecure, for the test) and on its Simulation Engine (a SuperLink
in simulation mode, Ray with 2 CPUs), against the backbone of the in-process trainer."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from spinml import DPFedEmbTrainer

flower = pytest.importorskip("spinml.federated.flower")
psutil = pytest.importorskip("psutil")
from safetensors.torch import load_file, save_file  # noqa: E402

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


def population(n_users: int) -> list[tuple[np.ndarray, list[str]]]:
    rng = np.random.default_rng(0)
    return [(rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8),
             [f"u{u}/pet{i % 2}" for i in range(6)]) for u in range(n_users)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(processes: list[subprocess.Popen]) -> None:
    """Terminate the processes and everything they started (Flower's SuperExec and app
    processes start their own sessions), then kill what is left after 10 s."""
    tree = []
    for p in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            tree += [psutil.Process(p.pid), *psutil.Process(p.pid).children(recursive=True)]
    for proc in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(tree, timeout=10)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)


def wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


def flwr_run(env: dict, connection: str, config: str, out: Path) -> dict[str, torch.Tensor]:
    """``flwr run`` of the Flower App with ``config``; the backbone it wrote into ``out``."""
    run = subprocess.run([BIN / "flwr", "run", str(flower.APP_DIR), connection, "--stream",
                          "--run-config", f"{config} output-dir='{out}'"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    deadline = time.monotonic() + 120
    while not (out / "history.json").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert (out / "history.json").exists(), (run.stdout + run.stderr)[-5000:]
    return load_file(out / "backbone.safetensors")


def max_difference(backbone: dict[str, torch.Tensor], trainer: DPFedEmbTrainer) -> float:
    got = torch.cat([backbone[k].reshape(-1) for k, _ in trainer.backbone_.named_parameters()])
    return (got - torch.nn.utils.parameters_to_vector(trainer.backbone_.parameters())).abs().max(
        ).item()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_deployment_engine_equals_in_process_trainer(tmp_path):
    users = population(4)
    kw = dict(q=0.6, rounds=2, users_per_client=2, head_steps=1, seed=0)
    reference = DPFedEmbTrainer(sigma=0.0, progress=False, **kw)
    init = reference.get_backbone().state_dict()
    save_file({k: v.detach().contiguous() for k, v in init.items()}, tmp_path / "init.safetensors")
    n_clients = flower.write_partitions(reference, users, tmp_path / "data")
    assert n_clients == 2
    reference.fit(users)
    with pytest.warns(UserWarning, match="noise_seed"):
        noisy = DPFedEmbTrainer(sigma=0.7, noise_seed=3, progress=False, **kw).fit(users)

    home = tmp_path / "flwr"
    home.mkdir()
    link = free_port()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "test"\n\n[superlink.test]\naddress = "127.0.0.1:{link}"\n'
        f'insecure = true\n')
    env = dict(os.environ, FLWR_HOME=str(home), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    logs = {name: (tmp_path / f"{name}.log").open("w")
            for name in ("superlink", "supernode-0", "supernode-1")}
    processes: list[subprocess.Popen] = []
    start = time.perf_counter()
    try:
        processes.append(subprocess.Popen(
            [BIN / "flower-superlink", "--insecure", "--host", "127.0.0.1", "--port", str(link),
             "--database", ":flwr-in-memory:", "--disable-runtime-dependency-installation"],
            env=env, stdout=logs["superlink"], stderr=subprocess.STDOUT))
        wait_for_port(link, processes[0], 120)
        for i in range(2):
            processes.append(subprocess.Popen(
                [BIN / "flower-supernode", "--insecure", "--superlink", f"127.0.0.1:{link}",
                 "--host", "127.0.0.1", "--port", str(free_port()),
                 "--node-config", f"partition-id={i} num-partitions=2"],
                env=env, stdout=logs[f"supernode-{i}"], stderr=subprocess.STDOUT))
        results = {}
        for name, sigma, noise_seed in (("plain", 0.0, -1), ("noisy", 0.7, 3)):
            results[name] = flwr_run(env, "test", (
                f"q=0.6 rounds=2 users-per-client=2 head-steps=1 seed=0 sigma={sigma} "
                f"noise-seed={noise_seed} n-clients=2 data-dir='{tmp_path / 'data'}' "
                f"init-path='{tmp_path / 'init.safetensors'}' node-wait=120.0 "
                f"reply-timeout=300.0"), tmp_path / name)
        wall = time.perf_counter() - start
    finally:
        stop(processes)
        for log in logs.values():
            log.close()
    for name, trainer in (("plain", reference), ("noisy", noisy)):
        diff = max_difference(results[name], trainer)
        print(f"Deployment Engine, {name}: max |difference| {diff:.3g} ({wall:.0f} s in all)")
        assert diff <= 1e-5
    assert (results["noisy"]["features.0.weight"]
            - results["plain"]["features.0.weight"]).abs().max() > 1e-4


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_flwr_run_on_the_simulation_engine_equals_in_process_trainer(tmp_path):
    users = population(4)
    reference = DPFedEmbTrainer(q=0.6, sigma=0.0, rounds=2, users_per_client=2, head_steps=1,
                                progress=False)
    assert flower.write_partitions(reference, users, tmp_path / "data") == 2
    reference.fit(users)
    home = tmp_path / "flwr"
    home.mkdir()
    link = free_port()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "sim"\n\n[superlink.sim]\naddress = "127.0.0.1:{link}"\n'
        f'insecure = true\noptions.num-supernodes = 2\noptions.backend.name = "ray"\n'
        f'options.backend.init-args.num-cpus = 2\n'
        f'options.backend.client-resources.num-cpus = 1\n')
    env = dict(os.environ, FLWR_HOME=str(home), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    log = (tmp_path / "superlink.log").open("w")
    processes: list[subprocess.Popen] = []
    start = time.perf_counter()
    try:
        processes.append(subprocess.Popen(
            [BIN / "flower-superlink", "--simulation", "--insecure", "--host", "127.0.0.1",
             "--port", str(link), "--database", ":flwr-in-memory:",
             "--disable-runtime-dependency-installation"],
            env=env, stdout=log, stderr=subprocess.STDOUT))
        wait_for_port(link, processes[0], 120)
        backbone = flwr_run(env, "sim", (
            f"q=0.6 rounds=2 users-per-client=2 head-steps=1 seed=0 sigma=0.0 n-clients=2 "
            f"data-dir='{tmp_path / 'data'}' node-wait=120.0 reply-timeout=300.0"),
            tmp_path / "out")
        wall = time.perf_counter() - start
    finally:
        stop(processes)
        log.close()
    diff = max_difference(backbone, reference)
    print(f"Simulation Engine (flwr run, Ray): max |difference| {diff:.3g} ({wall:.0f} s)")
    assert diff <= 1e-5
