"""The device side: segmenters, L1 feature extractors and the Sanitizer."""

from spinml.image import Canny, segment_on_black
from spinml.sanitize.features import FEATURES, FeatureExtractor, get_feature_extractor
from spinml.sanitize.grounded_sam import Detection, GroundedSAMSegmenter
from spinml.sanitize.sanitizer import Sanitizer
from spinml.sanitize.segmenters import GivenMasks, Segmenter, SuperpixelSegmenter

__all__ = [
    "Sanitizer",
    "segment_on_black",
    "Segmenter",
    "GivenMasks",
    "SuperpixelSegmenter",
    "GroundedSAMSegmenter",
    "Detection",
    "FeatureExtractor",
    "Canny",
    "FEATURES",
    "get_feature_extractor",
]
