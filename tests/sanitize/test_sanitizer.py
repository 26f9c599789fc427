import cv2
import numpy as np
import pytest

from spinml import Level, ReferenceSet, Sanitizer, SharingPolicy
from spinml.data import ReferenceImage, Segment
from spinml.sanitize import segment_on_black


def test_each_level_shares_what_it_allows(refs):
    """The paper's plain masking; the default hides L0 outlines (tests/sanitize/test_shape.py)."""
    upload = Sanitizer(l0_shape="mask").sanitize(refs, "target=L2,background=L1",
                                                 progress=False)
    assert upload.scheme == "L2_L1" and [im.id for im in upload] == ["0000", "0001", "0002", "0003"]
    for shared, ref in zip(upload, refs, strict=True):
        target, background = shared.object("target"), shared.object("background")
        assert np.array_equal(target.mask, ref.mask("target") & ~ref.mask("background"))
        assert np.array_equal(target.segment, segment_on_black(ref.image, target.mask))
        owned = ref.mask("background")
        for other in ref.objects:
            owned = owned & ~(ref.mask(other) if SharingPolicy()[other] == Level.L0 else False)
        expected = cv2.Canny(cv2.cvtColor(segment_on_black(ref.image, owned), cv2.COLOR_RGB2GRAY),
                             100, 200)
        assert background.feature_kind == "canny" and np.array_equal(background.feature, expected)
        for obj in shared.objects:
            if obj.label not in ("target", "background"):
                assert obj.level == Level.L0 and obj.feature is None and obj.segment is None


def test_overlapping_pixels_go_to_the_strictest_object():
    image = np.arange(1, 3 * 8 * 8 + 1, dtype=np.uint8).reshape(8, 8, 3)
    target = np.zeros((8, 8), bool)
    target[1:6, 1:6] = True
    bowl = np.zeros((8, 8), bool)
    bowl[4:8, 4:8] = True
    ref = ReferenceImage(image, "eating", (Segment("target", target), Segment("bowl", bowl)))
    upload = Sanitizer(l0_shape="mask").sanitize(
        ReferenceSet([ref]), "target=L2,bowl=L0,background=L2", progress=False)
    shared = upload[0].object("target")
    assert not (shared.mask & bowl).any() and shared.mask.sum() == 25 - 4
    background = upload[0].object("background")
    assert not (background.mask & (target | bowl)).any()


def test_unknown_policy_object_is_an_error(refs):
    with pytest.raises(ValueError, match=r"\['dog'\].*no reference image"):
        Sanitizer().sanitize(refs, "dog=L2", progress=False)
    with pytest.raises(ValueError, match="malformed"):
        Sanitizer().sanitize(refs, "dog", progress=False)
    with pytest.raises(TypeError, match="ReferenceSet"):
        Sanitizer().sanitize([refs[0]], "target=L2", progress=False)
    with pytest.raises(ValueError, match="unknown feature"):
        Sanitizer(features="sobel").sanitize(refs, "target=L1", progress=False)


