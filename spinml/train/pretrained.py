"""Where the Trainer starts: random weights, or a pretrained network (``Trainer(init=...)``).

``init`` is one of

- a zoo backbone's name (:data:`ZOO_BACKBONES`: ``"miniworld"``, the classifier
  pre-trained on the public mini-world, :mod:`spinml.zoo.backbone`);
- the folder of a saved :class:`~spinml.train.TrainedModel`;
- a :class:`~spinml.train.TrainedModel`, or a fitted :class:`~spinml.train.Trainer`;
- any ``torch.nn.Module`` (e.g. a local network pre-trained on real images).

The network is copied, never changed in place. Its head (the last
``nn.Linear`` of ``module.modules()``) is kept when it already predicts the
task's classes (rows reordered to the task's class order), and replaced by a
freshly initialised ``nn.Linear`` otherwise; a plain ``nn.Module`` carries no
class names, so its head is kept exactly when it has one output per class.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["ZOO_BACKBONES", "Start", "resolve_init"]

ZOO_BACKBONES = {"miniworld": "backbone"}
"""Backbone name -> its zoo part (the folder under ``spinml/zoo/``)."""


@dataclass
class Start:
    """A pretrained starting point: the network, its classes (``None`` when
    unknown), the recorded architecture name and its keyword arguments."""

    module: nn.Module
    classes: tuple[str, ...] | None
    arch: str
    arch_kwargs: dict[str, Any]


def _class_path(module: nn.Module) -> str:
    return f"{type(module).__module__}.{type(module).__qualname__}"


def describe_init(init: object) -> str | None:
    """What is recorded of ``init`` next to a trained model: a name, a folder or a class."""
    from spinml.train.trainer import TrainedModel, Trainer

    if init is None or isinstance(init, str):
        return init
    if isinstance(init, Path):
        return str(init)
    if isinstance(init, (TrainedModel, Trainer)):
        return f"{type(init).__name__}({_arch_name(init)})"
    return _class_path(init)


def check_init(init: object) -> None:
    """Raise a TypeError naming ``init`` when it is none of the accepted kinds."""
    from spinml.train.trainer import TrainedModel, Trainer

    if init is None or isinstance(init, (str, Path, nn.Module, TrainedModel, Trainer)):
        return
    raise TypeError(f"init must be None, a zoo backbone name {sorted(ZOO_BACKBONES)}, a saved "
                    f"TrainedModel folder, a TrainedModel, a fitted Trainer or an nn.Module, "
                    f"got {type(init).__name__}")


def _arch_name(fitted: object) -> str:
    from spinml.train.trainer import Trainer

    return (fitted._fitted("model_") if isinstance(fitted, Trainer) else fitted).arch


def _load(init: str | Path | nn.Module) -> Start:
    from spinml.train.trainer import TrainedModel, Trainer

    if isinstance(init, nn.Module):
        return Start(copy.deepcopy(init), None, _class_path(init), {})
    if isinstance(init, Trainer):
        model = init._fitted("model_")
    elif isinstance(init, TrainedModel):
        model = init
    elif isinstance(init, str) and init in ZOO_BACKBONES:
        from spinml.zoo.manifest import zoo_path

        model = TrainedModel.load(zoo_path(ZOO_BACKBONES[init]))
    else:
        folder = Path(init)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"init={str(init)!r} is neither a zoo backbone "
                                    f"{sorted(ZOO_BACKBONES)} nor a saved TrainedModel folder "
                                    f"(no {folder / 'config.json'})")
        model = TrainedModel.load(folder)
    return Start(copy.deepcopy(model.module_), model.classes_, model.arch,
                 dict(model.arch_kwargs))


def _head(module: nn.Module) -> tuple[nn.Module, str, nn.Linear]:
    """The last ``nn.Linear`` of ``module``: its parent, attribute name and itself."""
    named = [(name, layer) for name, layer in module.named_modules()
             if isinstance(layer, nn.Linear)]
    if not named:
        raise ValueError(f"init: {type(module).__name__} has no nn.Linear layer to serve as "
                         "the classification head")
    name, layer = named[-1]
    parent_name, _, attribute = name.rpartition(".")
    return module.get_submodule(parent_name), attribute, layer


def resolve_init(init: str | Path | nn.Module, classes: tuple[str, ...]) -> Start:
    """The network to fine-tune on ``classes``: ``init`` loaded and copied, its head
    kept, reordered or replaced (see the module). A new head draws its weights
    from torch's global generator (the Trainer seeds it)."""
    start = _load(init)
    parent, attribute, head = _head(start.module)
    if start.classes is not None and set(start.classes) == set(classes):
        order = torch.tensor([start.classes.index(c) for c in classes])
        with torch.no_grad():
            head.weight.copy_(head.weight[order])
            if head.bias is not None:
                head.bias.copy_(head.bias[order])
    elif start.classes is not None or head.out_features != len(classes):
        fresh = nn.Linear(head.in_features, len(classes), bias=head.bias is not None)
        setattr(parent, attribute, fresh.to(head.weight.device, head.weight.dtype))
    start.classes = tuple(classes)
    return start
