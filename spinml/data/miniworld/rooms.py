"""Rooms: the background of a user's images (wall, floor, furniture, lighting, household props).

Positions and sizes are in canvas units (the image spans ``[0, 1]^2``, ``y``
downwards); the wall ends and the floor starts at ``horizon``. As for pets,
each feature group (wall and floor colours, textures, lighting, the household's
bowl and ball) is drawn from a *rare* range with probability ``rarity``:
saturated or dark colours, busy textures, dim or tinted light.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from spinml.data.miniworld.canvas import Canvas
from spinml.data.miniworld.colours import COLOURS, RGB, jitter, mix
from spinml.data.miniworld.draws import Draws

__all__ = ["Room", "Furniture", "FURNITURE", "WALL_TEXTURES", "FLOOR_TEXTURES"]

FURNITURE = ("sofa", "window", "plant", "rug", "shelf")
WALL_TEXTURES = ("plain", "stripes", "dots", "panels")
FLOOR_TEXTURES = ("plain", "planks", "tiles", "carpet")

_COMMON_WALLS = ("white", "cream", "grey", "blue", "green", "yellow")
_COMMON_FLOORS = ("brown", "grey", "cream", "orange")
_COMMON_PROPS = ("red", "blue", "white", "yellow")
_WHITE: RGB = (1.0, 1.0, 1.0)
_BLACK: RGB = (0.0, 0.0, 0.0)
_SKY: RGB = (0.62, 0.80, 0.95)
_LEAF: RGB = (0.20, 0.52, 0.22)
_WOOD: RGB = (0.55, 0.36, 0.20)


@dataclass(frozen=True)
class Furniture:
    """One piece of furniture: its kind, centre ``x``, width and height (canvas units), colours."""

    kind: str
    x: float
    width: float
    height: float
    colour: RGB
    accent: RGB


@dataclass(frozen=True)
class Room:
    """One room identity (immutable and hashable).

    ``light`` multiplies every pixel by ``light * (1 + gradient * (x - 1/2)) * tint``
    (``x`` in canvas units) after everything is drawn, the pet included.
    ``bowl`` / ``ball`` are the household's props; their sizes are relative (1 = usual).
    """

    name: str
    wall: RGB
    wall_name: str
    floor: RGB
    floor_name: str
    wall_texture: str
    floor_texture: str
    texture_period: float
    texture_contrast: float
    texture_seed: int
    horizon: float
    furniture: tuple[Furniture, ...]
    light: float
    tint: RGB
    gradient: float
    bowl: RGB
    bowl_size: float
    ball: RGB
    ball_band: RGB
    ball_size: float

    @classmethod
    def sample(cls, rng: np.random.Generator, *, rarity: float = 0.05, name: str = "room") -> Room:
        """Draw a room; each feature group is rare with probability ``rarity``."""
        draws = Draws(rng, rarity)
        rare, pick = draws.rare, draws.pick

        if rare():
            wall_name = pick(tuple(COLOURS))
            wall = mix(jitter(rng, wall_name), _BLACK, rng.uniform(0.0, 0.3))
        else:
            wall_name = pick(_COMMON_WALLS)
            wall = mix(jitter(rng, wall_name), _WHITE, rng.uniform(0.35, 0.55))
        floor_name = pick(tuple(COLOURS)) if rare() else pick(_COMMON_FLOORS)
        floor = mix(jitter(rng, floor_name), _BLACK, rng.uniform(0.1, 0.3))

        busy = rare()
        wall_texture = pick(WALL_TEXTURES)
        floor_texture = pick(FLOOR_TEXTURES)
        period = rng.uniform(0.03, 0.05) if busy else rng.uniform(0.07, 0.14)
        contrast = rng.uniform(0.3, 0.45) if busy else rng.uniform(0.04, 0.12)

        horizon = rng.uniform(0.42, 0.56)
        kinds = rng.permutation(len(FURNITURE))[: int(rng.integers(1, 4))]
        furniture = tuple(_furniture(rng, FURNITURE[k], horizon) for k in sorted(kinds))

        if rare():
            light = rng.uniform(0.45, 0.62)
            tint = pick(((1.25, 0.9, 0.55), (0.6, 0.85, 1.3), (0.75, 1.2, 0.75), (1.2, 0.7, 1.15)))
            gradient = rng.uniform(0.5, 0.8) * pick((-1.0, 1.0))
        else:
            light = rng.uniform(0.9, 1.1)
            tint = tuple(float(t) for t in rng.uniform(0.94, 1.06, 3))
            gradient = rng.uniform(-0.15, 0.15)

        props_rare = rare()
        bowl = jitter(rng, pick(tuple(COLOURS) if props_rare else _COMMON_PROPS))
        ball = jitter(rng, pick(tuple(COLOURS) if props_rare else _COMMON_PROPS))
        ball_band = jitter(rng, pick(tuple(COLOURS) if props_rare else ("white", "yellow")))
        bowl_size = rng.uniform(0.75, 0.85) if props_rare else rng.uniform(0.95, 1.15)
        ball_size = rng.uniform(0.7, 0.8) if props_rare else rng.uniform(0.95, 1.15)
        return cls(
            name=name,
            wall=wall,
            wall_name=wall_name,
            floor=floor,
            floor_name=floor_name,
            wall_texture=wall_texture,
            floor_texture=floor_texture,
            texture_period=float(period),
            texture_contrast=float(contrast),
            texture_seed=int(rng.integers(2**31)),
            horizon=float(horizon),
            furniture=furniture,
            light=float(light),
            tint=tuple(float(t) for t in tint),  # type: ignore[arg-type]
            gradient=float(gradient),
            bowl=bowl,
            bowl_size=float(bowl_size),
            ball=ball,
            ball_band=ball_band,
            ball_size=float(ball_size),
        )


def _furniture(rng: np.random.Generator, kind: str, horizon: float) -> Furniture:
    colour = jitter(rng, str(rng.choice(tuple(COLOURS))), 0.08)
    accent = jitter(rng, str(rng.choice(tuple(COLOURS))), 0.08)
    if kind == "window":
        width, height = rng.uniform(0.18, 0.3), rng.uniform(0.16, min(0.26, horizon - 0.14))
        colour = mix(colour, _WHITE, 0.7)
    elif kind == "shelf":
        width, height = rng.uniform(0.2, 0.35), rng.uniform(0.18, horizon - 0.1)
        colour = mix(_WOOD, colour, 0.3)
    elif kind == "sofa":
        width, height = rng.uniform(0.38, 0.55), rng.uniform(0.2, 0.26)
    elif kind == "plant":
        width, height = rng.uniform(0.07, 0.1), rng.uniform(0.22, 0.32)
        accent = mix(_LEAF, accent, 0.15)
    else:  # rug: height is the rug's depth on the floor
        width, height = rng.uniform(0.45, 0.75), rng.uniform(0.12, 0.2)
    return Furniture(
        kind, float(rng.uniform(0.15, 0.85)), float(width), float(height), colour, accent
    )


def draw_room(canvas: Canvas, room: Room) -> None:
    """Paint the room (wall, floor, textures, furniture) over the whole canvas, as background."""
    h = room.horizon
    x = canvas.centres
    wall_rows, _ = canvas.rect(0.0, 0.0, 1.0, h)
    floor_rows, _ = canvas.rect(0.0, h, 1.0, 1.0)
    canvas.rgb[wall_rows] = room.wall
    canvas.rgb[floor_rows] = room.floor
    period, contrast = room.texture_period, room.texture_contrast

    wall = canvas.rgb[wall_rows]
    y_wall = x[wall_rows]
    if room.wall_texture == "stripes":
        wall[:, np.modf(x / (2 * period))[0] < 0.5] *= 1.0 - contrast
    elif room.wall_texture == "dots":
        fx = np.modf(x / period)[0] - 0.5
        fy = np.modf(y_wall / period)[0] - 0.5
        wall[fy[:, None] ** 2 + fx[None, :] ** 2 < 0.06] *= 1.0 - 1.5 * contrast
    elif room.wall_texture == "panels":
        low = y_wall > h - 0.35 * h
        wall[low] *= 1.0 - contrast
        wall[low[:, None] & (np.modf(x / (3 * period))[0] < 0.12)[None, :]] *= 1.0 - contrast

    floor = canvas.rgb[floor_rows]
    depth = (x[floor_rows] - h) / (1.0 - h)
    if room.floor_texture in ("planks", "tiles"):
        row = np.floor(depth**0.8 * 0.35 / period).astype(np.int64)
        if room.floor_texture == "planks":
            floor[row % 2 == 1] *= 1.0 - contrast
            boards = (x[None, :] - 0.5) / (6 * period * (0.4 + depth[:, None]))
            seam = np.modf(boards + 0.37 * row[:, None])[0]
            floor[np.abs(seam) < 0.04] *= 1.0 - contrast
        else:
            col = np.floor((x[None, :] - 0.5) / (2.5 * period * (0.4 + depth[:, None])))
            floor[(row[:, None] + col.astype(np.int64)) % 2 == 1] *= 1.0 - contrast
    elif room.floor_texture == "carpet" and floor.size:
        cells = max(2, int(round(0.5 / period)))
        noise = np.random.default_rng(room.texture_seed).uniform(-1.0, 1.0, (cells, cells))
        noise = cv2.resize(
            noise.astype(np.float32), (canvas.size, floor.shape[0]), interpolation=cv2.INTER_LINEAR
        )
        floor *= (1.0 + 0.8 * contrast * noise)[:, :, None]

    for item in room.furniture:
        if item.kind in ("window", "shelf"):
            _DRAW[item.kind](canvas, item, room)
    canvas.fill_rect(0.0, h - 0.015, 1.0, h + 0.005, mix(room.wall, _BLACK, 0.35))
    for item in room.furniture:
        if item.kind not in ("window", "shelf"):
            _DRAW[item.kind](canvas, item, room)


def _window(canvas: Canvas, item: Furniture, room: Room) -> None:
    x0, x1 = item.x - item.width / 2, item.x + item.width / 2
    y1 = room.horizon - 0.1
    y0 = y1 - item.height
    t = 0.015
    canvas.fill_rect(x0 - t, y0 - t, x1 + t, y1 + t, item.colour)
    glass = mix(_SKY, (0.08, 0.1, 0.25), 0.8) if room.light < 0.7 else _SKY
    canvas.fill_rect(x0 + t, y0 + t, x1 - t, y1 - t, glass)
    canvas.fill_rect(item.x - t / 2, y0, item.x + t / 2, y1, item.colour)
    canvas.fill_rect(x0, (y0 + y1) / 2 - t / 2, x1, (y0 + y1) / 2 + t / 2, item.colour)


def _shelf(canvas: Canvas, item: Furniture, room: Room) -> None:
    x0, x1 = item.x - item.width / 2, item.x + item.width / 2
    y = room.horizon - item.height
    canvas.fill_rect(x0, y, x1, y + 0.025, item.colour)
    rng = np.random.default_rng(room.texture_seed)
    left = x0 + 0.01
    while left < x1 - 0.05:
        width, height = rng.uniform(0.02, 0.035), rng.uniform(0.06, 0.11)
        canvas.fill_rect(left, y - height, left + width, y, jitter(rng, "red", 0.4))
        left += width + rng.uniform(0.0, 0.02)


def _sofa(canvas: Canvas, item: Furniture, room: Room) -> None:
    x0, x1 = item.x - item.width / 2, item.x + item.width / 2
    floor_y = room.horizon + 0.06
    seat_y = floor_y - 0.09
    back_y = floor_y - item.height
    dark = mix(item.colour, _BLACK, 0.25)
    canvas.fill_rect(x0 + 0.02, floor_y - 0.005, x0 + 0.035, floor_y + 0.02, _WOOD)
    canvas.fill_rect(x1 - 0.035, floor_y - 0.005, x1 - 0.02, floor_y + 0.02, _WOOD)
    canvas.fill_rect(x0, back_y, x1, seat_y, dark)
    canvas.fill_rect(x0, seat_y, x1, floor_y, item.colour)
    canvas.fill_rect(item.x - 0.004, seat_y, item.x + 0.004, floor_y - 0.04, dark)
    arm = 0.05
    canvas.fill_rect(x0 - arm / 2, seat_y - 0.05, x0 + arm / 2, floor_y, item.accent)
    canvas.fill_rect(x1 - arm / 2, seat_y - 0.05, x1 + arm / 2, floor_y, item.accent)


def _plant(canvas: Canvas, item: Furniture, room: Room) -> None:
    floor_y = room.horizon + 0.05
    pot_h = 0.08
    frame = canvas.frame((item.x, floor_y), 1.0, reach=item.height + 0.05)
    if frame.empty:
        return
    w = item.width
    pot = frame.polygon([(-w / 2, -pot_h), (w / 2, -pot_h), (0.35 * w, 0.0), (-0.35 * w, 0.0)])
    leaf = item.accent
    for k, angle in enumerate(np.linspace(-0.9, 0.9, 5)):
        length = item.height * (0.55 if k % 2 else 0.45)
        cu = np.sin(angle) * length * 0.6
        cv = -pot_h - np.cos(angle) * length * 0.6
        frame.paint(
            frame.ellipse(cu, cv, length * 0.5, w * 0.3, angle + np.pi / 2),
            mix(leaf, _BLACK, 0.15 * (k % 2)),
        )
    frame.paint(pot, item.colour)


def _rug(canvas: Canvas, item: Furniture, room: Room) -> None:
    """A rectangular rug seen in perspective (a trapezoid), with a border and stripes."""
    y = room.horizon + (1.0 - room.horizon) * 0.55
    frame = canvas.frame((item.x, y), 1.0, reach=item.width / 2 + 0.12)
    if frame.empty:
        return
    back, front, depth = 0.4 * item.width, 0.5 * item.width, item.height / 2
    corners = [(-back, -depth), (back, -depth), (front, depth), (-front, depth)]
    rug = frame.polygon(corners)
    frame.paint(rug, item.accent)
    inner = frame.polygon([(0.85 * u, 0.7 * v) for u, v in corners])
    frame.paint(inner, item.colour)
    stripes = np.modf((frame.v + depth) / (0.35 * depth))[0] < 0.3
    frame.paint(inner & stripes, mix(item.colour, item.accent, 0.5))


_DRAW = {"window": _window, "shelf": _shelf, "sofa": _sofa, "plant": _plant, "rug": _rug}


def apply_light(canvas: Canvas, room: Room, brightness: float = 1.0) -> None:
    """Multiply every pixel by ``brightness * light * (1 + gradient * (x - 1/2)) * tint``."""
    gain = brightness * room.light * (1.0 + room.gradient * (canvas.centres - 0.5))
    canvas.rgb *= gain[None, :, None] * np.asarray(room.tint, dtype=np.float32)
