"""The Flower ClientApp / ServerApp pair on Flower's Simulation Engine (Ray) gives the
in-process trainer's backbone; noise on the server only, secret by default."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: flwr depends on tomli, the same parser
    import tomli as tomllib

from spinml import DPFedEmbTrainer

flower = pytest.importorskip("spinml.federated.flower")


def population(n_users: int) -> list[tuple[np.ndarray, list[str]]]:
    rng = np.random.default_rng(0)
    return [(rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8),
             [f"u{u}/pet{i % 2}" for i in range(6)]) for u in range(n_users)]


def vector(trainer: DPFedEmbTrainer) -> torch.Tensor:
    return torch.nn.utils.parameters_to_vector(trainer.backbone_.parameters()).detach()


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.filterwarnings("ignore:noise_seed")
@pytest.mark.parametrize("sigma, noise_seed", [(0.0, None), (0.8, 5), (0.8, None)])
def test_simulation_engine_equals_in_process_trainer(sigma, noise_seed):
    users = population(10)
    kw = dict(q=0.6, sigma=sigma, rounds=2, users_per_client=2, head_steps=1,
              noise_seed=noise_seed, progress=False)
    reference = DPFedEmbTrainer(**kw).fit(users)
    federated = flower.run_simulation(DPFedEmbTrainer(**kw), users, num_cpus=2)
    assert len(federated.clients_) == 5
    assert any(not c.users for c in federated.clients_)  # an empty hashed bucket takes part
    difference = (vector(reference) - vector(federated)).abs().max().item()
    record = federated.epsilon(1e-3)
    if sigma > 0 and noise_seed is None:
        # secret noise and sample, drawn on the server: not those of another run
        assert difference > 1e-3 and record.noise == "secure" and record.holds
        return
    assert difference <= 1e-5
    assert [h["clients"] for h in federated.history_] == [h["clients"] for h in
                                                         reference.history_]
    for key in ("mean_norm", "clipped"):
        assert [h[key] for h in federated.history_] == pytest.approx(
            [h[key] for h in reference.history_], rel=1e-4)
    start = torch.nn.utils.parameters_to_vector(DPFedEmbTrainer(**kw).get_backbone().parameters())
    assert (vector(federated) - start).abs().max().item() > 1e-3


def test_partitions_round_trip(tmp_path):
    trainer = DPFedEmbTrainer(users_per_client=2, progress=False)
    users = population(6)
    n = flower.write_partitions(trainer, users, tmp_path)
    clients = flower.virtual_clients(users, 2, 0)
    assert n == len(clients) == 3
    for i, client in enumerate(clients):
        loaded = flower.load_partition(tmp_path, i)
        assert torch.equal(loaded.images, client.images) and torch.equal(loaded.labels,
                                                                          client.labels)
        assert (loaded.n_classes, loaded.users) == (client.n_classes, client.users)
    with pytest.raises(FileNotFoundError, match="client-7.npz"):
        flower.load_partition(tmp_path, 7)


def test_app_config_gives_the_trainers_defaults():
    with (flower.APP_DIR / "pyproject.toml").open("rb") as f:
        app = tomllib.load(f)["tool"]["flwr"]["app"]
    assert app["components"] == {"serverapp": "spinml.federated.flower:server_app",
                                 "clientapp": "spinml.federated.flower:client_app"}
    config = app["config"]
    trainer = flower.trainer_from_config(config)
    defaults = DPFedEmbTrainer(progress=False).get_params()
    for name in ("q", "clip", "sigma", "rounds", "users_per_client", "client_lr", "batch_size",
                 "local_epochs", "head_steps", "cosine", "server_lr", "server_momentum", "dim",
                 "widths", "norm", "seed", "aggregator"):
        assert trainer.get_params()[name] == defaults[name], name
    assert trainer.noise_seed is None and config["noise-seed"] == -1
    assert flower.trainer_from_config(config | {"noise-seed": 4}).noise_seed == 4


def test_clear_error_without_flower():
    code = ("import sys; sys.modules['flwr'] = None\n"
            "try:\n    import spinml.federated.flower\n"
            "except ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install 'spinml[federated]'" in out
