import numpy as np

from spinml import Sanitizer
from spinml.sanitize import Canny


def test_feature_extractors_are_pluggable(refs):
    class Blocky:
        kind = "blocks"

        def __call__(self, segment):
            return (segment.max(axis=2) > 0).astype(np.uint8) * 255

    upload = Sanitizer(features={"target": Blocky()}).sanitize(
        refs, "target=L1,background=L1", progress=False)
    assert upload[0].object("target").feature_kind == "blocks"
    assert upload[0].object("background").feature_kind == "canny"
    assert Canny(50, 90)(refs[0].image).dtype == np.uint8
