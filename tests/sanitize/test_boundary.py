"""Property tests of the device boundary: nothing of an L0 or L1 object leaves as pixels,
and a share depends on nothing but its own object's pixels.

Every pixel of a test image has its own RGB triple, never black, so any
pixel value found in the upload (in memory or on disk) identifies exactly
which object it came from. With ``l0_shape="hull"`` an L2 share also holds
inpainted pixels where an L0 object's cover was: those are blends, checked
by the dependence test instead of by their values.
"""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from spinml import Level, ReferenceSet, SanitizedSet, Sanitizer, SharingPolicy
from spinml.data import ReferenceImage, Segment
from spinml.image import l0_cover
from spinml.sanitize import Canny, segment_on_black

LABELS = ("target", "bowl", "ball")
SHAPES = pytest.mark.parametrize("l0_shape", ["hull", "mask"])


@st.composite
def worlds(draw):
    h, w = draw(st.integers(8, 40)), draw(st.integers(8, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    codes = rng.choice(2**24 - 1, size=h * w, replace=False) + 1
    image = np.stack([(codes >> 16) & 255, (codes >> 8) & 255, codes & 255], axis=1)
    image = image.astype(np.uint8).reshape(h, w, 3)
    segments = []
    for label in LABELS[: draw(st.integers(1, 3))]:
        y0, x0 = draw(st.integers(0, h - 2)), draw(st.integers(0, w - 2))
        y1, x1 = draw(st.integers(y0 + 1, h)), draw(st.integers(x0 + 1, w))
        mask = np.zeros((h, w), bool)
        mask[y0:y1, x0:x1] = True
        mask &= rng.random((h, w)) < 0.9
        mask[y0, x0] = True
        segments.append(Segment(label, mask))
    present = (*(s.label for s in segments), "background")
    levels = {label: draw(st.sampled_from(list(Level))) for label in present}
    policy = SharingPolicy({k: v for k, v in levels.items() if draw(st.booleans())},
                           default=draw(st.sampled_from(list(Level))))
    return ReferenceImage(image, "a", tuple(segments), "prop"), policy


def _pixel_codes(array):
    array = np.asarray(array)
    if array.ndim == 3:
        flat = array.reshape(-1, 3).astype(np.int64)
        return set((flat[:, 0] << 16 | flat[:, 1] << 8 | flat[:, 2]).tolist()) - {0}
    return set()


def _owned(ref, policy, l0_shape):
    """The test's own statement of pixel ownership: an object's mask minus the
    masks of objects with a lower level; the background is what no object covers.
    With ``"hull"``, an L0 object (not the background) claims its cover."""
    masks = {s.label: s.mask for s in ref.segments}
    masks["background"] = ~np.logical_or.reduce(list(masks.values()))
    if l0_shape == "hull":
        masks = {label: l0_cover(m) if policy[label] == Level.L0 and label != "background" else m
                 for label, m in masks.items()}
    return {label: mask & ~np.logical_or.reduce(
        [m for other, m in masks.items() if policy[other] < policy[label]] + [mask & False])
        for label, mask in masks.items()}


def _private_codes(ref, policy, l0_shape):
    """Pixel codes of every pixel owned by an object below L2."""
    owned = _owned(ref, policy, l0_shape)
    codes = set()
    for label, mask in owned.items():
        if policy[label] < Level.L2:
            codes |= _pixel_codes(ref.image[mask][:, None, :])
    return owned, codes


def _real(segment, mask, ref, policy, l0_shape):
    """The pixels of an L2 share that are not inpainted (outside every L0 cover)."""
    owned = _owned(ref, policy, l0_shape)
    covers = [owned[o] for o in owned if policy[o] == Level.L0 and o != "background"]
    if l0_shape == "mask" or not covers:
        return segment
    return segment_on_black(segment, mask & ~np.logical_or.reduce(covers))


def _check_upload(upload, ref, policy, l0_shape):
    owned, private = _private_codes(ref, policy, l0_shape)
    shared = upload[0]
    assert upload.l0_shape == l0_shape
    uploaded = set()
    for obj in shared.objects:
        if obj.level == Level.L2:
            real = _real(obj.segment, obj.mask, ref, policy, l0_shape)
            assert np.array_equal(real, segment_on_black(ref.image, owned[obj.label]))
            uploaded |= _pixel_codes(real)
        if obj.level == Level.L1:
            assert obj.segment is None and obj.mask is None
            if l0_shape == "mask":
                expected = Canny()(segment_on_black(ref.image, owned[obj.label]))
                assert np.array_equal(obj.feature, expected)
        if obj.level == Level.L0:
            assert obj.feature is None and obj.segment is None and obj.mask is None
    assert not uploaded & private


@SHAPES
@given(world=worlds())
def test_no_pixel_of_an_l0_or_l1_object_is_in_the_upload(world, l0_shape):
    ref, policy = world
    upload = Sanitizer(l0_shape=l0_shape).sanitize(ReferenceSet([ref]), policy, progress=False)
    _check_upload(upload, ref, policy, l0_shape)


@SHAPES
@given(world=worlds(), seed=st.integers(0, 2**32 - 1))
def test_a_share_depends_on_its_own_pixels_only(world, seed, l0_shape):
    """Replacing every pixel an object does not own changes nothing of its share:
    no pixel (and, with "hull", no inpainted blend) of another object is in it."""
    ref, policy = world
    sanitizer = Sanitizer(l0_shape=l0_shape)
    upload = sanitizer.sanitize(ReferenceSet([ref]), policy, progress=False)[0]
    owned = _owned(ref, policy, l0_shape)
    rng = np.random.default_rng(seed)
    for obj in upload.objects:
        if obj.level == Level.L0:
            continue
        noise = rng.integers(1, 256, ref.image.shape, dtype=np.uint8)
        image = np.where(owned[obj.label][..., None], ref.image, noise)
        other = ReferenceImage(image, ref.label, ref.segments, ref.name)
        again = sanitizer.sanitize(ReferenceSet([other]), policy, progress=False)[0]
        again = again.object(obj.label)
        for part in ("feature", "segment", "mask"):
            assert np.array_equal(getattr(obj, part), getattr(again, part)), part


@SHAPES
@given(world=worlds())
def test_no_pixel_of_an_l0_or_l1_object_is_in_the_saved_folder(world, l0_shape,
                                                                tmp_path_factory):
    ref, policy = world
    folder = Sanitizer(l0_shape=l0_shape).sanitize(ReferenceSet([ref]), policy,
                                                   progress=False).save(
        tmp_path_factory.mktemp("upload") / "u")
    _check_upload(SanitizedSet.load(folder), ref, policy, l0_shape)
    _, private = _private_codes(ref, policy, l0_shape)
    on_disk = set()
    for path in folder.rglob("*"):
        if path.name.endswith("_segment.png"):
            segment = np.asarray(Image.open(path).convert("RGB"))
            mask = np.asarray(Image.open(str(path).replace("_segment", "_mask"))) > 0
            on_disk |= _pixel_codes(_real(segment, mask, ref, policy, l0_shape))
        elif path.suffix == ".png":
            on_disk |= _pixel_codes(np.asarray(Image.open(path).convert("RGB")))
        elif path.is_file():
            text = path.read_text()
            json.loads(text)
            assert "prop" not in text
    assert not on_disk & private
    allowed = {p.relative_to(folder).as_posix() for p in folder.rglob("*.png")}
    levels = {f"0000/{o}_{part}.png": policy[o] for o in (*ref.objects, "background")
              for part in ("feature", "segment", "mask")}
    for rel in allowed:
        part = rel.rsplit("_", 1)[1]
        assert (levels[rel], part) in {(Level.L1, "feature.png"), (Level.L2, "segment.png"),
                                       (Level.L2, "mask.png")}
