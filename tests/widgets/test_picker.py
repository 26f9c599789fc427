"""ObjectPicker driven through its real ipywidgets: selectors, buttons, dropdowns."""

import io

import numpy as np
import pytest
from PIL import Image
from spinml.widgets import ObjectPicker

from spinml import SanitizedSet, Sanitizer, SharingPolicy
from spinml.data import miniworld
from spinml.sanitize import segment_on_black


@pytest.fixture(scope="module")
def references():
    refs, _ = miniworld.user(0, n_ref=1, n_test=0)
    return refs


@pytest.fixture
def picker(references):
    return ObjectPicker(references, "target=L2,background=L1")


def shown(view) -> np.ndarray:
    """The pixels an ipywidgets Image displays."""
    return np.asarray(Image.open(io.BytesIO(view.value)))


def cell_on(picker, index, want):
    """A grid cell of image ``index`` whose centre superpixel (a mask) satisfies ``want``."""
    image = picker.original[index].image
    superpixels = picker.segmenter.superpixels(image)
    h, w = superpixels.shape
    n = len(picker.cells)
    for r in range(n):
        for c in range(n):
            sp = superpixels[int((r + 0.5) * h / n), int((c + 0.5) * w / n)]
            if want(superpixels == sp):
                return r, c, superpixels == sp
    raise AssertionError("no such cell")


def assert_preview_is_upload(picker):
    shared = picker.sanitized[picker.image.value]
    assert set(picker.preview_images) == {o.label for o in shared.objects}
    for obj in shared.objects:
        pixels = shown(picker.preview_images[obj.label])
        expected = {"L2": obj.segment, "L1": obj.feature}.get(obj.level.name)
        if expected is None:
            assert not pixels.any(), f"{obj.label} is L0: its preview must be empty"
        else:
            np.testing.assert_array_equal(pixels, expected)


def test_selectors_set_policy_preview_and_upload(picker, references):
    assert str(picker.policy) == "background=L1,ball=L0,bowl=L0,target=L2"
    assert_preview_is_upload(picker)
    changes = []
    picker.observe(lambda change: changes.append(change["new"]), names="policy")

    picker.selectors["target"].value = "L1"
    picker.selectors["background"].value = "L0"

    assert picker.policy.scheme == "L1_L0" and picker.sanitized.scheme == "L1_L0"
    assert [p.scheme for p in changes] == ["L1_L1", "L1_L0"]
    expected = Sanitizer().sanitize(references, picker.policy, progress=False)
    for ours, theirs in zip(picker.sanitized, expected, strict=True):
        np.testing.assert_array_equal(ours.object("target").feature,
                                      theirs.object("target").feature)
        assert ours.object("background").feature is None
    assert_preview_is_upload(picker)
    target = shown(picker.preview_images["target"])
    assert target.ndim == 2, "an L1 object previews as its feature map, not its pixels"


def test_image_dropdown_shows_that_image_upload(picker):
    picker.image.value = 2
    assert_preview_is_upload(picker)
    summary = picker.summary.value
    assert "scheme L2_L1" in summary and "pixels + mask" in summary


def test_clicks_add_a_new_object_and_remove_it(picker, references):
    picker.new_object.value = "lamp"
    picker.add_button.click()
    assert picker.paint.value == "lamp" and "lamp" in picker.selectors
    assert "lamp" not in picker.policy, "an object without pixels is not in the policy"

    index = picker.image.value
    background = references[index].mask("background")
    r, c, region = cell_on(picker, index, lambda m: background[m].all())
    picker.cells[r][c].click()
    assert picker.policy["lamp"].name == "L0" and "lamp" in picker.policy
    assert picker.sanitized[index].object("lamp").level.name == "L0"

    picker.selectors["lamp"].value = "L2"
    lamp = picker.sanitized[index].object("lamp")
    np.testing.assert_array_equal(lamp.mask, region)
    np.testing.assert_array_equal(lamp.segment, segment_on_black(references[index].image, region))
    assert not picker.references[index].mask("background")[region].any(), "lamp left background"
    assert_preview_is_upload(picker)

    picker.cells[r][c].click()
    assert "lamp" not in picker.policy and "lamp" not in picker.sanitized.objects


def test_clicks_merge_a_superpixel_into_an_object(picker, references):
    index = picker.image.value
    target = references[index].mask("target")
    r, c, region = cell_on(picker, index, lambda m: not target[m].any())
    picker.paint.value = "target"
    picker.cells[r][c].click()
    mask = picker.sanitized[index].object("target").mask
    np.testing.assert_array_equal(mask, target | region)
    assert_preview_is_upload(picker)


def test_bad_new_object_is_refused_with_a_message(picker):
    before = dict(picker.selectors)
    picker.new_object.value = "two words"
    picker.add_button.click()
    assert "not valid" in picker.message.value
    picker.new_object.value = "target"
    picker.add_button.click()
    assert "exists already" in picker.message.value
    assert picker.selectors == before


def test_save_writes_exactly_the_preview(picker, tmp_path):
    picker.selectors["background"].value = "L0"
    folder = picker.save(tmp_path / "upload")
    loaded = SanitizedSet.load(folder)
    assert loaded.policy == picker.policy
    for ours, saved in zip(picker.sanitized, loaded, strict=True):
        np.testing.assert_array_equal(ours.object("target").segment,
                                      saved.object("target").segment)


def test_policy_naming_an_unknown_object_is_refused(references):
    with pytest.raises(ValueError, match="'lamp'"):
        ObjectPicker(references, SharingPolicy("lamp=L2"))
