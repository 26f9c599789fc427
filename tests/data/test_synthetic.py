"""SyntheticSet: round trip in the artifact layout, mixing, manifest paths kept inside."""

import os

import numpy as np
import pytest

from spinml import SyntheticSet
from spinml.data import SyntheticImage


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
