import numpy as np
import pytest
from PIL import Image

from spinml.data import ImageTooLargeError, load_folder


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def artifact(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("eating", "sleeping"):
        for i in range(2):
            image = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
            mask = np.zeros((20, 30), np.uint8)
            mask[5:15, 10:20] = 255
            _save(tmp_path / f"real/raw/{cls}/{i}.jpg", image)
            _save(tmp_path / f"real/raw_split/mask/{cls}/{i}.png", mask)
    return tmp_path


def test_artifact_layout(artifact):
    refs = load_folder(artifact)
    assert refs.classes == ("eating", "sleeping") and len(refs) == 4
    assert refs[0].objects == ("target",) and refs[0].mask("target").sum() == 100
    assert len(load_folder(artifact / "real")) == 4


def test_plain_layout(tmp_path):
    _save(tmp_path / "images/cat/a.png", np.full((8, 8, 3), 5, np.uint8))
    for name, rows in (("target", slice(0, 4)), ("bowl", slice(5, 7))):
        mask = np.zeros((8, 8), np.uint8)
        mask[rows] = 255
        _save(tmp_path / f"masks/cat/a/{name}.png", mask)
    refs = load_folder(tmp_path)
    assert set(refs[0].objects) == {"target", "bowl"} and refs[0].mask("background").sum() == 16


def test_missing_folder_and_unknown_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_folder(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="neither"):
        load_folder(tmp_path)


def test_missing_mask_is_named(artifact):
    (artifact / "real/raw_split/mask/eating/1.png").unlink()
    with pytest.raises(FileNotFoundError, match="mask/eating"):
        load_folder(artifact)


def test_mask_of_another_size_names_both_files(artifact):
    _save(artifact / "real/raw_split/mask/sleeping/0.png", np.full((10, 10), 255, np.uint8))
    with pytest.raises(ValueError, match=r"raw/sleeping/0.jpg.*10x10.*mask/sleeping/0.png"):
        load_folder(artifact)


def test_empty_mask_is_named(artifact):
    _save(artifact / "real/raw_split/mask/sleeping/1.png", np.zeros((20, 30), np.uint8))
    with pytest.raises(ValueError, match="sleeping/1.jpg.*empty"):
        load_folder(artifact)


def test_corrupt_and_huge_images_are_named(artifact):
    (artifact / "real/raw/eating/0.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(ValueError, match="eating/0.jpg.*corrupt"):
        load_folder(artifact)
    _save(artifact / "real/raw/eating/0.jpg", np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(ImageTooLargeError, match="eating/0.jpg"):
        load_folder(artifact, max_pixels=100)
