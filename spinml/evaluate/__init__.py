"""Privacy and utility metrics, the leakage table, the Evaluator and its plots."""

from spinml.evaluate import evaluator
from spinml.evaluate.distances import features, nearest_distances
from spinml.evaluate.edges import edge_f1
from spinml.evaluate.encoder import ImageEncoder
from spinml.evaluate.evaluator import (
    COLUMNS,
    OBJECTS,
    PRIVACY_METRICS,
    WHOLE,
    Evaluator,
    RunMetrics,
)
from spinml.evaluate.information import (
    entropy,
    letterbox,
    mutual_information,
    normalized_mutual_information,
)
from spinml.evaluate.leakage import leakage_table, shape_leak
from spinml.evaluate.memorisation import membership_auc, memorisation_distance
from spinml.evaluate.similarity import similarity

__all__ = [
    "letterbox",
    "mutual_information",
    "normalized_mutual_information",
    "entropy",
    "leakage_table",
    "shape_leak",
    "edge_f1",
    "ImageEncoder",
    "Evaluator",
    "RunMetrics",
    "COLUMNS",
    "OBJECTS",
    "WHOLE",
    "PRIVACY_METRICS",
    "features",
    "nearest_distances",
    "similarity",
    "memorisation_distance",
    "membership_auc",
]


def __getattr__(name: str) -> type:
    if name == "Report":
        return evaluator.Report  # warns: the old name of RunMetrics
    raise AttributeError(f"module 'spinml.evaluate' has no attribute {name!r}")
