"""Property tests of the device boundary: nothing of an L0 or L1 object leaves as pixels.

Every pixel of a test image has its own RGB triple, never black, so any
pixel value found in the upload (in memory or on disk) identifies exactly
which object it came from.
"""

import json

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from spinml import Level, ReferenceSet, SanitizedSet, Sanitizer, SharingPolicy
from spinml.data import ReferenceImage, Segment
from spinml.sanitize import Canny, segment_on_black

LABELS = ("target", "bowl", "ball")


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


def _owned(ref, policy):
    """The test's own statement of pixel ownership: an object's mask minus the
    masks of objects with a lower level; the background is what no object covers."""
    masks = {s.label: s.mask for s in ref.segments}
    masks["background"] = ~np.logical_or.reduce(list(masks.values()))
    return {label: mask & ~np.logical_or.reduce(
        [m for other, m in masks.items() if policy[other] < policy[label]] + [mask & False])
        for label, mask in masks.items()}


def _private_codes(ref, policy):
    """Pixel codes of every pixel owned by an object below L2."""
    owned = _owned(ref, policy)
    codes = set()
    for label, mask in owned.items():
        if policy[label] < Level.L2:
            codes |= _pixel_codes(ref.image[mask][:, None, :])
    return owned, codes


def _check_upload(upload, ref, policy):
    owned, private = _private_codes(ref, policy)
    shared = upload[0]
    uploaded = set()
    for obj in shared.objects:
        for part in (obj.feature, obj.segment, obj.mask):
            if part is not None:
                uploaded |= _pixel_codes(part)
        if obj.level == Level.L1:
            assert obj.segment is None and obj.mask is None
            expected = Canny()(segment_on_black(ref.image, owned[obj.label]))
            assert np.array_equal(obj.feature, expected)
        if obj.level == Level.L0:
            assert obj.feature is None and obj.segment is None and obj.mask is None
    assert not uploaded & private


@given(worlds())
def test_no_pixel_of_an_l0_or_l1_object_is_in_the_upload(world):
    ref, policy = world
    upload = Sanitizer().sanitize(ReferenceSet([ref]), policy, progress=False)
    _check_upload(upload, ref, policy)


@given(world=worlds())
def test_no_pixel_of_an_l0_or_l1_object_is_in_the_saved_folder(world, tmp_path_factory):
    ref, policy = world
    folder = Sanitizer().sanitize(ReferenceSet([ref]), policy, progress=False).save(
        tmp_path_factory.mktemp("upload") / "u")
    _check_upload(SanitizedSet.load(folder), ref, policy)
    _, private = _private_codes(ref, policy)
    on_disk = set()
    for path in folder.rglob("*"):
        if path.suffix == ".png":
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
