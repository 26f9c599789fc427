"""L1 feature extractors: what an object shares at ``L1`` instead of its pixels.

An extractor maps the object's segment on black (``H x W x 3`` uint8) to an
``H x W`` uint8 feature map and has a ``kind`` naming it (the ControlNet that
can be conditioned on it is looked up by this name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

__all__ = ["FeatureExtractor", "Canny", "FEATURES", "get_feature_extractor"]


@runtime_checkable
class FeatureExtractor(Protocol):
    kind: str

    def __call__(self, segment: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Canny:
    """Canny edge map, as the SpinML artifact computes it.

    ``edges = cv2.Canny(grey(segment), low, high)`` with the OpenCV grey
    conversion ``Y = 0.299 R + 0.587 G + 0.114 B`` and hysteresis thresholds
    ``low=100``, ``high=200`` (grey levels). Output values are 0 or 255.
    """

    low: int = 100
    high: int = 200
    kind: str = "canny"

    def __call__(self, segment: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(np.ascontiguousarray(segment), cv2.COLOR_RGB2GRAY)
        return cv2.Canny(grey, self.low, self.high)


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
