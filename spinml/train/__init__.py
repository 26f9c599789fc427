"""Training the specialised model: :class:`Trainer` (the SpinML protocol through
HF Accelerate), the :class:`TrainedModel` it returns, and small architectures
written in plain torch (:data:`ARCHITECTURES`, :func:`build_model`), and
:class:`DPFedEmbTrainer` (user-level DP federated embedding training, seed 002)."""

from spinml.train.architectures import ARCHITECTURES, build_model
from spinml.train.dp_fedemb import DPFedEmbTrainer
from spinml.train.trainer import TrainedModel, Trainer

__all__ = ["Trainer", "TrainedModel", "DPFedEmbTrainer", "build_model", "ARCHITECTURES"]
