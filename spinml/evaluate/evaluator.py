"""The Evaluator: utility and per-object privacy of one sharing scheme, as tidy RunMetrics.

Privacy is measured per object (the target and the background, separately) on
*segments*: an object's pixels on black. Synthetic segments come from the
synthetic images and their target masks; real segments from the user's
reference images (the members) and held-out real images (the non-members).

- ``mi``: normalised MI of the upload (:func:`~spinml.evaluate.leakage_table`),
  averaged over reference images;
- ``shape_leak``: for an ``L0`` target, the IoU of the best recovery of its mask
  from the other objects' shares (:func:`~spinml.evaluate.shape_leak`),
  averaged over reference images;
- ``sim``: :func:`~spinml.evaluate.similarity` of synthetic to reference segments;
- ``memorisation_encoder`` / ``memorisation_pixel``:
  :func:`~spinml.evaluate.memorisation_distance` in encoder and pixel space;
- ``mia_auc``: :func:`~spinml.evaluate.membership_auc` in encoder space;
- ``mia_tpr_at_1pct_fpr``: the same attack's true-positive rate at 1 % false
  positives (:func:`~spinml.evaluate.memorisation.tpr_at_fpr`).

Utility (object ``"model"``): accuracy, macro-F1 and per-class accuracy on the
real test images (:func:`~spinml.evaluate.utility.utility_metrics`).

A synthetic set without objects (no image has a target mask, e.g. a
:class:`~spinml.BNInversionGenerator`'s) cannot be split into target and
background: its privacy rows are then those of object ``"image"``, the same
metrics on whole images (synthetic images against the references' and the
test images' whole images), which bound what any one object leaks. A set in
which some images have masks and others not is refused.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from spinml.data.references import BACKGROUND, ReferenceSet
from spinml.data.sanitized import SanitizedSet, require_sanitized
from spinml.data.synthetic import SyntheticSet
from spinml.evaluate.distances import features, nearest_distances
from spinml.evaluate.encoder import ImageEncoder
from spinml.evaluate.leakage import leakage_table
from spinml.evaluate.memorisation import membership_auc_of_rows, membership_tpr_of_rows
from spinml.evaluate.similarity import mean_cosine
from spinml.evaluate.utility import utility_metrics
from spinml.image import segment_on_black

__all__ = ["Evaluator", "RunMetrics", "OBJECTS", "WHOLE", "PRIVACY_METRICS", "COLUMNS"]

OBJECTS = ("target", BACKGROUND)
WHOLE = "image"
"""The object of the privacy rows of a synthetic set without objects (whole images)."""
PRIVACY_METRICS = ("mi", "shape_leak", "sim", "memorisation_encoder", "memorisation_pixel",
                   "mia_auc", "mia_tpr_at_1pct_fpr")
COLUMNS = ["scheme", "target_level", "background_level", "alpha", "object", "metric", "seed",
           "value"]


@dataclass
class RunMetrics:
    """Metrics of one run: ``(object, metric) -> value`` plus the run's identity."""

    scheme: str
    alpha: float
    seed: int
    values: dict[tuple[str, str], float] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per (scheme, alpha, object, metric, seed), columns :data:`COLUMNS`."""
        levels = self.scheme.split("_") if "_" in self.scheme else [self.scheme] * 2
        rows = [(self.scheme, levels[0], levels[1], float(self.alpha), obj, metric,
                 int(self.seed), float(value)) for (obj, metric), value in self.values.items()]
        return pd.DataFrame(rows, columns=COLUMNS)


def _resize(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if images.shape[1:3] == size:
        return images
    return np.stack([cv2.resize(im, size[::-1], interpolation=cv2.INTER_AREA) for im in images])


def _real_segments(images: ReferenceSet, obj: str) -> np.ndarray:
    if obj == WHOLE:
        return np.stack([im.image for im in images])
    return np.stack([segment_on_black(im.image, im.mask(obj)) for im in images])


def _synthetic_segments(synthetic: SyntheticSet, obj: str) -> np.ndarray:
    if obj == WHOLE:
        return np.stack([im.image for im in synthetic])
    return np.stack([segment_on_black(im.image, im.mask if obj == "target" else ~im.mask)
                     for im in synthetic])


def _privacy_objects(synthetic: SyntheticSet) -> tuple[str, ...]:
    """The objects a synthetic set's privacy is measured on: target and background
    when every image has a target mask, the whole image when none has."""
    masked = [im.mask is not None for im in synthetic]
    if all(masked):
        return OBJECTS
    if not any(masked):
        return (WHOLE,)
    raise ValueError(f"{masked.count(False)} of {len(masked)} synthetic images have no target "
                     f"mask: per-object privacy needs masks on all images or on none")


class Evaluator:
    """Evaluate a scheme against one user's private data.

    ``references``: the user's reference images (what the upload was made
    from: the MIA members); ``test``: held-out real images of the same user
    (utility, and the MIA non-members). ``encoder``: an :class:`ImageEncoder`,
    a local ``transformers`` folder with ``get_image_features``, or ``None``
    for the bundled zoo encoder. ``adapt``: measure utility with the model
    adapted on the device, its BatchNorm statistics recomputed on the
    references' images, labels unread (:meth:`~spinml.train.TrainedModel.adapt`).
    ``progress=False`` hides the encoder's loading bar.
    """

    def __init__(self, references: ReferenceSet, test: ReferenceSet,
                 encoder: ImageEncoder | str | Path | None = None, *,
                 adapt: bool = False, progress: bool = True) -> None:
        if not isinstance(references, ReferenceSet) or not isinstance(test, ReferenceSet):
            raise TypeError("Evaluator takes the user's ReferenceSet and a real test ReferenceSet")
        if not len(references) or not len(test):
            raise ValueError("Evaluator needs at least one reference and one test image")
        self.references = references
        self.test = test
        self.encoder = encoder
        self.adapt = adapt
        self.progress = progress
        self._reals: dict[tuple[str, tuple[int, ...]], tuple[np.ndarray, ...]] = {}

    def _encoder(self) -> ImageEncoder:
        if not isinstance(self.encoder, ImageEncoder):
            self.encoder = ImageEncoder(self.encoder, progress=self.progress)
        return self.encoder

    def evaluate(self, *, model=None, synthetic: SyntheticSet | None = None,
                 sanitized: SanitizedSet | None = None, scheme: str | None = None,
                 alpha: float = 0.0, seed: int = 0) -> RunMetrics:
        """Measure whatever is given: ``model`` -> utility; ``sanitized`` -> MI and,
        for an ``L0`` target, shape leak; ``synthetic`` -> SIM, memorisation and
        MIA, per object, or on whole images for a set without masks (object
        ``"image"``). ``scheme`` defaults to the
        upload's (``{target}_{background}``)."""
        if sanitized is not None:
            sanitized = require_sanitized(sanitized, argument="sanitized")
            scheme = scheme or sanitized.scheme
        metrics = RunMetrics(scheme or "real", alpha, seed)
        if model is not None:
            X, y = self.test.to_arrays()
            if tuple(model.classes_) != tuple(self.test.classes):
                raise ValueError(f"the model's classes {list(model.classes_)} differ from the "
                                 f"test set's {list(self.test.classes)}")
            if self.adapt:
                model = model.adapt(self.references)
            for metric, value in utility_metrics(model.predict(X), y, self.test.classes).items():
                metrics.values["model", metric] = value
        if sanitized is not None:
            leakage = leakage_table(sanitized, self.references)
            for obj in OBJECTS:
                for metric in ("mi", "shape_leak"):
                    rows = leakage[(leakage.object == obj) & (leakage.metric == metric)]
                    if len(rows):
                        metrics.values[obj, metric] = float(rows["value"].mean())
        if synthetic is not None:
            self._synthetic_privacy(synthetic, metrics)
        return metrics

    def _real_features(self, obj: str, size: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        """Pixel features of the members, encoder features of the members and of the
        non-members, for ``obj``'s segments at ``size``: computed once per Evaluator."""
        if (obj, size) not in self._reals:
            members = _resize(_real_segments(self.references, obj), size)
            others = _resize(_real_segments(self.test, obj), size)
            encoder = self._encoder()
            self._reals[obj, size] = (features(members), features(members, encoder),
                                      features(others, encoder))
        return self._reals[obj, size]

    def _synthetic_privacy(self, synthetic: SyntheticSet, metrics: RunMetrics) -> None:
        encoder = self._encoder()
        for obj in _privacy_objects(synthetic):
            synth = _synthetic_segments(synthetic, obj)
            members_pixels, m, o = self._real_features(obj, synth.shape[1:3])
            s = features(synth, encoder)
            metrics.values[obj, "sim"] = mean_cosine(s, m)
            metrics.values[obj, "memorisation_encoder"] = float(nearest_distances(s, m).mean())
            metrics.values[obj, "memorisation_pixel"] = float(
                nearest_distances(features(synth), members_pixels).mean())
            metrics.values[obj, "mia_auc"] = membership_auc_of_rows(m, o, s)
            metrics.values[obj, "mia_tpr_at_1pct_fpr"] = membership_tpr_of_rows(m, o, s)


def __getattr__(name: str) -> type:
    if name == "Report":
        warnings.warn("spinml.evaluate.Report is now RunMetrics; the old name goes in spinml 0.3",
                      DeprecationWarning, stacklevel=2)
        return RunMetrics
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
