"""DP-FedEmb on Flower: a ClientApp / ServerApp pair running the client update and the
server rounds of :class:`~spinml.federated.DPFedEmbTrainer` through Flower's public
Message API only.

- The ClientApp: the node whose ``node_config["partition-id"]`` is ``i`` holds
  virtual client ``i`` (given in this process, or read from
  ``<data-dir>/client-<i>.npz`` written by :func:`write_partitions`, ``data-dir``
  from the node config, else from the run config). A ``query``
  message gets its partition id back; a ``train`` message carries the backbone
  and the round: the node runs the local update
  (:func:`~spinml.federated.dp_fedemb.client_deltas`), clips the delta to norm ``C``
  and replies with the clipped delta only (an ``ArrayRecord`` named by the
  backbone's parameters) and its norm before clipping. The head never leaves the
  node, and the node draws no noise. A node whose virtual client is an empty
  hashed bucket replies with a zero delta, so the ``B`` nodes are the ``B``
  clients of the accounting.
- The ServerApp waits for the ``B`` nodes (bounded), asks each for its
  partition id, then runs :meth:`~spinml.federated.DPFedEmbTrainer.train_rounds`,
  the trainer's own server loop: the client sample and the noise are drawn on the
  server only, from the trainer's
  :meth:`~spinml.federated.DPFedEmbTrainer.noise_source`, and ``history_`` is kept.

Runtimes: :func:`run_simulation` runs the pair on Flower's Simulation Engine (Ray,
one virtual SuperNode per virtual client) from this process. ``flwr run`` runs the
Flower App in :data:`APP_DIR` (its ``pyproject.toml`` names the module-level
:data:`server_app` and :data:`client_app`) on a SuperLink with SuperNodes (the
Deployment Engine) or on the Simulation Engine; those apps build the trainer from
the run config (:func:`trainer_from_config`, keys in :data:`APP_DIR`'s
``[tool.flwr.app.config]``), read the initial backbone from ``init-path`` and write
``backbone.safetensors`` and ``history.json`` into ``output-dir``. Needs the
``federated`` extra.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save

from spinml.federated.aggregators import clip_deltas
from spinml.federated.dp_fedemb import (
    Client,
    DPFedEmbTrainer,
    client_deltas,
    flatten,
    population_users,
    unflatten,
    virtual_clients,
)
from spinml.io import atomic_write_bytes, atomic_write_text

try:
    from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
except ImportError:
    raise ImportError("spinml.federated.flower needs Flower: "
                      "pip install 'spinml[federated]'") from None

__all__ = ["make_client_app", "make_server_app", "run_simulation", "write_partitions",
           "load_partition", "trainer_from_config", "client_app", "server_app", "APP_DIR",
           "run_in_process"]

APP_DIR = Path(__file__).with_name("flower_app")
"""The Flower App folder for ``flwr run``: a ``pyproject.toml`` naming :data:`server_app`,
:data:`client_app` and the run config's keys and defaults."""

_SETTINGS = {"q": "q", "clip": "clip", "sigma": "sigma", "rounds": "rounds",
             "users-per-client": "users_per_client", "aggregator": "aggregator",
             "client-lr": "client_lr", "batch-size": "batch_size",
             "local-epochs": "local_epochs", "head-steps": "head_steps", "cosine": "cosine",
             "server-lr": "server_lr", "server-momentum": "server_momentum", "dim": "dim",
             "norm": "norm", "seed": "seed"}


def trainer_from_config(config: Mapping[str, object]) -> DPFedEmbTrainer:
    """A trainer with the settings of a Flower run config (keys of :data:`APP_DIR`'s
    ``[tool.flwr.app.config]``: ``widths`` as ``"8,16,32"``, ``noise-seed < 0`` for
    secure noise)."""
    kwargs = {name: config[key] for key, name in _SETTINGS.items() if key in config}
    if "widths" in config:
        kwargs["widths"] = tuple(int(w) for w in str(config["widths"]).split(","))
    noise_seed = int(config.get("noise-seed", -1))
    return DPFedEmbTrainer(**kwargs, noise_seed=None if noise_seed < 0 else noise_seed,
                           progress=False)


