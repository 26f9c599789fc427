"""An upload folder is untrusted input: every manifest field is checked, names that become
paths cannot leave the output folder, and the decoded pixels are capped (issue 19, items 7-9)."""

import io
import json
import os
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from spinml import Level, SanitizedSet, SharingPolicy, SyntheticSet
from spinml.data import SanitizedImage, SharedObject, SyntheticImage
from spinml.data.sanitized import MAX_UPLOAD_PIXELS
from spinml.io import safe_name

POLICY = SharingPolicy("target=L2,background=L1")


def _upload(label="sleeping", n=2, size=8):
    mask = np.zeros((size, size), bool)
    mask[2:6, 2:6] = True
    segment = np.where(mask[..., None], np.uint8(200), np.uint8(0)).repeat(3, axis=2)
    images = [SanitizedImage(f"{i:04d}", label, (size, size), (
        SharedObject("target", Level.L2, segment=segment, mask=mask),
        SharedObject("background", Level.L1, feature=np.eye(size, dtype=np.uint8) * 255,
                     feature_kind="canny"))) for i in range(n)]
    return SanitizedSet(images, (label,), POLICY)


def _edit(folder, change):
    path = folder / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _tree(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in Path(folder).rglob("*"))


# item 7: a class label from an upload cannot become a path outside the output folder

def test_a_traversing_class_label_in_an_upload_is_refused(tmp_path):
    folder = _upload().save(tmp_path / "upload")
    _edit(folder, lambda d: (d.update(classes=["../../../x"]),
                             [im.update({"class": "../../../x"}) for im in d["images"]]))
    with pytest.raises(ValueError, match=r"manifest .*manifest\.json.*cannot be used as a file"):
        SanitizedSet.load(folder)


def test_no_set_holds_a_class_label_that_is_not_a_file_name():
    with pytest.raises(ValueError, match="cannot be used as a file name"):
        _upload(label="../../../x")
    with pytest.raises(ValueError, match="cannot be used as a file name"):
        _upload(label="..")


