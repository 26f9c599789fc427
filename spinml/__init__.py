"""spinml: customised synthetic training data under object-level privacy control.

The device side (:class:`Sanitizer`) turns private references into a
:class:`SanitizedSet` according to a :class:`SharingPolicy`; only that set
crosses to the server side.
"""

from spinml.data import ReferenceSet, SanitizedSet, SyntheticSet
from spinml.policy import Level, SharingPolicy
from spinml.sanitize import Sanitizer
from spinml.version import __version__ as __version__

__all__ = [
    "Level",
    "SharingPolicy",
    "ReferenceSet",
    "SanitizedSet",
    "SyntheticSet",
    "Sanitizer",
    "DiffusionGenerator",
    "BNInversionGenerator",
    "Trainer",
    "DPFedEmbTrainer",
    "Evaluator",
]

_HEAVY = {
    "DiffusionGenerator": "spinml.generate",
    "BNInversionGenerator": "spinml.generate",
    "Trainer": "spinml.train",
    "DPFedEmbTrainer": "spinml.federated",
    "Evaluator": "spinml.evaluate",
}


def __getattr__(name: str):
    """Server-side names import diffusers / accelerate on first use, not at ``import spinml``."""
    if name in _HEAVY:
        import importlib

        return getattr(importlib.import_module(_HEAVY[name]), name)
    raise AttributeError(f"module 'spinml' has no attribute {name!r}")
