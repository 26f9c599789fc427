import pytest

from spinml import Level, Sanitizer, SharingPolicy
from spinml.data import photos
from spinml.evaluate import leakage_table


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
