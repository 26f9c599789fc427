import numpy as np
import pytest
from PIL import Image

from spinml.data import ImageTooLargeError, read_image, read_mask, read_mask_levels
from spinml.data.imageio import read_grey


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


def test_exif_orientation_is_applied_to_images_and_masks(tmp_path):
    shown = np.zeros((6, 10, 3), np.uint8)
    shown[0, 0] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = Image.fromarray(shown).transpose(Image.Transpose.ROTATE_90)
    stored.save(tmp_path / "a.png", exif=exif)
    assert np.array_equal(read_image(tmp_path / "a.png"), shown)
    Image.fromarray(shown[:, :, 0]).transpose(Image.Transpose.ROTATE_90).save(
        tmp_path / "m.png", exif=exif)
    assert np.array_equal(read_mask(tmp_path / "m.png"), shown[:, :, 0] > 0)


def test_masks_with_alpha_are_read_from_it(tmp_path):
    alpha = np.zeros((4, 5), np.uint8)
    alpha[1:3, 1:4] = 255
    cut_out = np.dstack([np.full((4, 5, 3), 255, np.uint8), alpha])
    _png(tmp_path / "rgba.png", cut_out)
    _png(tmp_path / "la.png", np.dstack([np.zeros((4, 5), np.uint8), alpha]))
    for name in ("rgba.png", "la.png"):
        assert np.array_equal(read_mask(tmp_path / name), alpha > 0)
    opaque = cut_out.copy()
    opaque[:, :, 3] = 255
    opaque[:, :, :3] = alpha[..., None]
    assert np.array_equal(read_mask(_png(tmp_path / "opaque.png", opaque)), alpha > 0)
    soft = alpha.copy()
    soft[0, 0] = 100
    _png(tmp_path / "soft.png", soft)
    assert np.array_equal(read_mask_levels(tmp_path / "soft.png"), soft)


def test_sixteen_bit_grey_is_scaled(tmp_path):
    grey = np.array([[0, 128, 129, 257], [30000, 65278, 65535, 1000]], np.uint16)
    path = _png(tmp_path / "g16.png", grey)
    expected = np.array([[0, 0, 1, 1], [117, 254, 255, 4]], np.uint8)
    assert np.array_equal(read_grey(path), expected)
    assert np.array_equal(read_image(path)[:, :, 1], expected)


def test_other_formats_are_refused(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png", format="GIF")
    with pytest.raises(ValueError, match="a.png.*not one of the formats read here: PNG"):
        read_image(tmp_path / "a.png")
    Image.fromarray(np.zeros((4, 4), np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(ValueError, match="f.tif: floating-point"):
        read_image(tmp_path / "f.tif")
