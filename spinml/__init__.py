"""spinml: customised synthetic training data under object-level privacy control.

The device side (:class:`Sanitizer`) turns private references into a
:class:`SanitizedSet` according to a :class:`SharingPolicy`; only that set
crosses to the server side.

The estimator contract
----------------------
Every estimator (:class:`DiffusionGenerator`, :class:`BNInversionGenerator`,
:class:`Trainer`, :class:`DPFedEmbTrainer`) follows scikit-learn's habits
(the shared half is :class:`spinml.estimator.Estimator`):

- settings go to the constructor, which stores them under their own names and
  checks them (an error names the argument); ``get_params()`` returns them,
  ``set_params(**settings)`` checks and changes them and returns the estimator;
- data go to ``fit``, which returns the estimator;
- what ``fit`` learns is kept in attributes ending in ``_``; asking for it
  before ``fit`` raises :class:`spinml.estimator.NotFittedError`.

The generators: ``fit(...)`` (a :class:`SanitizedSet`; a teacher network),
then ``generate(n_per_class=..., seed=...)`` -> :class:`SyntheticSet`, and
``save(folder)`` / ``load(folder)``. The trainers: ``fit(data)`` returns the
trainer; :class:`Trainer` keeps its :class:`~spinml.train.TrainedModel` in
``model_`` (``predict``, ``predict_proba``, ``score``, ``adapt`` and ``save``
are the model's), :class:`DPFedEmbTrainer` its backbone in ``backbone_``.

Each setting has one meaning, its unit in the estimator's docstring:
``steps`` is BN inversion's ``K`` (Adam steps per batch of images), the
diffusion generator has ``lora_steps`` (AdamW steps per L2 object) and
``sample_steps`` (solver steps per image); ``batch_size`` is the images per
optimisation step (:class:`Trainer`), per client SGD step
(:class:`DPFedEmbTrainer`) or optimised together (BN inversion), the diffusion
generator has ``lora_batch_size`` and ``sample_batch_size``.
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
