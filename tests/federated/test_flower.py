"""The Flower ClientApp/ServerApp pair gives the in-process trainer's backbone."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from spinml import DPFedEmbTrainer
from spinml.federated.noise import NoiseSource

flower = pytest.importorskip("spinml.federated.flower")


def population(n_users: int) -> list[tuple[np.ndarray, list[str]]]:
    rng = np.random.default_rng(0)
    return [(rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8),
             [f"u{u}/pet{i % 2}" for i in range(8)]) for u in range(n_users)]


@pytest.mark.filterwarnings("ignore:noise_seed")
@pytest.mark.parametrize("sigma, noise_seed", [(0.0, None), (0.8, 5)])
def test_flower_equals_in_process_trainer_with_empty_clients(sigma, noise_seed):
    users = population(24)
    kw = dict(q=0.6, sigma=sigma, rounds=3, users_per_client=2, head_steps=1,
              noise_seed=noise_seed, progress=False)
    reference = DPFedEmbTrainer(**kw).fit(users)
    federated = flower.run_in_process(DPFedEmbTrainer(**kw), users)
    assert len(federated.clients_) == 12
    empty = {i for i, c in enumerate(federated.clients_) if not c.users}
    source = NoiseSource(0 if noise_seed is None else noise_seed)  # sigma = 0: the public seed
    assert empty and any(empty & set(flower.sample_clients("fedavg", 0.6, 12, t, source))
                         for t in range(3))
    a = torch.nn.utils.parameters_to_vector(reference.backbone_.parameters())
    b = torch.nn.utils.parameters_to_vector(federated.backbone_.parameters())
    assert (a - b).abs().max().item() <= 1e-5
    start = torch.nn.utils.parameters_to_vector(DPFedEmbTrainer(**kw)._backbone().parameters())
    assert (a - start).abs().max().item() > 1e-3


def test_client_reply_holds_backbone_delta_only():
    from flwr.app import ArrayRecord, ConfigRecord, Message, RecordDict

    trainer = DPFedEmbTrainer(users_per_client=1, clip=0.05, progress=False)
    clients = flower.virtual_clients(population(2), 1, 0)
    grid = flower.InProcessGrid(flower.make_client_app(trainer, clients), len(clients))
    backbone = trainer._backbone()
    state = {k: v.detach().clone() for k, v in backbone.state_dict().items()}
    msg = Message(RecordDict({"backbone": ArrayRecord(state),
                              "config": ConfigRecord({"round": 0})}),
                  dst_node_id=grid.FIRST_NODE, message_type="train")
    (reply,) = grid.send_and_receive([msg])
    assert set(reply.content.keys()) == {"delta", "metrics"}
    delta = reply.content["delta"].to_torch_state_dict()
    assert list(delta) == [k for k, _ in backbone.named_parameters()]
    assert torch.cat([v.reshape(-1) for v in delta.values()]).norm() <= 0.05 + 1e-6


def test_clear_error_without_flower():
    code = ("import sys; sys.modules['flwr'] = None\n"
            "try:\n    import spinml.federated.flower\n"
            "except ImportError as e:\n    print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install 'spinml[federated]'" in out


def test_flower_noise_is_secret_by_default():
    users = population(8)
    kw = dict(q=1.0, sigma=0.8, rounds=1, users_per_client=2, progress=False)
    a, b = (flower.run_in_process(DPFedEmbTrainer(**kw), users) for _ in range(2))
    va, vb = (torch.nn.utils.parameters_to_vector(t.backbone_.parameters()) for t in (a, b))
    assert (va - vb).abs().max().item() > 1e-3
    assert a.epsilon(1e-3).noise == "secure" and a.epsilon(1e-3).holds
