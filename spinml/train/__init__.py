"""Training the specialised model: :class:`Trainer` (the SpinML protocol through
HF Accelerate), the :class:`TrainedModel` it returns, and small architectures
written in plain torch (:data:`ARCHITECTURES`, :func:`build_model`)."""

from spinml.train.architectures import ARCHITECTURES, build_model
from spinml.train.trainer import TrainedModel, Trainer

__all__ = ["Trainer", "TrainedModel", "build_model", "ARCHITECTURES"]
