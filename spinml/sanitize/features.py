"""L1 feature extractors: what an object shares at ``L1`` instead of its pixels.

An extractor maps the object's segment on black (``H x W x 3`` uint8) to an
``H x W`` uint8 feature map and has a ``kind`` naming it (the ControlNet that
can be conditioned on it is looked up by this name).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from spinml.image import Canny

__all__ = ["FeatureExtractor", "Canny", "FEATURES", "get_feature_extractor"]


@runtime_checkable
class FeatureExtractor(Protocol):
    kind: str

    def __call__(self, segment: np.ndarray) -> np.ndarray: ...


FEATURES: dict[str, type] = {"canny": Canny}
"""Feature extractors by name."""


def get_feature_extractor(spec: str | FeatureExtractor) -> FeatureExtractor:
    """An extractor from its name (``"canny"``) or the extractor itself."""
    if isinstance(spec, str):
        if spec not in FEATURES:
            raise ValueError(f"features: unknown feature {spec!r}; known: {sorted(FEATURES)}")
        return FEATURES[spec]()
    if isinstance(spec, FeatureExtractor):
        return spec
    raise TypeError(f"features: expected a name or a FeatureExtractor, got {type(spec).__name__}")
