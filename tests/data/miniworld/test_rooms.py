"""Rooms: sampling by rarity, drawing the wall, floor and furniture, lighting."""

import numpy as np
import pytest

from spinml.data.miniworld.canvas import BACKGROUND_ID, Canvas
from spinml.data.miniworld.colours import COLOURS
from spinml.data.miniworld.rooms import FURNITURE, Room, apply_light, draw_room


def rooms(rarity: float, n: int = 200) -> list[Room]:
    rng = np.random.default_rng(0)
    return [Room.sample(rng, rarity=rarity) for _ in range(n)]


def test_sampled_rooms_are_valid_and_rarity_changes_them():
    common, rare = rooms(0.0), rooms(1.0)
    for room in common + rare:
        assert room.wall_name in COLOURS and room.floor_name in COLOURS
        assert 0.42 <= room.horizon <= 0.56 and 1 <= len(room.furniture) <= 3
        assert {f.kind for f in room.furniture} <= set(FURNITURE)
        assert all(0.0 <= c <= 1.0 for c in (*room.wall, *room.floor))
    assert all(0.9 <= r.light <= 1.1 for r in common)
    assert all(0.45 <= r.light <= 0.62 for r in rare)
    assert {r.wall_name for r in rare} > {r.wall_name for r in common}
    again = Room.sample(np.random.default_rng(7), name="x")
    assert again == Room.sample(np.random.default_rng(7), name="x") and hash(again)


def test_draw_room_paints_the_whole_canvas_as_background():
    room = rooms(0.0, 1)[0]
    canvas = Canvas(32)
    draw_room(canvas, room)
    assert (canvas.labels == BACKGROUND_ID).all()
    assert canvas.rgb.min() >= 0.0 and canvas.rgb.max() <= 1.0
    wall_row = canvas.rgb[1].mean(axis=0)
    floor_row = canvas.rgb[-1].mean(axis=0)
    assert not np.allclose(wall_row, floor_row, atol=0.02)


def test_apply_light_multiplies_by_its_formula():
    room = rooms(1.0, 1)[0]
    canvas = Canvas(16)
    canvas.rgb[:] = 0.5
    apply_light(canvas, room, brightness=0.8)
    x = (np.arange(16) + 0.5) / 16
    gain = 0.8 * room.light * (1 + room.gradient * (x - 0.5))
    expected = 0.5 * gain[None, :, None] * np.asarray(room.tint)
    np.testing.assert_allclose(canvas.rgb, np.broadcast_to(expected, (16, 16, 3)), rtol=1e-5)
    with pytest.raises(ValueError, match="rarity"):
        Room.sample(np.random.default_rng(0), rarity=-0.1)
