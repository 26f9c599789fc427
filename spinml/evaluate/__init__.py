"""Privacy and utility metrics, the leakage table and (later) the Evaluator."""

from spinml.evaluate.edges import edge_f1
from spinml.evaluate.information import (
    entropy,
    letterbox,
    mutual_information,
    normalized_mutual_information,
)
from spinml.evaluate.leakage import leakage_table

__all__ = [
    "letterbox",
    "mutual_information",
    "normalized_mutual_information",
    "entropy",
    "leakage_table",
    "edge_f1",
]
