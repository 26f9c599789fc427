"""The task's activities and how one image's pose is drawn.

The four activities differ first of all in silhouette and position, so that
even a tiny generative model can learn them from a prompt:

- ``sleeping``: lying flat and long on the floor, eyes closed;
- ``eating``: standing on four legs, head down in a big bowl on the floor;
- ``playing``: jumping, mid-air and stretched, with a big ball;
- ``sitting``: upright and tall, eyes open.

Within an activity the pose varies: position on the floor, scale (with a
little perspective: nearer is bigger), facing left or right, a small
rotation, the jump's height, where the ball is, and sometimes a foreground
object that hides part of the scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spinml.data.miniworld.identities import Pet
from spinml.data.miniworld.rooms import Room

__all__ = ["ACTIVITIES", "Pose", "Occluder", "sample_pose", "check_activity"]

ACTIVITIES = ("sleeping", "eating", "playing", "sitting")
"""The task's classes, in label order."""

UNIT = 0.3
"""Canvas units per body unit for a pet of ``size`` 1 at mid-floor (before jitter)."""

OCCLUSION_RATE = 0.15
"""Fraction of images with a foreground object in front of the pet."""


def check_activity(activity: object) -> str:
    """Return ``activity`` if it is one of :data:`ACTIVITIES`, else raise ``ValueError``."""
    if activity not in ACTIVITIES:
        raise ValueError(f"activity must be one of {ACTIVITIES}, got {activity!r}")
    return activity  # type: ignore[return-value]


@dataclass(frozen=True)
class Occluder:
    """A foreground object (part of the background): ``post`` or ``leaves``, in canvas units."""

    kind: str
    x: float
    width: float
    top: float


@dataclass(frozen=True)
class Pose:
    """Where and how the pet is drawn in one image.

    ``(x, y)`` is the point on the floor under the body's centre (canvas
    units), ``scale`` the canvas units per body unit, ``angle`` a clockwise
    rotation in radians about ``(x, y)``, ``jump`` the height of a jump (body
    units), ``ball_in_air`` where a playing pet's ball is, ``brightness`` a
    per-image exposure factor.
    """

    activity: str
    x: float
    y: float
    scale: float
    flip: bool
    angle: float
    jump: float
    ball_in_air: bool
    brightness: float
    occluder: Occluder | None


def extent(pet: Pet, activity: str, jump: float = 0.0) -> tuple[float, float, float]:
    """Approximate ``(back, front, top)`` reach of the pose from its floor point, in body units."""
    half = pet.body_length / 2
    head = 2.2 * pet.head_size
    if activity == "sitting":
        back = 0.3 * pet.body_length + pet.tail_length
        return back, 0.3 * pet.body_length + head, 0.85 * pet.body_length + head
    if activity == "sleeping":
        return half + 0.9 * pet.tail_length, half + head, pet.body_height + head
    if activity == "eating":
        front = half + head + 0.5 * pet.head_size + 0.45
        return half + 0.8 * pet.tail_length, front, pet.leg_length + pet.body_height + 0.3
    top = pet.leg_length + pet.body_height + jump + head + 0.2
    return half + pet.leg_length + 0.2, half + head + 0.75, top


def sample_pose(rng: np.random.Generator, pet: Pet, room: Room, activity: str) -> Pose:
    """Draw a pose of ``pet`` doing ``activity`` on the floor of ``room``."""
    check_activity(activity)
    h = room.horizon
    y = float(rng.uniform(h + 0.35 * (1.0 - h), 0.95))
    depth = (y - h) / (1.0 - h)
    scale = UNIT * pet.size * (0.8 + 0.35 * depth) * float(rng.uniform(0.88, 1.12))
    jump = float(rng.uniform(0.35, 0.65)) if activity == "playing" else 0.0
    back, front, top = extent(pet, activity, jump)
    scale = min(scale, (y - 0.03) / top, 0.94 / (back + front))
    flip = bool(rng.random() < 0.5)
    left, right = (front, back) if flip else (back, front)
    lo, hi = 0.03 + left * scale, 0.97 - right * scale
    x = float(rng.uniform(lo, hi)) if lo < hi else (lo + hi) / 2
    occluder = None
    if rng.random() < OCCLUSION_RATE:
        occluder = Occluder(
            kind="post" if rng.random() < 0.5 else "leaves",
            x=x + float(rng.uniform(-0.7, 0.7)) * max(back, front) * scale,
            width=float(rng.uniform(0.06, 0.12)),
            top=float(rng.uniform(y - 0.8 * top * scale, y - 0.05)),
        )
    return Pose(
        activity=activity,
        x=x,
        y=y,
        scale=float(scale),
        flip=flip,
        angle=float(rng.uniform(-0.1, 0.1)),
        jump=jump,
        ball_in_air=bool(rng.random() < 0.5),
        brightness=float(rng.uniform(0.94, 1.06)),
        occluder=occluder,
    )