def test_synthetic_save_never_writes_outside_its_folder(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    synthetic = SyntheticSet([SyntheticImage(np.zeros((4, 4, 3), np.uint8), "../../../x")])
    with pytest.raises(ValueError, match="cannot be used as a file name"):
        synthetic.save(out)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    assert not out.exists()


def test_safe_name_allows_ordinary_labels_only():
    for good in ("sleeping", "golden retriever", "0", "chat-noir_2", "café"):
        assert safe_name(good) == good
    for bad in ("", ".", "..", "../x", "a/b", "a\\b", ".hidden", " a", "a ", "x\n", "a:b",
                "a" * 129, None, 3, ["a"]):
        with pytest.raises(ValueError, match="cannot be used as a file name"):
            safe_name(bad)


# item 8: many entries naming one small, highly compressible PNG

def test_total_decoded_pixels_are_capped_before_decoding(tmp_path):
    folder = _upload(n=1).save(tmp_path / "upload")
    side = 2048
    (folder / "big_mask.png").write_bytes(_png(np.zeros((side, side), np.uint8)))
    (folder / "big_segment.png").write_bytes(_png(np.zeros((side, side, 3), np.uint8)))
    n = 40   # 40 entries x 2 files x 2048^2 pixels = 336 M pixels, about 1 GB decoded
    assert os.path.getsize(folder / "big_mask.png") < 20_000

    def many(d):
        entry = {"id": "0000", "class": "sleeping", "size": [side, side], "objects": [
            {"label": "target", "level": "L2", "segment": "big_segment.png",
             "mask": "big_mask.png"}]}
        d["images"] = [{**entry, "id": f"{i:04d}"} for i in range(n)]

    _edit(folder, many)
    assert n * 2 * side * side > MAX_UPLOAD_PIXELS
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"manifest .*hold \d+ pixels, more than max_pixels"):
            SanitizedSet.load(folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000
    with pytest.raises(ValueError, match="more than max_pixels=1000"):
        SanitizedSet.load(_upload(n=8).save(tmp_path / "small"), max_pixels=1000)


def test_a_file_larger_than_its_entry_is_refused_before_decoding(tmp_path):
    folder = _upload(n=1).save(tmp_path / "upload")
    (folder / "0000" / "target_mask.png").write_bytes(_png(np.zeros((4000, 4000), np.uint8)))
    with pytest.raises(ValueError, match=r"target_mask\.png holds more pixels than its manifest "
                                         r"entry's size 8x8"):
        SanitizedSet.load(folder)


# item 9: every field of the manifest is checked

def _images(d):
    return d["images"]


BAD_FIELDS = {
    "size of one number": (lambda d: _images(d)[0].update(size=[32]), "size must be"),
    "size of text": (lambda d: _images(d)[0].update(size=["8", "8"]), "size must be"),
    "size of bools": (lambda d: _images(d)[0].update(size=[True, True]), "size must be"),
    "negative size": (lambda d: _images(d)[0].update(size=[-8, 8]), "size must be"),
    "classes as text": (lambda d: d.update(classes="abc"), "classes must be a list"),
    "a dict as class": (lambda d: d.update(classes=[{"a": 1}]), "cannot be used as a file"),
    "class not listed": (lambda d: _images(d)[0].update({"class": "eating"}), "not in classes"),
    "version true": (lambda d: d.update(version=True), "format version True"),
    "version 1.0": (lambda d: d.update(version=1.0), "format version 1.0"),
    "images as dict": (lambda d: d.update(images={}), "images must be a list"),
    "image as list": (lambda d: d.update(images=[[]]), r"images\[0\] must be a JSON object"),
    "id traversing": (lambda d: _images(d)[0].update(id="../x"), "images.0..id"),
    "id missing": (lambda d: _images(d)[0].pop("id"), "has no 'id'"),
    "level 5": (lambda d: _images(d)[0]["objects"][0].update(level="L5"), "level"),
    "level as int": (lambda d: _images(d)[0]["objects"][0].update(level=2), "level must be"),
    "label traversing": (lambda d: _images(d)[0]["objects"][0].update(label="../t"), "label"),
    "path as list": (lambda d: _images(d)[0]["objects"][0].update(mask=["a"]), "mask must be"),
    "policy as text": (lambda d: d.update(policy="target=L2"), "policy must be a dict"),
    "policy mismatch": (lambda d: d.update(policy={"target": "L0"}), "policy says L0"),
    "duplicate id": (lambda d: _images(d).append(dict(_images(d)[0])), "appears twice"),
    "not an object": (lambda d: d.clear(), "not a spinml.sanitized manifest"),
}


@pytest.mark.parametrize("name", sorted(BAD_FIELDS))
def test_every_manifest_field_is_checked(tmp_path, name):
    change, message = BAD_FIELDS[name]
    folder = _upload().save(tmp_path / "upload")
    _edit(folder, change)
    with pytest.raises(ValueError, match=message) as err:
        SanitizedSet.load(folder)
    assert str(folder / "manifest.json") in str(err.value)


def test_a_symlinked_manifest_is_refused(tmp_path):
    outside = _upload().save(tmp_path / "outside")
    folder = _upload().save(tmp_path / "upload")
    (folder / "manifest.json").unlink()
    os.symlink(outside / "manifest.json", folder / "manifest.json")
    with pytest.raises(ValueError, match="manifest.json is a symbolic link"):
        SanitizedSet.load(folder)


def test_synthetic_manifest_fields_are_checked(tmp_path):
    synthetic = SyntheticSet([SyntheticImage(np.zeros((4, 4, 3), np.uint8), "a")])
    for change, message in ((lambda d: d.update(classes="a"), "classes must be a list"),
                            (lambda d: d["images"][0].update(label="b"), "not in classes"),
                            (lambda d: d.update(classes=[".."]), "cannot be used as a file"),
                            (lambda d: d.update(version=True), "format version")):
        folder = synthetic.save(tmp_path / "set", overwrite=True)
        _edit(folder, change)
        with pytest.raises(ValueError, match=message):
            SyntheticSet.load(folder)


# the fuzz test: random manifests and files

FILES = {
    "ok_segment.png": _png(np.zeros((8, 8, 3), np.uint8)),
    "ok_mask.png": _png(np.zeros((8, 8), np.uint8)),
    "ok_feature.png": _png(np.eye(8, dtype=np.uint8) * 255),
    "bomb.png": _png(np.zeros((1500, 1500), np.uint8)),
    "truncated.png": _png(np.zeros((8, 8), np.uint8))[:40],
    "text.png": b"root:x:0:0:root:/root:/bin/bash\n",
}
MAX_PIXELS = 4 * 8 * 8 * 3
"""The fuzz test's cap: 768 pixels, a few kB decoded; ``bomb.png`` alone is 2.25 M pixels."""

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 2000), st.floats(allow_nan=True),
                     st.sampled_from(["", "L0", "L1", "L2", "sleeping", "target", "background",
                                      "canny", "../x", "/etc/passwd", "0000", *FILES,
                                      "missing.png", "a/../../b.png"]))
