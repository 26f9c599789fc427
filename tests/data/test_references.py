"""ReferenceImage, Segment and ReferenceSet: validation naming the image, masks, arrays."""

import numpy as np
import pytest

from spinml import ReferenceSet
from spinml.data import (
    ReferenceImage,
    Segment,
    merge_segments,
)


def _reference(h=12, w=10, label="sleeping", seed=0):
    rng = np.random.default_rng(seed)
    image = rng.integers(1, 256, (h, w, 3), dtype=np.uint8)
    target = np.zeros((h, w), bool)
    target[2:7, 3:8] = True
    return ReferenceImage(image, label, (Segment("target", target),), f"ref{seed}")


def test_reference_validation_names_the_image():
    good = _reference()
    with pytest.raises(ValueError, match="ref9.*mask of 'target' is 3x4, the image is 10x12"):
        ReferenceImage(good.image, "x", (Segment("target", np.ones((4, 3), bool)),), "ref9")
    with pytest.raises(ValueError, match="ref9.*mask of 'target' is empty"):
        ReferenceImage(good.image, "x", (Segment("target", np.zeros((12, 10), bool)),), "ref9")
    with pytest.raises(ValueError, match="uint8"):
        ReferenceImage(good.image.astype(float), "x", (), "ref9")
    with pytest.raises(ValueError, match="not valid"):
        Segment("../evil", np.ones((2, 2), bool))


def test_background_defaults_to_the_complement():
    ref = _reference()
    assert np.array_equal(ref.mask("background"), ~ref.mask("target"))
    with pytest.raises(KeyError, match="bowl"):
        ref.mask("bowl")


def test_reference_set_classes_and_arrays():
    refs = ReferenceSet([_reference(label="b", seed=1), _reference(label="a", seed=2)])
    assert refs.classes == ("a", "b")
    x, y = refs.to_arrays()
    assert x.shape == (2, 12, 10, 3) and list(y) == [1, 0]
    with pytest.raises(ValueError, match="not in classes"):
        ReferenceSet([_reference(label="c")], classes=("a",))


def test_a_soft_mask_claims_its_edge_for_both_sides():
    levels = np.array([[0, 0, 40], [128, 255, 255]], np.uint8)
    seg = Segment("target", levels)
    assert np.array_equal(seg.mask, levels > 0) and np.array_equal(seg.core, levels == 255)
    ref = ReferenceImage(np.ones((2, 3, 3), np.uint8), "a", (seg,))
    assert np.array_equal(ref.mask("background"), levels < 255)
    hard = Segment("target", np.array([[0, 1], [255, 0]], np.uint8))
    assert np.array_equal(hard.core, hard.mask)
    with pytest.raises(ValueError, match="core of 'target'"):
        Segment("target", np.zeros((2, 2), bool), core=np.ones((2, 2), bool))


def test_instances_of_a_label_merge_and_duplicates_are_refused_in_a_reference():
    a, b = np.eye(3, dtype=bool), np.fliplr(np.eye(3, dtype=bool))
    merged = merge_segments([Segment("bowl", a), Segment("ball", b), Segment("bowl", b)])
    assert [s.label for s in merged] == ["bowl", "ball"]
    assert np.array_equal(merged[0].mask, a | b)
    with pytest.raises(ValueError, match="'bowl' appears twice.*merge_segments"):
        ReferenceImage(np.ones((3, 3, 3), np.uint8), "x", (Segment("bowl", a), Segment("bowl", b)))
