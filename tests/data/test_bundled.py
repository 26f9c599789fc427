import pytest

from spinml.data import digits, photos


def test_photos_are_real_images_with_masks():
    refs = photos()
    assert refs.classes == ("person", "cat", "cup", "rocket")
    for ref in refs:
        assert "target" in ref.objects
        assert 0 < ref.mask("target").mean() < 1
    small = photos(size=64)
    assert max(small[0].size) == 64 and small[2].objects == refs[2].objects


def test_digits():
    refs = digits(size=16, n=30)
    assert len(refs) == 30 and refs.classes == tuple("0123456789")
    assert refs[0].size == (16, 16) and refs[0].mask("target").any()
    with pytest.raises(ValueError, match="size"):
        digits(size=4)
    with pytest.raises(ValueError, match="n must be"):
        digits(n=0)