_json = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(
        ["id", "class", "size", "objects", "label", "level", "segment", "mask", "feature",
         "feature_kind", "x"]), inner, max_size=6)), max_leaves=20)
_path = st.sampled_from([*FILES, "missing.png", "../outside.png", "/etc/passwd", "sub/../x.png"])
_object = st.fixed_dictionaries(
    {"label": st.one_of(st.sampled_from(["target", "background", "bowl", "../t"]), _scalars),
     "level": st.one_of(st.sampled_from(["L0", "L1", "L2"]), _scalars)},
    optional={"segment": st.one_of(_path, _scalars), "mask": st.one_of(_path, _scalars),
              "feature": st.one_of(_path, _scalars),
              "feature_kind": st.one_of(st.just("canny"), _scalars)})
_image = st.fixed_dictionaries(
    {"id": st.one_of(st.sampled_from(["0000", "0001", "../x"]), _scalars),
     "class": st.one_of(st.sampled_from(["sleeping", "eating", "../x"]), _scalars),
     "size": st.one_of(st.lists(st.integers(-1, 2000), max_size=3), st.just([8, 8]),
                       st.just([1500, 1500]), _json),
     "objects": st.one_of(st.lists(_object, max_size=3), _json)})
_manifest = st.fixed_dictionaries(
    {"format": st.one_of(st.just("spinml.sanitized"), _scalars),
     "version": st.one_of(st.just(1), _scalars),
     "classes": st.one_of(st.just(["sleeping"]), st.lists(_scalars, max_size=3), _json),
     "policy": st.one_of(st.just({"target": "L2", "background": "L1", "default": "L0"}),
                         st.just({"default": "L2"}), _json),
     "images": st.one_of(st.lists(_image, max_size=6), _json)})

_VALID_OBJECTS = (
    {"label": "target", "level": "L2", "segment": "ok_segment.png", "mask": "ok_mask.png"},
    {"label": "background", "level": "L1", "feature": "ok_feature.png", "feature_kind": "canny"},
    {"label": "bowl", "level": "L0"},
)


def _dicts(tree):
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from _dicts(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _dicts(value)


@st.composite
def _near_valid(draw):
    """A valid manifest of up to 5 images, then up to 2 fields replaced at random."""
    images = [{"id": f"{i:04d}", "class": "sleeping", "size": [8, 8], "objects": [
        dict(o) for o in draw(st.lists(st.sampled_from(_VALID_OBJECTS), max_size=3,
                                       unique_by=lambda o: o["label"]))]}
        for i in range(draw(st.integers(0, 5)))]
    manifest = {"format": "spinml.sanitized", "version": 1, "classes": ["sleeping"],
                "policy": {"target": "L2", "background": "L1", "default": "L0"},
                "images": images}
    for _ in range(draw(st.integers(0, 2))):
        target = draw(st.sampled_from(list(_dicts(manifest))))
        key = draw(st.sampled_from(sorted({*target, "size", "segment", "mask", "feature"})))
        target[key] = draw(st.one_of(_path, _scalars, st.just([1500, 1500]), _json))
    return manifest


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifest=st.one_of(_near_valid(), _near_valid(), _manifest, _json),
       raw=st.one_of(st.none(), st.none(), st.binary(max_size=64)))
def test_fuzzed_uploads_fail_clearly_write_nothing_and_stay_under_the_cap(manifest, raw):
    with tempfile.TemporaryDirectory() as parent:
        folder = Path(parent) / "upload"
        folder.mkdir()
        for name, data in FILES.items():
            (folder / name).write_bytes(data)
        (folder / "manifest.json").write_bytes(raw if raw is not None
                                               else json.dumps(manifest).encode())
        before = _tree(parent)
        tracemalloc.start()
        try:
            loaded = SanitizedSet.load(folder, max_pixels=MAX_PIXELS)
        except (ValueError, FileNotFoundError) as err:
            assert str(folder) in str(err), err
            assert "root:x" not in str(err)
            event(f"refused: {type(err).__name__}")
            loaded = None
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert _tree(parent) == before
        assert peak < 1_000_000   # bomb.png decoded once would be 2.25 MB
        if loaded is not None:
            event(f"loaded {len(loaded)} images")
            decoded = sum(a.shape[0] * a.shape[1] for im in loaded for o in im.objects
                          for a in (o.feature, o.segment, o.mask) if a is not None)
            assert decoded <= MAX_PIXELS
