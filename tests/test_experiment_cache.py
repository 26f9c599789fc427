"""Cache keys follow contents, not paths; entries are checked against their request
(issue 19, item 11)."""

import hashlib
import json
from pathlib import Path

import pytest

import spinml
from spinml.experiment import Experiment, Settings


def _folders(tmp_path):
    for name in ("data", "test", "sd"):
        (tmp_path / name / "sleeping").mkdir(parents=True)
        (tmp_path / name / "sleeping" / "mask.png").write_bytes(b"mask v1")
    return (Settings(data=str(tmp_path / "data"), test_data=str(tmp_path / "test")),
            Settings(sd=str(tmp_path / "sd")))


def test_an_edited_data_file_gives_a_new_key(tmp_path):
    data_settings, _ = _folders(tmp_path)
    before = Experiment(data_settings, cache=tmp_path / "cache")._key("upload", policy="p")
    assert Experiment(data_settings, cache=tmp_path / "cache")._key("upload", policy="p") == before
    (tmp_path / "data" / "sleeping" / "mask.png").write_bytes(b"mask v2")
    after = Experiment(data_settings, cache=tmp_path / "cache")._key("upload", policy="p")
    assert after != before


def test_an_edited_model_file_gives_a_new_key_from_its_stage_on(tmp_path):
    _, sd_settings = _folders(tmp_path)
    first = Experiment(sd_settings, cache=tmp_path / "cache")
    upload, synthetic = first._key("upload", policy="p"), first._key("synthetic", policy="p")
    (tmp_path / "sd" / "sleeping" / "mask.png").write_bytes(b"other weights")
    second = Experiment(sd_settings, cache=tmp_path / "cache")
    assert second._key("upload", policy="p") == upload
    assert second._key("synthetic", policy="p") != synthetic


def test_the_request_holds_the_hash_of_the_library_source(tmp_path):
    root = Path(spinml.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py"), key=lambda p: p.as_posix()):
        file_hash = hashlib.sha256(path.read_bytes()).hexdigest()
        digest.update(f"{path.relative_to(root).as_posix()}\0{file_hash}\0".encode())
    experiment = Experiment(Settings(), cache=tmp_path)
    entry = experiment._cached("upload", experiment._key("upload", policy="p"),
                               lambda tmp: (tmp / "x.txt").write_text("made"), lambda f: f)
    recorded = json.loads((entry / "request.json").read_text())["request"]
    assert recorded["source"] == digest.hexdigest() and recorded["stage"] == "upload"


def test_a_replaced_entry_is_refused(tmp_path):
    experiment = Experiment(Settings(), cache=tmp_path)
    keys = [experiment._key("upload", policy=p) for p in ("target=L2", "target=L0")]
    made = [experiment._cached("upload", k, lambda tmp, k=k: (tmp / "x.txt").write_text(k),
                               lambda f: (f / "x.txt").read_text()) for k in keys]
    assert made == keys
    first, second = (tmp_path / "upload" / k for k in keys)
    (second / "request.json").write_bytes((first / "request.json").read_bytes())
    with pytest.raises(ValueError, match=f"cache entry {second} does not hold what its key"):
        experiment._cached("upload", keys[1], lambda tmp: None, lambda f: f)
    (first / "request.json").unlink()
    with pytest.raises(ValueError, match="request.json is missing or differs"):
        experiment._cached("upload", keys[0], lambda tmp: None, lambda f: f)
