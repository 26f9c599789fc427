"""Training the specialised model: :class:`Trainer` (the SpinML protocol through
HF Accelerate; ``fit`` returns the Trainer, its :class:`TrainedModel` in ``model_``)
and small architectures written in plain torch (:data:`ARCHITECTURES`,
:func:`build_model`); :meth:`TrainedModel.export` writes it as ONNX (fp32 or int8),
which :class:`OnnxModel` runs (:mod:`spinml.train.export`).

DP-FedEmb lives in :mod:`spinml.federated`; ``spinml.train.DPFedEmbTrainer``
still resolves there, with a ``DeprecationWarning``, until spinml 0.3."""

import warnings

from spinml.train.architectures import ARCHITECTURES, build_model
from spinml.train.export import OnnxModel
from spinml.train.trainer import TrainedModel, Trainer

__all__ = ["Trainer", "TrainedModel", "OnnxModel", "build_model", "ARCHITECTURES"]


def __getattr__(name: str):
    if name == "DPFedEmbTrainer":
        warnings.warn("spinml.train.DPFedEmbTrainer moved to spinml.federated; the old path "
                      "goes in spinml 0.3", DeprecationWarning, stacklevel=2)
        from spinml.federated import DPFedEmbTrainer

        return DPFedEmbTrainer
    raise AttributeError(f"module 'spinml.train' has no attribute {name!r}")
