import os

import numpy as np
import pytest

from spinml import Level, ReferenceSet, SanitizedSet, SharingPolicy, SyntheticSet
from spinml.data import (
    ReferenceImage,
    SanitizedImage,
    Segment,
    SharedObject,
    SyntheticImage,
    require_sanitized,
)
from spinml.sanitize import Sanitizer


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


def _synthetic(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return SyntheticSet([
        SyntheticImage(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "ab"[i % 2],
                       foreground=np.zeros((8, 8, 3), np.uint8),
                       mask=np.eye(8, dtype=bool), provenance={"scheme": "L0_L0", "seed": i})
        for i in range(n)
    ], classes=("a", "b"))


def test_synthetic_set_round_trips_in_artifact_layout(tmp_path):
    synth = _synthetic()
    folder = synth.save(tmp_path / "L0_L0")
    assert (folder / "image" / "a").is_dir() and (folder / "mask" / "b").is_dir()
    again = SyntheticSet.load(folder)
    assert again.classes == synth.classes and again.schemes == ("L0_L0",)
    for a, b in zip(synth, again, strict=True):
        assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
        assert a.background is None and b.background is None and a.provenance == b.provenance


def test_mix_draws_alpha_from_the_other_set_class_by_class():
    own, other = _synthetic(n=8, seed=0), _synthetic(n=8, seed=1)
    other_ids = {id(im) for im in other}
    for alpha, expected in ((0.0, 0), (0.5, 4), (0.75, 6), (1.0, 8)):
        mixed = own.mix(other, alpha, seed=3)
        ids = [id(im) for im in mixed]
        assert len(mixed) == 8 and len(set(ids)) == 8          # no image twice
        assert sum(i in other_ids for i in ids) == expected
        assert sorted(im.label for im in mixed) == sorted(im.label for im in own)
    assert {id(im) for im in own.mix(other, 0.0)} == {id(im) for im in own}
    assert {id(im) for im in own.mix(other, 1.0)} == other_ids
    assert [id(x) for x in own.mix(other, 0.5, seed=3)] == [id(x) for x in own.mix(other, 0.5, 3)]
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="alpha"):
            own.mix(other, bad)


def test_mix_with_replacement_from_a_smaller_set():
    own, small = _synthetic(n=8, seed=0), _synthetic(n=4, seed=1)
    with pytest.raises(ValueError, match="replace=True"):
        own.mix(small, 1.0)
    mixed = own.mix(small, 1.0, seed=2, replace=True)
    assert len(mixed) == 8 and {id(im) for im in mixed} <= {id(im) for im in small}


@pytest.mark.parametrize("evil", ["../outside.png", "/etc/passwd", "link/x.png"])
def test_manifest_paths_cannot_leave_the_folder(tmp_path, evil):
    folder = _synthetic(n=2).save(tmp_path / "set")
    (tmp_path / "outside.png").write_bytes((folder / "image/a/000000.png").read_bytes())
    os.symlink(tmp_path, folder / "link")
    (tmp_path / "x.png").write_bytes((folder / "image/a/000000.png").read_bytes())
    manifest = (folder / "manifest.json").read_text()
    (folder / "manifest.json").write_text(manifest.replace("image/a/000000.png", evil, 1))
    with pytest.raises(ValueError, match="leaves its folder|symbolic link"):
        SyntheticSet.load(folder)


def test_missing_and_foreign_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing"):
        SanitizedSet.load(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        SanitizedSet.load(tmp_path)
    folder = _synthetic(n=2).save(tmp_path / "synthetic")
    with pytest.raises(ValueError, match="not a spinml.sanitized manifest"):
        SanitizedSet.load(folder)
