import cv2
import numpy as np
import pytest

from spinml import Level, ReferenceSet, Sanitizer, SharingPolicy
from spinml.data import ReferenceImage, Segment, SharedObject, photos
from spinml.evaluate import Evaluator, leakage_table, shape_leak


@pytest.fixture(scope="module")
def refs():
    return photos(size=128)


def _mean(refs, level):
    upload = Sanitizer().sanitize(refs, SharingPolicy(default=level), progress=False)
    table = leakage_table(upload, refs, size=128)
    assert list(table.columns) == ["image", "class", "object", "level", "metric", "value"]
    assert (table.level == level.name).all()
    shape = table[table.metric == "shape_leak"]
    assert (level == Level.L0) == (len(shape) > 0) and "background" not in set(shape.object)
    mi = table[table.metric == "mi"]
    return mi.groupby("object").value.mean()


def test_leakage_is_ordered_by_level_per_object(refs):
    l0, l1, l2 = (_mean(refs, level) for level in Level)
    assert (l0 == 0).all()
    for obj in ("target", "background"):
        assert 0 < l1[obj] < l2[obj] < 1


def test_mismatched_references_are_refused(refs):
    upload = Sanitizer().sanitize(refs, "target=L2", progress=False)
    with pytest.raises(ValueError, match="3 references"):
        leakage_table(upload, refs.subset([0, 1, 2]))


def _star_world():
    """The issue's example: a star-shaped L0 pet of its room's colour."""
    centre, angles = 32, np.arange(10) * np.pi / 5 - np.pi / 2
    radii = np.where(np.arange(10) % 2 == 0, 25.6, 10.24)
    points = np.stack([centre + radii * np.cos(angles), centre + radii * np.sin(angles)], 1)
    pet = np.zeros((64, 64), np.uint8)
    cv2.fillPoly(pet, [points.round().astype(np.int32)], 1)
    image = np.full((64, 64, 3), (150, 120, 90), np.uint8)
    return ReferenceSet([ReferenceImage(image, "a", (Segment("target", pet > 0),), "star")])


@pytest.mark.parametrize("background", ["L1", "L2"])
def test_shape_leak_is_one_under_plain_masking_and_low_by_default(background):
    refs = _star_world()
    policy = f"target=L0,background={background}"
    values = {}
    for l0_shape in ("mask", "hull"):
        upload = Sanitizer(l0_shape=l0_shape).sanitize(refs, policy, progress=False)
        table = leakage_table(upload, refs, size=64)
        row = table[table.metric == "shape_leak"]
        assert list(row.object) == ["target"]
        values[l0_shape] = float(row.value.iloc[0])
        report = Evaluator(refs, refs).evaluate(sanitized=upload)
        assert report.values["target", "shape_leak"] == values[l0_shape]
        assert ("background", "shape_leak") not in report.values
    assert values["mask"] > 0.9 and values["hull"] < 0.25
    if background == "L2":
        assert values["mask"] == 1.0


def test_shape_leak_takes_the_best_recovery():
    truth = np.zeros((10, 10), bool)
    truth[2:6, 2:6] = True
    hole = SharedObject("background", Level.L2, segment=np.zeros((10, 10, 3), np.uint8),
                        mask=~truth)
    assert shape_leak(truth, [hole]) == 1.0
    edges = np.zeros((10, 10), np.uint8)
    assert shape_leak(truth, [SharedObject("background", Level.L1, feature=edges,
                                           feature_kind="canny")]) == pytest.approx(0.16)
    assert shape_leak(truth, []) == 0.0
