"""DP-FedEmb: user-level differentially private federated embedding training.

Virtual clients (:mod:`~spinml.federated.dp_fedemb`), the embedding network and
retrieval metrics (:mod:`~spinml.federated.embedding`), the server's aggregators
(:mod:`~spinml.federated.aggregators`), privacy accounting
(:mod:`~spinml.federated.accounting`) and Flower apps
(:mod:`~spinml.federated.flower`, imported on demand: it needs ``flwr``).
"""

from spinml.federated.accounting import PrivacyRecord, calibrate_sigma, epsilon
from spinml.federated.aggregators import DPFTRL, DPFedAvg, ServerMomentum, clip_deltas
from spinml.federated.dp_fedemb import DPFedEmbTrainer, virtual_clients
from spinml.federated.embedding import EmbeddingNet, recall_at_1, tar_at_far

__all__ = [
    "DPFedEmbTrainer",
    "virtual_clients",
    "EmbeddingNet",
    "recall_at_1",
    "tar_at_far",
    "DPFedAvg",
    "DPFTRL",
    "ServerMomentum",
    "clip_deltas",
    "PrivacyRecord",
    "epsilon",
    "calibrate_sigma",
]
