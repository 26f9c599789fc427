"""The pure image operations: segment on black, lowest level wins, Canny, scaling, layout."""

import cv2
import numpy as np
import torch

from spinml.image import (
    Canny,
    from_unit_range,
    lowest_level_wins,
    nhwc_to_nchw,
    segment_on_black,
    to_unit_range,
)


def test_segment_on_black_keeps_the_masked_pixels_only():
    image = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3) + 1
    mask = np.array([[True, False], [False, True]])
    out = segment_on_black(image, mask)
    assert out.dtype == np.uint8
    assert out[0, 0].tolist() == [1, 2, 3] and out[1, 1].tolist() == [10, 11, 12]
    assert out[0, 1].tolist() == [0, 0, 0] and out[1, 0].tolist() == [0, 0, 0]
    batch = segment_on_black(np.stack([image, image]), np.stack([mask, ~mask]))
    assert np.array_equal(batch[0] + batch[1], image)


def test_overlapping_pixels_stay_with_the_lowest_level_only():
    target = np.array([[1, 1, 0], [0, 0, 0]], bool)
    bowl = np.array([[0, 1, 1], [0, 0, 0]], bool)
    owned = lowest_level_wins({"target": target, "bowl": bowl},
                              {"target": 2, "bowl": 0, "background": 1}, size=(2, 3))
    assert owned["bowl"].tolist() == [[False, True, True], [False] * 3]
    assert owned["target"].tolist() == [[True, False, False], [False] * 3]
    assert owned["background"].tolist() == [[False] * 3, [True] * 3]
    given = np.ones((2, 3), bool)          # a background that covers everything, at L0
    owned = lowest_level_wins({"target": target}, {"target": 1, "background": 0},
                              background=given, size=(2, 3))
    assert not owned["target"].any() and owned["background"].all()


def test_canny_is_opencv_canny_of_the_grey_image_with_the_artifact_thresholds():
    image = np.zeros((16, 16, 3), np.uint8)
    image[:, 8:] = (200, 120, 40)            # grey 0.299*200 + 0.587*120 + 0.114*40 = 134.8
    edges = Canny()(image)
    assert edges.dtype == np.uint8 and set(np.unique(edges)) == {0, 255}
    assert edges[:, 7:9].any() and not edges[:, :6].any() and not edges[:, 10:].any()
    grey = np.full((16, 16), 0, np.uint8)
    grey[:, 8:] = 135
    assert np.array_equal(edges, cv2.Canny(grey, 100, 200))
    faint = np.zeros((16, 16, 3), np.uint8)
    faint[:, 8:] = 20       # Sobel gradient 4 * 20 = 80, below the low threshold: no edge
    assert not Canny()(faint).any() and Canny(10, 20)(faint).any()


def test_unit_range_round_trip_and_layout():
    pixels = np.array([[[[0, 127, 255]]]], np.uint8)          # (1, 1, 1, 3)
    x = to_unit_range(nhwc_to_nchw(pixels))
    assert x.shape == (1, 3, 1, 1) and x.dtype == torch.float32
    torch.testing.assert_close(x.flatten(), torch.tensor([-1.0, 127 / 127.5 - 1, 1.0]))
    assert np.array_equal(from_unit_range(x), pixels)
    clipped = from_unit_range(torch.tensor([-3.0, 0.0, 3.0]).view(1, 3, 1, 1))
    assert clipped.ravel().tolist() == [0, 128, 255]
    images = np.random.default_rng(0).integers(0, 256, (2, 4, 5, 3), dtype=np.uint8)
    nchw = nhwc_to_nchw(images)
    assert nchw.shape == (2, 3, 4, 5) and nchw.dtype == torch.uint8 and nchw.is_contiguous()
    assert np.array_equal(nchw.numpy().transpose(0, 2, 3, 1), images)
