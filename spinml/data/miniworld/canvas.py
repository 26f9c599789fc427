"""Vectorised drawing: a square canvas of colours and object labels, and shapes on it.

Every geometry is given in *canvas units*: the image spans ``[0, 1] x [0, 1]``
whatever its pixel size, ``x`` to the right, ``y`` downwards. A pixel ``(i, j)``
is inside a shape when its centre ``((j + 0.5) / size, (i + 0.5) / size)`` is:
masks are exact and there is no anti-aliasing, so every pixel belongs to
exactly one object.

A :class:`Frame` places a local coordinate system ``(u, v)`` on the canvas
(an origin, a scale, a horizontal flip and a rotation) and evaluates shapes on
a window around it only, which keeps a shape's cost proportional to its area.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["Canvas", "Frame", "BACKGROUND_ID", "TARGET_ID", "BOWL_ID", "BALL_ID", "OBJECTS"]

BACKGROUND_ID, TARGET_ID, BOWL_ID, BALL_ID = 0, 1, 2, 3
OBJECTS = ("background", "target", "bowl", "ball")
"""Object label of each id in :attr:`Canvas.labels`."""


@functools.lru_cache(maxsize=8)
def _centres(size: int) -> np.ndarray:
    """Pixel centres ``(i + 0.5) / size`` as a read-only float32 vector."""
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size
    centres.setflags(write=False)
    return centres


def _index_range(lo: float, hi: float, size: int) -> slice:
    """Indices of the pixels whose centres lie in ``[lo, hi)`` (canvas units)."""
    start = min(max(math.ceil(lo * size - 0.5), 0), size)
    stop = min(max(math.ceil(hi * size - 0.5), start), size)
    return slice(start, stop)


class Canvas:
    """An ``size x size`` RGB float32 image in ``[0, 1]`` plus an object-id map (uint8)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rgb = np.zeros((size, size, 3), dtype=np.float32)
        self.labels = np.zeros((size, size), dtype=np.uint8)
        self.centres = _centres(size)

    def rect(self, x0: float, y0: float, x1: float, y1: float) -> tuple[slice, slice]:
        """Row and column slices of the axis-aligned rectangle ``[x0, x1) x [y0, y1)``."""
        return _index_range(y0, y1, self.size), _index_range(x0, x1, self.size)

    def fill_rect(
        self, x0: float, y0: float, x1: float, y1: float, colour, label: int = BACKGROUND_ID
    ) -> None:
        """Paint an axis-aligned rectangle in one colour."""
        rows, cols = self.rect(x0, y0, x1, y1)
        self.rgb[rows, cols] = colour
        self.labels[rows, cols] = label

    def frame(
        self,
        origin: tuple[float, float] = (0.0, 0.0),
        scale: float = 1.0,
        *,
        flip: bool = False,
        angle: float = 0.0,
        reach: float | None = None,
    ) -> Frame:
        """Local coordinates ``(u, v)`` with canvas point ``origin`` at ``(0, 0)``.

        One local unit is ``scale`` canvas units; ``flip`` mirrors ``u``;
        ``angle`` (radians, clockwise on screen) rotates the frame. Shapes are
        evaluated on the pixels within ``reach`` local units of the origin
        (the whole canvas when ``None``).
        """
        if reach is None:
            rows = cols = slice(0, self.size)
        else:
            r = reach * scale
            rows, cols = self.rect(origin[0] - r, origin[1] - r, origin[0] + r, origin[1] + r)
        return Frame(self, rows, cols, origin, scale, flip, angle)


class Frame:
    """A local coordinate system on a window of a :class:`Canvas`.

    The local coordinates of a canvas point ``(x, y)`` are
    ``u = s_f * (cos a * (x - x0) + sin a * (y - y0)) / scale`` and
    ``v = (-sin a * (x - x0) + cos a * (y - y0)) / scale`` with ``s_f = -1`` when
    flipped. Shape methods return boolean masks of the window; :meth:`paint`
    writes one into the canvas.
    """

    def __init__(
        self,
        canvas: Canvas,
        rows: slice,
        cols: slice,
        origin: tuple[float, float],
        scale: float,
        flip: bool,
        angle: float,
    ) -> None:
        self.canvas = canvas
        self.rows, self.cols = rows, cols
        self.scale = scale
        self.pixel = 1.0 / (canvas.size * scale)
        """One pixel in local units."""
        dx = (canvas.centres[cols] - origin[0])[None, :]
        dy = (canvas.centres[rows] - origin[1])[:, None]
        c, s = math.cos(angle) / scale, math.sin(angle) / scale
        sign = -1.0 if flip else 1.0
        self.u = sign * (c * dx + s * dy)
        self.v = c * dy - s * dx
        self.rgb = canvas.rgb[rows, cols]
        self.labels = canvas.labels[rows, cols]

    @property
    def empty(self) -> bool:
        return self.labels.size == 0

    def paint(self, mask: np.ndarray, colour, label: int | None = None) -> None:
        """Set the colour (and the object id, unless ``None``) of the pixels in ``mask``."""
        self.rgb[mask] = colour
        if label is not None:
            self.labels[mask] = label

    def local(self, cu: float, cv: float, angle: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates relative to ``(cu, cv)``, rotated by ``angle`` (radians, clockwise)."""
        du = self.u - cu
        dv = self.v - cv
        if angle == 0.0:
            return du, dv
        c, s = math.cos(angle), math.sin(angle)
        return du * c + dv * s, dv * c - du * s

    def ellipse(self, cu: float, cv: float, a: float, b: float, angle: float = 0.0) -> np.ndarray:
        """Inside ``(p / a)^2 + (q / b)^2 <= 1``; ``(p, q)`` rotated by ``angle`` about the centre.

        A semi-axis is never thinner than half a pixel, so small shapes stay visible.
        """
        a = max(a, 0.5 * self.pixel)
        b = max(b, 0.5 * self.pixel)
        p, q = self.local(cu, cv, angle)
        return (p * p) * (1.0 / (a * a)) + (q * q) * (1.0 / (b * b)) <= 1.0

    def capsule(self, u0: float, v0: float, u1: float, v1: float, radius: float) -> np.ndarray:
        """Points within ``radius`` of the segment from ``(u0, v0)`` to ``(u1, v1)``."""
        radius = max(radius, 0.5 * self.pixel)
        du, dv = u1 - u0, v1 - v0
        pu, pv = self.u - u0, self.v - v0
        length2 = du * du + dv * dv
        if length2 > 0.0:
            t = np.clip((pu * du + pv * dv) * (1.0 / length2), 0.0, 1.0)
            pu = pu - t * du
            pv = pv - t * dv
        return pu * pu + pv * pv <= radius * radius

    def polygon(self, points) -> np.ndarray:
        """Inside the convex polygon with vertices ``points`` (either orientation)."""
        pts = [(float(u), float(v)) for u, v in points]
        area2 = sum(
            u0 * v1 - u1 * v0 for (u0, v0), (u1, v1) in zip(pts, pts[1:] + pts[:1], strict=True)
        )
        orient = 1.0 if area2 >= 0 else -1.0
        inside = np.ones(self.u.shape, dtype=bool)
        for (u0, v0), (u1, v1) in zip(pts, pts[1:] + pts[:1], strict=True):
            inside &= orient * ((u1 - u0) * (self.v - v0) - (v1 - v0) * (self.u - u0)) >= 0.0
        return inside