def write_partitions(trainer: DPFedEmbTrainer, population: object, folder: str | Path) -> int:
    """Write the virtual clients of ``population`` (the trainer's ``users_per_client``,
    ``seed``, ``crop`` and ``n_clients``) as ``client-<i>.npz`` files (uint8 images
    ``(n, 3, H, W)``, labels, ``n_classes``) into ``folder``: the data of SuperNode
    partition ``i``. Returns the number ``B`` of clients."""
    clients = virtual_clients(population_users(population), trainer.users_per_client,
                              trainer.seed, trainer.crop, trainer.n_clients)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, client in enumerate(clients):
        with (folder / f"client-{i}.npz.tmp").open("wb") as f:
            np.savez(f, images=client.images.numpy(), labels=client.labels.numpy(),
                     n_classes=np.int64(client.n_classes), users=np.array(client.users, np.int64))
        (folder / f"client-{i}.npz.tmp").replace(folder / f"client-{i}.npz")
    return len(clients)


def load_partition(folder: str | Path, partition: int) -> Client:
    """The virtual client that :func:`write_partitions` wrote as partition ``partition``."""
    path = Path(folder) / f"client-{int(partition)}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no data for partition {partition} (write it with "
                                f"spinml.federated.flower.write_partitions)")
    with np.load(path, allow_pickle=False) as data:
        return Client(images=torch.from_numpy(data["images"]),
                      labels=torch.from_numpy(data["labels"]), n_classes=int(data["n_classes"]),
                      users=tuple(int(u) for u in data["users"]))


def make_client_app(trainer: DPFedEmbTrainer | None = None,
                    clients: Sequence[Client] | None = None) -> ClientApp:
    """A ClientApp whose node ``partition-id`` ``i`` is virtual client ``clients[i]``
    (``None``: :func:`load_partition` of the node config's ``data-dir``, else the run
    config's), trained with
    ``trainer``'s settings (``None``: :func:`trainer_from_config` of the run config)."""
    app = ClientApp()

    @app.query()
    def query(msg: Message, context: Context) -> Message:
        partition = int(context.node_config["partition-id"])
        return Message(RecordDict({"node": ConfigRecord({"partition-id": partition})}),
                       reply_to=msg)

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        partition = int(context.node_config["partition-id"])
        local = trainer_from_config(context.run_config) if trainer is None else trainer
        if clients is None:
            folder = context.node_config.get("data-dir") or context.run_config["data-dir"]
            client = load_partition(str(folder), partition)
        else:
            client = clients[partition]
        round_ = int(msg.content["config"]["round"])
        theta = {k: v.float() for k, v in msg.content["backbone"].to_torch_state_dict().items()}
        delta = client_deltas(local.get_backbone(), theta, [client], local.local_settings,
                              round_, [partition], vectorised=False)
        clipped = clip_deltas(delta, local.clip)[0]
        return Message(RecordDict({"delta": ArrayRecord(unflatten(clipped, theta)),
                                   "metrics": MetricRecord({"norm": float(delta.norm())})}),
                       reply_to=msg)

    return app


def _partitions(grid: Grid, n_clients: int, wait: float, timeout: float) -> dict[int, int]:
    """Node id of each partition ``0 .. n_clients - 1``, asked of the nodes."""
    deadline = time.monotonic() + wait
    while len(nodes := list(grid.get_node_ids())) < n_clients:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(nodes)} SuperNodes connected within {wait:g} s, "
                               f"expected {n_clients} (one per virtual client)")
        time.sleep(0.5)
    asks = [Message(RecordDict({"ask": ConfigRecord({"partition-id": True})}), dst_node_id=n,
                    message_type="query") for n in nodes]
    owner = {}
    for reply in grid.send_and_receive(asks, timeout=timeout):
        if reply.has_error():
            raise RuntimeError(f"node {reply.metadata.src_node_id}: {reply.error}")
        owner[int(reply.content["node"]["partition-id"])] = reply.metadata.src_node_id
    if sorted(owner) != list(range(n_clients)):
        raise ValueError(f"the SuperNodes hold partitions {sorted(owner)}, expected 0 .. "
                         f"{n_clients - 1} (one per virtual client)")
    return owner


