"""overwrite=True replaces only a folder spinml wrote in the same format (issue 19, item 10)."""

import json

import numpy as np
import pytest

from spinml import Level, SanitizedSet, SharingPolicy, SyntheticSet
from spinml.cli import main
from spinml.data import SanitizedImage, SharedObject, SyntheticImage
from spinml.io import atomic_dir

UPLOAD = SanitizedSet([SanitizedImage("0000", "a", (4, 4), (SharedObject("target", Level.L0),))],
                      ("a",), SharingPolicy())
SYNTHETIC = SyntheticSet([SyntheticImage(np.zeros((4, 4, 3), np.uint8), "a")])


def _users_photos(folder):
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"the user's photo")
    return folder


@pytest.mark.parametrize("save", [UPLOAD.save, SYNTHETIC.save])
def test_overwrite_never_deletes_a_users_folder_or_file(tmp_path, save):
    photos = _users_photos(tmp_path / "photos")
    with pytest.raises(FileExistsError, match="not a spinml.* folder written by spinml"):
        save(photos, overwrite=True)
    assert (photos / "holiday.jpg").read_bytes() == b"the user's photo"
    note = tmp_path / "notes.txt"
    note.write_text("mine")
    with pytest.raises(FileExistsError, match="not a spinml"):
        save(note, overwrite=True)
    assert note.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "photos"]


def test_overwrite_refuses_another_format_and_a_forged_manifest_link(tmp_path):
    synthetic = SYNTHETIC.save(tmp_path / "synthetic")
    with pytest.raises(FileExistsError, match="not a spinml.sanitized folder"):
        UPLOAD.save(synthetic, overwrite=True)
    assert SyntheticSet.load(synthetic).classes == ("a",)
    photos = _users_photos(tmp_path / "photos")
    (photos / "manifest.json").symlink_to(UPLOAD.save(tmp_path / "upload") / "manifest.json")
    with pytest.raises(FileExistsError, match="not a spinml.sanitized folder"):
        UPLOAD.save(photos, overwrite=True)
    assert (photos / "holiday.jpg").is_file()


def test_overwrite_replaces_a_folder_of_the_same_format(tmp_path):
    folder = UPLOAD.save(tmp_path / "upload")
    (folder / "stale.png").write_bytes(b"x")
    UPLOAD.save(folder, overwrite=True)
    assert not (folder / "stale.png").exists() and len(SanitizedSet.load(folder)) == 1
    with pytest.raises(TypeError, match="needs kind="), \
            atomic_dir(tmp_path / "x", overwrite=True):
        pass
    with atomic_dir(tmp_path / "own", overwrite=True, kind="k", manifest="config.json") as tmp:
        (tmp / "config.json").write_text(json.dumps({"format": "k"}))
    with atomic_dir(tmp_path / "own", overwrite=True, kind="k", manifest="config.json") as tmp:
        (tmp / "config.json").write_text(json.dumps({"format": "k", "n": 2}))
    assert json.loads((tmp_path / "own" / "config.json").read_text())["n"] == 2


def test_device_demo_out_does_not_delete_a_users_folder(tmp_path, capsys):
    photos = _users_photos(tmp_path / "photos")
    assert main(["device-demo", "--out", str(photos), "--quiet"]) == 2
    assert "not a spinml.sanitized folder written by spinml" in capsys.readouterr().err
    assert [p.name for p in photos.iterdir()] == ["holiday.jpg"]


def test_zoo_build_does_not_replace_parts_of_a_users_folder(tmp_path, capsys):
    photos = _users_photos(tmp_path / "photos")
    (photos / "sd").mkdir()
    (photos / "sd" / "me.jpg").write_bytes(b"another photo")
    code = main(["zoo", "build", "--tiny", "--quiet", "--out", str(photos),
                 "--work", str(tmp_path / "work")])
    assert code == 2 and "holds no zoo" in capsys.readouterr().err
    assert (photos / "sd" / "me.jpg").read_bytes() == b"another photo"
    assert not (tmp_path / "work").exists()
