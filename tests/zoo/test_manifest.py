"""The zoo manifest: missing and altered files are named; a folder without a zoo and a
part not in it are refused."""

import shutil

import pytest

from spinml.zoo import ZooIntegrityError, verify, zoo_path


def test_corrupt_or_missing_weights_are_named(tiny_zoo, tmp_path):
    root, _ = tiny_zoo
    zoo = tmp_path / "zoo"
    shutil.copytree(root / "zoo", zoo)
    assert zoo_path("sd", zoo) == zoo / "sd"
    target = zoo / "sd" / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    (zoo / "controlnet-canny" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(ZooIntegrityError, match=r"missing \['controlnet-canny/diffusion.*"
                                                r"altered \['sd/unet/diffusion"):
        zoo_path("sd", zoo)
    with pytest.raises(FileNotFoundError, match="spinml zoo build"):
        verify(tmp_path)
    with pytest.raises(ValueError, match="zoo part"):
        zoo_path("vae", zoo)
