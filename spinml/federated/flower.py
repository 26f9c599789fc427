"""DP-FedEmb on Flower: a ClientApp / ServerApp pair running the same client update
and server aggregation as :class:`~spinml.federated.DPFedEmbTrainer`.

- The ClientApp (one SuperNode per virtual client, ``node_config["partition-id"]``)
  receives the backbone and the round, runs the local update
  (:func:`~spinml.federated.dp_fedemb.client_deltas`), clips the delta to norm ``C``
  and replies with an ``ArrayRecord`` named by the backbone's parameters only:
  the head never leaves the client. A node whose virtual client is an empty
  hashed bucket replies with a zero delta, so the ``B`` nodes are the ``B``
  clients of the accounting.
- The ServerApp samples clients (:func:`~spinml.federated.dp_fedemb.sample_clients`),
  sums the replies, adds noise and averages (the trainer's aggregator) and
  steps the server optimiser, then writes the backbone into the trainer. The
  sample and the noise are drawn on the server only, from the trainer's
  :meth:`~spinml.federated.DPFedEmbTrainer.noise_source` (secret unless
  ``noise_seed`` is set).

:func:`run_in_process` runs the pair in this process over :class:`InProcessGrid`,
a :class:`flwr.serverapp.Grid` that hands each message to the ClientApp directly
(Flower's own simulation engine needs Ray, ``flwr[simulation]``). The same apps
run under ``flwr run`` with Ray or on real SuperNodes. Needs the ``federated`` extra.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import uuid4

import torch

from spinml.federated.aggregators import ServerMomentum, clip_deltas
from spinml.federated.dp_fedemb import (
    Client,
    DPFedEmbTrainer,
    client_deltas,
    flatten,
    sample_clients,
    unflatten,
    virtual_clients,
)

try:
    from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.common.constant import SUPERLINK_NODE_ID
    from flwr.serverapp import Grid, ServerApp
    from flwr.supercore.task_identity import TaskIdentity
except ImportError:
    raise ImportError("spinml.federated.flower needs Flower: "
                      "pip install 'spinml[federated]'") from None

__all__ = ["make_client_app", "make_server_app", "InProcessGrid", "run_in_process"]


def make_client_app(trainer: DPFedEmbTrainer, clients: Sequence[Client]) -> ClientApp:
    """A ClientApp whose node ``partition-id`` ``i`` is virtual client ``clients[i]``."""
    app = ClientApp()
    backbone = trainer._backbone()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        client_id = int(context.node_config["partition-id"])
        round_ = int(msg.content["config"]["round"])
        theta = {k: v.float() for k, v in msg.content["backbone"].to_torch_state_dict().items()}
        delta = client_deltas(backbone, theta, [clients[client_id]], trainer.local_settings,
                              round_, [client_id], vectorised=False)
        clipped = clip_deltas(delta, trainer.clip)[0]
        reply = RecordDict({
            "delta": ArrayRecord(unflatten(clipped, theta)),
            "metrics": MetricRecord({"norm": float(delta.norm())}),
        })
        return Message(reply, reply_to=msg)

    return app


def make_server_app(trainer: DPFedEmbTrainer, n_clients: int) -> ServerApp:
    """A ServerApp running ``trainer.rounds`` rounds over ``n_clients`` SuperNodes
    (sorted node ids; the ``i``-th is virtual client ``i``)."""
    app = ServerApp()
    backbone = trainer._backbone()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) != n_clients:
            raise ValueError(f"the grid has {len(nodes)} nodes, expected {n_clients} "
                             f"(one per virtual client)")
        shapes = {k: v.detach() for k, v in backbone.named_parameters()}
        theta = flatten(shapes).clone()
        source = trainer.noise_source()
        aggregator = trainer.make_aggregator(n_clients, source)
        optimiser = ServerMomentum(trainer.server_lr, trainer.server_momentum)
        for t in range(trainer.rounds):
            state = ArrayRecord({k: v.clone() for k, v in unflatten(theta, shapes).items()})
            messages = [
                Message(RecordDict({"backbone": state, "config": ConfigRecord({"round": t})}),
                        dst_node_id=nodes[i], message_type="train", group_id=str(t))
                for i in sample_clients(trainer.aggregator, trainer.q, n_clients, t, source)
            ]
            total = torch.zeros_like(theta)
            for reply in grid.send_and_receive(messages):
                if reply.has_error():
                    raise RuntimeError(f"round {t}: a client failed: {reply.error}")
                total += flatten(reply.content["delta"].to_torch_state_dict())
            theta = optimiser.step(theta, aggregator.aggregate(total, t))
        torch.nn.utils.vector_to_parameters(theta, backbone.parameters())
        trainer.rounds_run_, trainer.noise_seed_ = trainer.rounds, trainer.noise_seed

    return app


class InProcessGrid(Grid):
    """A Grid whose nodes are ClientApp calls in this process, one Context per node
    (node ids ``FIRST_NODE + i``, ``node_config``: ``partition-id`` ``i``,
    ``num-partitions``). It plays the SuperLink's part, so it sets the run id
    source node and task that Flower stamps on every message."""

    FIRST_NODE = 100

    def __init__(self, client_app: ClientApp, n_nodes: int, run_id: int = 0) -> None:
        TaskIdentity.run_id, TaskIdentity.node_id = run_id, SUPERLINK_NODE_ID
        TaskIdentity.task_id = 0
        self.client_app = client_app
        self.contexts = {
            self.FIRST_NODE + i: Context(
                run_id=run_id, node_id=self.FIRST_NODE + i, state=RecordDict(), run_config={},
                node_config={"partition-id": i, "num-partitions": n_nodes})
            for i in range(n_nodes)
        }
        self.replies: dict[str, Message] = {}
        self._run = None

    def set_run(self, run) -> None:
        self._run = run

    @property
    def run(self):
        return self._run

    def create_message(self, content: RecordDict, message_type: str, dst_node_id: int,
                       group_id: str, ttl: float | None = None) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self.contexts)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for msg in messages:
            msg.metadata.__dict__["_message_id"] = str(uuid4())
            self.replies[msg.metadata.message_id] = self.client_app(
                msg, self.contexts[msg.metadata.dst_node_id])
            ids.append(msg.metadata.message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return [self.replies.pop(i) for i in message_ids if i in self.replies]

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        return self.pull_messages(self.push_messages(messages))


def run_in_process(trainer: DPFedEmbTrainer, population: object) -> DPFedEmbTrainer:
    """Train ``trainer``'s backbone on ``population`` through the Flower apps, in this
    process; the same result as ``trainer.fit(population)`` up to float rounding."""
    clients = virtual_clients(trainer._users(population), trainer.users_per_client, trainer.seed,
                              crop=trainer.crop, n_clients=trainer.n_clients)
    trainer.clients_ = clients
    grid = InProcessGrid(make_client_app(trainer, clients), len(clients))
    server_context = Context(run_id=0, node_id=0, node_config={}, state=RecordDict(),
                             run_config={})
    make_server_app(trainer, len(clients))(grid, server_context)
    return trainer
