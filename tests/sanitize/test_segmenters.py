import numpy as np
import pytest

from spinml import Level, ReferenceSet, Sanitizer
from spinml.data import ReferenceImage
from spinml.sanitize import SuperpixelSegmenter


def test_superpixel_segmenter_merges_clicked_superpixels(refs):
    image = refs[1].image
    seg = SuperpixelSegmenter(n_segments=30)
    sp = seg.superpixels(image)
    assert sp.shape == image.shape[:2] and sp.min() == 0
    seg.select(image, "target", [0, 1])
    seg.select(image, "bowl", [1, 2])
    assert seg.selection(image) == {"target": {0}, "bowl": {1, 2}}
    segments = {s.label: s.mask for s in seg.segment(image, ["target", "bowl", "ball"])}
    assert set(segments) == {"target", "bowl"}
    assert np.array_equal(segments["bowl"], np.isin(sp, [1, 2]))
    seg.deselect(image, "bowl", [2])
    assert seg.selection(image)["bowl"] == {1}
    with pytest.raises(ValueError, match="out of range"):
        seg.select(image, "target", [10_000])
    with pytest.raises(ValueError, match="background"):
        seg.select(image, "background", [0])

    ref = ReferenceImage(image, "cat", (), "plain")
    sanitizer = Sanitizer(segmenter=seg, objects=["bowl"], l0_shape="mask")
    upload = sanitizer.sanitize(ReferenceSet([ref]), "target=L2", progress=False)
    assert np.array_equal(upload[0].object("target").mask, sp == 0)
    assert upload[0].object("bowl").level == Level.L0
