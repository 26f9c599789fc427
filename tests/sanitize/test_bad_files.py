"""Bad input through files, as a user's photos arrive: load_folder -> Sanitizer -> save.

Each test writes the files, runs the whole device path and inspects the saved
upload's PNGs for pixels that must not be there.
"""

import numpy as np
import pytest
from PIL import Image

from spinml import Sanitizer
from spinml.data import Segment, load_folder

ROOM = (40, 60, 200)
PET = (220, 30, 30)
BOWL = (250, 250, 0)


def _save(path, image, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = image if isinstance(image, Image.Image) else Image.fromarray(image)
    image.save(path, **options)
    return path


def _disk(size, centre, radius):
    yy, xx = np.mgrid[:size, :size]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def _paint(mask, colour=PET, size=64):
    image = np.empty((size, size, 3), np.uint8)
    image[:] = ROOM
    image[mask] = colour
    return image


def _upload(tmp_path, policy, sanitizer=None):
    refs = load_folder(tmp_path / "data")
    folder = (sanitizer or Sanitizer()).sanitize(refs, policy, progress=False).save(
        tmp_path / "upload")
    return lambda name: np.asarray(Image.open(folder / "0000" / name))


def _reddish(pixels):
    pixels = pixels.reshape(-1, 3).astype(int)
    return int(((pixels[:, 0] > 128) & (pixels[:, 0] > pixels[:, 2] + 50)).sum())


def test_exif_orientation_is_applied_before_the_mask(tmp_path):
    """A camera JPEG stored sideways with Orientation = 6; the mask is drawn on the
    photo as every viewer shows it."""
    pet = _disk(64, (16, 16), 12)
    shown = Image.fromarray(_paint(pet))
    stored = shown.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    _save(tmp_path / "data/images/cat/a.jpg", stored, exif=exif, quality=95, subsampling=0)
    _save(tmp_path / "data/masks/cat/a/target.png", pet.astype(np.uint8) * 255)
    read = _upload(tmp_path, "target=L0,background=L2")
    background = read("background_segment.png")
    assert _reddish(background) == 0
    assert _reddish(np.asarray(shown)) > 400


def test_a_cut_out_mask_is_read_from_its_alpha_channel(tmp_path):
    """An RGBA cut-out: RGB white everywhere, the object in the alpha channel."""
    pet = _disk(64, (30, 34), 14)
    _save(tmp_path / "data/images/cat/a.png", _paint(pet))
    cut_out = np.full((64, 64, 4), 255, np.uint8)
    cut_out[:, :, 3] = pet * 255
    _save(tmp_path / "data/masks/cat/a/target.png", cut_out)
    read = _upload(tmp_path, "target=L2,background=L0")
    segment, mask = read("target_segment.png"), read("target_mask.png") > 0
    assert np.array_equal(mask, pet)
    assert (segment[mask] == PET).all() and not segment[~mask].any()


class Instances:
    """A segmenter that returns one segment per instance: two bowls."""

    def __init__(self, target, bowls):
        self.target, self.bowls = target, bowls

    def segment(self, image, labels):
        return [Segment("target", self.target), *(Segment("bowl", b) for b in self.bowls)]


def test_instances_of_one_label_from_a_segmenter_are_merged(tmp_path):
    pet, bowls = _disk(64, (20, 40), 10), [_disk(64, (50, 12), 6), _disk(64, (50, 50), 6)]
    image = _paint(pet)
    for bowl in bowls:
        image[bowl] = BOWL
    _save(tmp_path / "data/images/cat/a.png", image)
    _save(tmp_path / "data/masks/cat/a/target.png", pet.astype(np.uint8) * 255)
    sanitizer = Sanitizer(segmenter=Instances(pet, bowls), objects=["bowl"])
    read = _upload(tmp_path, "target=L2,bowl=L0,background=L2", sanitizer)
    for name in ("background_segment.png", "target_segment.png"):
        assert not (read(name) == BOWL).all(axis=2).any(), name


def _soft_world(tmp_path):
    """A pet with anti-aliased edges: the photo is the exact blend of its soft mask."""
    big = np.zeros((256, 256), np.uint8)
    yy, xx = np.mgrid[:256, :256]
    big[(yy - 130) ** 2 + (xx - 118) ** 2 <= 70**2] = 255
    soft = np.asarray(Image.fromarray(big).resize((64, 64), Image.BOX))
    alpha = soft[..., None] / 255.0
    image = np.round(alpha * np.array(PET) + (1 - alpha) * np.array(ROOM)).astype(np.uint8)
    assert 0 < ((soft > 0) & (soft < 255)).sum() < 200
    _save(tmp_path / "data/images/cat/a.png", image)
    _save(tmp_path / "data/masks/cat/a/target.png", soft)
    return soft


def test_a_soft_edge_goes_to_the_stricter_l0_background(tmp_path):
    soft = _soft_world(tmp_path)
    read = _upload(tmp_path, "target=L2,background=L0")
    segment, mask = read("target_segment.png"), read("target_mask.png") > 0
    assert np.array_equal(mask, soft == 255)
    assert (segment[mask] == PET).all()


@pytest.mark.parametrize("options", [{}, {"l0_shape": "mask"}])
def test_a_soft_edge_goes_to_the_stricter_l0_target(tmp_path, options):
    soft = _soft_world(tmp_path)
    read = _upload(tmp_path, "target=L0,background=L2", Sanitizer(**options))
    segment, mask = read("background_segment.png"), read("background_mask.png") > 0
    assert (segment[mask] == ROOM).all()
    if options:
        assert np.array_equal(mask, soft == 0)


def test_a_16_bit_photo_is_scaled_not_clipped(tmp_path):
    grey = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    _save(tmp_path / "data/images/cat/a.png", grey)
    mask = np.zeros((64, 64), np.uint16)
    mask[10:40, 20:50] = 65535
    _save(tmp_path / "data/masks/cat/a/target.png", mask)
    read = _upload(tmp_path, "target=L2,background=L0")
    expected = np.round(grey / 257).astype(np.uint8)
    segment = read("target_segment.png")
    assert np.array_equal(segment[10:40, 20:50, 0], expected[10:40, 20:50])
    assert len(np.unique(segment[10:40, 20:50])) > 50


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nnewpath 0 0 moveto showpage\n%%EOF\n"


@pytest.mark.parametrize("kind", ["gif", "eps"])
def test_only_the_listed_formats_are_opened(tmp_path, kind):
    """A GIF or an EPS (Pillow would run Ghostscript on it) named like a PNG."""
    path = tmp_path / "data/images/cat/a.png"
    if kind == "gif":
        _save(path, np.full((64, 64, 3), 9, np.uint8), format="GIF")
    else:
        path.parent.mkdir(parents=True)
        path.write_bytes(EPS)
    _save(tmp_path / "data/masks/cat/a/target.png", np.full((64, 64), 255, np.uint8))
    with pytest.raises(ValueError, match=r"images/cat/a.png.*PNG, JPEG, WEBP, TIFF, BMP"):
        load_folder(tmp_path / "data")


def test_a_file_that_is_not_an_image_is_not_skipped(tmp_path):
    _save(tmp_path / "data/images/cat/a.png", np.full((8, 8, 3), 9, np.uint8))
    (tmp_path / "data/images/cat/b.eps").write_bytes(EPS)
    _save(tmp_path / "data/masks/cat/a/target.png", np.full((8, 8), 255, np.uint8))
    with pytest.raises(ValueError, match=r"b.eps is not an image file"):
        load_folder(tmp_path / "data")
