import numpy as np
import pytest
from PIL import Image

from spinml.data import ImageTooLargeError, read_image, read_mask


def _png(path, array):
    Image.fromarray(array).save(path)
    return path


def test_reads_rgb_grey_and_masks(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    assert np.array_equal(read_image(_png(tmp_path / "a.png", rgb)), rgb)
    grey = read_image(_png(tmp_path / "g.png", rgb[:, :, 0]))
    assert grey.shape == (5, 7, 3)
    binary = np.where(rgb[:, :, 0] > 127, 255, 0).astype(np.uint8)
    mask = read_mask(_png(tmp_path / "m.png", binary))
    assert mask.dtype == bool and np.array_equal(mask, rgb[:, :, 0] > 127)


def test_truncated_and_corrupt_images_name_the_file(tmp_path):
    path = _png(tmp_path / "full.png", np.zeros((64, 64, 3), np.uint8) + 7)
    data = path.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.jpg").write_bytes(b"this is not an image")
    for name in ("cut.png", "junk.jpg"):
        with pytest.raises(ValueError, match=f"{name}.*corrupt or truncated"):
            read_image(tmp_path / name)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        read_image(tmp_path / "nope.png")


def test_refuses_images_too_large_to_decode_safely(tmp_path):
    small = _png(tmp_path / "small.png", np.zeros((40, 40), np.uint8))
    with pytest.raises(ImageTooLargeError, match="small.png.*40x40"):
        read_image(small, max_pixels=1000)
    huge = tmp_path / "huge.png"
    Image.new("1", (9000, 9000)).save(huge)
    with pytest.raises(ImageTooLargeError, match="huge.png"):
        read_mask(huge)
