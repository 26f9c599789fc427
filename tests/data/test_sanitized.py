"""SanitizedSet and SharedObject: what each level may carry, round trip, refusals."""

import numpy as np
import pytest

from spinml import Level, ReferenceSet, SanitizedSet, SharingPolicy
from spinml.data import (
    SanitizedImage,
    SharedObject,
    require_sanitized,
)
from spinml.sanitize import Sanitizer
from tests.data.test_references import _reference
from tests.data.test_synthetic import _synthetic


def test_shared_objects_carry_only_what_their_level_allows():
    seg = np.zeros((4, 4, 3), np.uint8)
    mask = np.zeros((4, 4), bool)
    edge = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match="may not carry"):
        SharedObject("target", Level.L0, feature=edge, feature_kind="canny")
    with pytest.raises(ValueError, match="may not carry"):
        SharedObject("target", Level.L1, feature=edge, feature_kind="canny", segment=seg)
    with pytest.raises(ValueError, match="needs"):
        SharedObject("target", Level.L2, segment=seg)
    seg[0, 0] = 9
    with pytest.raises(ValueError, match="outside its mask"):
        SharedObject("target", Level.L2, segment=seg, mask=mask)


def test_sanitized_set_round_trips(tmp_path):
    refs = ReferenceSet([_reference(seed=i) for i in range(3)])
    upload = Sanitizer().sanitize(refs, "target=L2,background=L1", progress=False)
    folder = upload.save(tmp_path / "upload")
    again = SanitizedSet.load(folder)
    assert again.policy == upload.policy and again.classes == upload.classes
    for a, b in zip(upload, again, strict=True):
        assert (a.id, a.label, a.size) == (b.id, b.label, b.size)
        for oa, ob in zip(a.objects, b.objects, strict=True):
            assert (oa.label, oa.level, oa.feature_kind) == (ob.label, ob.level, ob.feature_kind)
            for part in ("feature", "segment", "mask"):
                pa, pb = getattr(oa, part), getattr(ob, part)
                assert (pa is None and pb is None) or np.array_equal(pa, pb)
    with pytest.raises(FileExistsError, match="already exists"):
        upload.save(folder)
    upload.save(folder, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["upload"]


def test_generator_side_refuses_reference_sets():
    refs = ReferenceSet([_reference()])
    with pytest.raises(TypeError, match="raw private images.*Sanitizer"):
        require_sanitized(refs, argument="sanitized")
    with pytest.raises(TypeError, match="expected a SanitizedSet"):
        require_sanitized([refs[0].image])
    with pytest.raises(TypeError):
        SanitizedSet([refs[0]], ("sleeping",), SharingPolicy())


def test_sanitized_set_checks_levels_against_policy():
    obj = SharedObject("target", Level.L0)
    with pytest.raises(ValueError, match="policy says L2"):
        SanitizedSet([SanitizedImage("0000", "a", (4, 4), (obj,))], ("a",),
                     SharingPolicy("target=L2"))


def test_missing_and_foreign_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing"):
        SanitizedSet.load(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        SanitizedSet.load(tmp_path)
    folder = _synthetic(n=2).save(tmp_path / "synthetic")
    with pytest.raises(ValueError, match="not a spinml.sanitized manifest"):
        SanitizedSet.load(folder)
