"""Canvas and Frame: pixel-centre geometry, local coordinates, shapes, painting."""

import math

import numpy as np

from spinml.data.miniworld.canvas import BOWL_ID, TARGET_ID, Canvas


def test_fill_rect_covers_the_pixels_whose_centres_are_inside():
    canvas = Canvas(8)
    canvas.fill_rect(0.25, 0.0, 0.75, 0.5, (1.0, 0.5, 0.0), TARGET_ID)
    # centres (i + 0.5) / 8 in [0.25, 0.75): i = 2..5; in [0, 0.5): i = 0..3
    expected = np.zeros((8, 8), bool)
    expected[0:4, 2:6] = True
    assert np.array_equal(canvas.labels == TARGET_ID, expected)
    assert canvas.rgb[expected].tolist() == [[1.0, 0.5, 0.0]] * 16
    assert not canvas.rgb[~expected].any()
    assert canvas.rect(-1.0, -1.0, 0.0, 0.0) == (slice(0, 0), slice(0, 0))


def test_frame_local_coordinates_follow_the_formula():
    canvas = Canvas(16)
    x0, y0, scale, angle = 0.4, 0.6, 0.5, 0.3
    for flip in (False, True):
        frame = canvas.frame((x0, y0), scale, flip=flip, angle=angle)
        x, y = canvas.centres[None, :], canvas.centres[:, None]
        u = (math.cos(angle) * (x - x0) + math.sin(angle) * (y - y0)) / scale
        v = (-math.sin(angle) * (x - x0) + math.cos(angle) * (y - y0)) / scale
        np.testing.assert_allclose(frame.u, -u if flip else u, atol=1e-6)
        np.testing.assert_allclose(frame.v, v, atol=1e-6)


def test_shapes_match_direct_tests_of_the_pixel_centres():
    canvas = Canvas(32)
    frame = canvas.frame((0.5, 0.5), 1.0)
    u, v = frame.u, frame.v
    assert np.array_equal(frame.ellipse(0.0, 0.0, 0.3, 0.1), (u / 0.3) ** 2 + (v / 0.1) ** 2 <= 1)
    assert np.array_equal(frame.capsule(-0.2, 0.0, 0.2, 0.0, 0.05),
                          np.hypot(u - np.clip(u, -0.2, 0.2), v) <= 0.05)
    square = [(-0.1, -0.1), (0.1, -0.1), (0.1, 0.1), (-0.1, 0.1)]
    inside = (abs(u) <= 0.1) & (abs(v) <= 0.1)
    assert np.array_equal(frame.polygon(square), inside)
    assert np.array_equal(frame.polygon(square[::-1]), inside)
    centred = canvas.frame((15.5 / 32, 15.5 / 32), 1.0)     # on a pixel centre
    assert centred.ellipse(0.0, 0.0, 0.0, 0.0).sum() == 1     # semi-axes at least half a pixel


def test_a_windowed_frame_paints_into_its_canvas_only_there():
    canvas = Canvas(32)
    frame = canvas.frame((0.25, 0.25), 1.0, reach=0.1)
    assert frame.labels.shape == (6, 6) and not frame.empty
    frame.paint(frame.ellipse(0.0, 0.0, 0.05, 0.05), (0.0, 0.0, 1.0), BOWL_ID)
    painted = canvas.labels == BOWL_ID
    rows, cols = np.nonzero(painted)
    assert painted.sum() > 0 and rows.max() < 12 and cols.max() < 12
    assert canvas.rgb[painted, 2].min() == 1.0
    assert canvas.frame((2.0, 2.0), 1.0, reach=0.1).empty
