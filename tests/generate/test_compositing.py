import numpy as np
import pytest

from spinml.generate import compose, foreground_mask


def _on_black(rng: np.random.Generator) -> np.ndarray:
    """A generated 'black' canvas: grey levels 0 to 4."""
    return rng.integers(0, 5, (32, 32, 3)).astype(np.uint8)


def test_mask_keeps_a_dark_thin_pet() -> None:
    image = _on_black(np.random.default_rng(0))
    image[20, 4:28] = (30, 35, 44)          # a navy body one pixel high
    image[12:20, 27] = (40, 30, 20)         # a one-pixel tail
    mask = foreground_mask(image)
    assert mask[20, 4:28].all() and mask[12:20, 27].all()
    assert mask.sum() <= 3 * (24 + 8)       # the closing adds little around it


def test_mask_drops_specks_and_black() -> None:
    image = _on_black(np.random.default_rng(1))
    image[3, 3] = image[8, 30] = (200, 200, 200)
    assert not foreground_mask(image).any()


def test_compose_takes_the_foreground_inside_the_mask() -> None:
    fg = np.full((8, 8, 3), 200, np.uint8)
    bg = np.zeros((8, 8, 3), np.uint8)
    mask = np.zeros((8, 8), bool)
    mask[2:4, 2:4] = True
    out = compose(fg, bg, mask)
    assert (out[mask] == 200).all() and (out[~mask] == 0).all()
    with pytest.raises(ValueError, match="cannot compose"):
        compose(fg, bg[:4], mask)
