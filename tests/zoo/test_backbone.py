"""The backbone stage: built alone into a zoo, hashed in its manifest, the other parts
untouched; resumed from its work folder; a corrupt backbone is named."""

import json

import pytest

from spinml.io import atomic_write_text
from spinml.train import TrainedModel
from spinml.zoo import BackboneConfig, ZooIntegrityError, build_backbone, zoo_path
from spinml.zoo.manifest import sha256


@pytest.fixture
def zoo(tmp_path):
    """A built zoo as far as the manifest goes: one file of the diffusion part ``sd``."""
    folder = tmp_path / "zoo"
    (folder / "sd").mkdir(parents=True)
    (folder / "sd" / "weights.bin").write_bytes(b"diffusion weights")
    manifest = {"format": "spinml.zoo", "version": 1, "settings": {}, "metrics": {},
                "files": {"sd/weights.bin": sha256(folder / "sd" / "weights.bin")}}
    atomic_write_text(folder / "manifest.json", json.dumps(manifest))
    return folder


def test_backbone_is_added_alone_and_verified(zoo, tmp_path):
    with pytest.raises(FileNotFoundError, match="--only backbone"):
        zoo_path("backbone", zoo)
    manifest = build_backbone(zoo, config=BackboneConfig.tiny(), work=tmp_path / "work",
                              progress=False)
    assert (zoo / "sd" / "weights.bin").read_bytes() == b"diffusion weights"
    assert manifest["files"]["sd/weights.bin"] == sha256(zoo / "sd" / "weights.bin")
    assert set(manifest["files"]) == {"sd/weights.bin", "backbone/model.safetensors",
                                      "backbone/config.json"}
    assert manifest["backbone"]["settings"] == BackboneConfig.tiny().to_dict()
    assert json.loads((zoo / "manifest.json").read_text()) == manifest
    model = TrainedModel.load(zoo_path("backbone", zoo))
    assert model.arch == "resnet20" and model.image_size_ == (16, 16)

    weights = (zoo / "backbone" / "model.safetensors").read_bytes()
    done = tmp_path / "work" / "backbone" / "final" / "model.safetensors"
    stamp = done.stat().st_mtime_ns
    again = build_backbone(zoo, config=BackboneConfig.tiny(), work=tmp_path / "work",
                           progress=False)
    assert done.stat().st_mtime_ns == stamp  # resumed: nothing trained again
    assert (zoo / "backbone" / "model.safetensors").read_bytes() == weights
    assert again["files"] == manifest["files"]

    with pytest.raises(ValueError, match="other settings"):
        build_backbone(zoo, config=BackboneConfig.tiny(seed=1), work=tmp_path / "work",
                       progress=False)
    target = zoo / "backbone" / "model.safetensors"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ZooIntegrityError, match=r"altered \['backbone/model.safetensors"):
        zoo_path("backbone", zoo)


def test_the_other_parts_must_be_intact_first(zoo, tmp_path):
    (zoo / "sd" / "weights.bin").write_bytes(b"changed")
    with pytest.raises(ZooIntegrityError, match="sd/weights.bin"):
        build_backbone(zoo, config=BackboneConfig.tiny(), work=tmp_path / "work",
                       progress=False)
    assert not (zoo / "backbone").exists()