def _serve(trainer: DPFedEmbTrainer, grid: Grid, n_clients: int, wait: float,
           timeout: float) -> None:
    owner = _partitions(grid, n_clients, wait, timeout)

    def round_sum(theta: dict[str, torch.Tensor], ids: Sequence[int],
                  round_: int) -> tuple[torch.Tensor, torch.Tensor]:
        state = ArrayRecord({k: v.detach().clone() for k, v in theta.items()})
        messages = [Message(RecordDict({"backbone": state,
                                        "config": ConfigRecord({"round": round_})}),
                            dst_node_id=owner[int(i)], message_type="train",
                            group_id=str(round_)) for i in ids]
        replies = list(grid.send_and_receive(messages, timeout=timeout)) if messages else []
        if len(replies) != len(messages):
            raise TimeoutError(f"round {round_}: {len(replies)} of {len(messages)} clients "
                               f"replied within {timeout:g} s")
        total = torch.zeros(sum(v.numel() for v in theta.values()))
        norms = []
        for reply in replies:
            if reply.has_error():
                raise RuntimeError(f"round {round_}: a client failed: {reply.error}")
            if set(reply.content.keys()) != {"delta", "metrics"}:
                raise ValueError(f"round {round_}: a client replied {sorted(reply.content.keys())}"
                                 f", expected its clipped backbone delta and its norm only")
            total += flatten(reply.content["delta"].to_torch_state_dict())
            norms.append(float(reply.content["metrics"]["norm"]))
        return total, torch.tensor(norms)

    trainer.train_rounds(n_clients, round_sum)


def make_server_app(trainer: DPFedEmbTrainer | None = None, n_clients: int | None = None,
                    wait: float = 120.0, timeout: float = 600.0) -> ServerApp:
    """A ServerApp running ``trainer.rounds`` rounds over ``n_clients`` SuperNodes, waiting
    up to ``wait`` seconds for them and ``timeout`` seconds for each round's replies;
    the backbone ends in ``trainer``. ``None``: the trainer and ``B`` come from the run
    config (:func:`trainer_from_config`, ``n-clients``), the initial backbone from
    ``init-path`` (safetensors) and the result goes to ``output-dir``."""
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        if trainer is not None:
            _serve(trainer, grid, n_clients, wait, timeout)
            return
        config = context.run_config
        run = trainer_from_config(config)
        if config.get("init-path"):
            run.get_backbone().load_state_dict(load_file(str(config["init-path"])))
        _serve(run, grid, int(config["n-clients"]), float(config.get("node-wait", wait)),
               float(config.get("reply-timeout", timeout)))
        out = Path(str(config["output-dir"]))
        out.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in run.backbone_.state_dict().items()}
        atomic_write_bytes(out / "backbone.safetensors", save(state))
        atomic_write_text(out / "history.json", json.dumps(
            {"history": run.history_, "rounds_run": run.rounds_run_,
             "noise_seed": run.noise_seed_}, indent=1))

    return app


client_app = make_client_app()
"""The ClientApp of ``flwr run`` (:data:`APP_DIR`): settings and data from the run config."""
server_app = make_server_app()
"""The ServerApp of ``flwr run`` (:data:`APP_DIR`): settings from the run config."""


def run_simulation(trainer: DPFedEmbTrainer, population: object, num_cpus: int = 2,
                   wait: float = 120.0, timeout: float = 600.0) -> DPFedEmbTrainer:
    """Train ``trainer``'s backbone on ``population`` through the Flower apps on Flower's
    Simulation Engine (Ray backend, ``num_cpus`` CPUs, no dashboard; one virtual
    SuperNode per virtual client); the same backbone as ``trainer.fit(population)`` up
    to float rounding, given the same noise (``noise_seed``, or ``sigma = 0``)."""
    from flwr.simulation import run_simulation as flower_simulation

    clients = virtual_clients(population_users(population), trainer.users_per_client,
                              trainer.seed, trainer.crop, trainer.n_clients)
    trainer.clients_ = clients
    flower_simulation(
        make_server_app(trainer, len(clients), wait, timeout), make_client_app(trainer, clients),
        num_supernodes=len(clients),
        backend_config={"init_args": {"num_cpus": num_cpus, "include_dashboard": False,
                                      "log_to_driver": False},
                        "client_resources": {"num_cpus": 1, "num_gpus": 0.0}})
    if not hasattr(trainer, "rounds_run_"):
        raise RuntimeError("the Flower simulation ended without training: see Flower's log")
    return trainer


def run_in_process(trainer: DPFedEmbTrainer, population: object) -> DPFedEmbTrainer:
    """Deprecated name of :func:`run_simulation` (goes in spinml 0.3)."""
    warnings.warn("spinml.federated.flower.run_in_process is now run_simulation (Flower's "
                  "Simulation Engine); the old name goes in spinml 0.3", DeprecationWarning,
                  stacklevel=2)
    return run_simulation(trainer, population)
