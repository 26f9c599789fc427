"""Rendering one image: a pet doing an activity in a room, with exact object masks.

The same ``(pet, room, activity, seed, size)`` always gives the same pixels:
the pose comes from ``numpy.random.default_rng(seed)`` and the drawing itself
is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spinml.data.miniworld.canvas import (
    BACKGROUND_ID,
    BALL_ID,
    BOWL_ID,
    OBJECTS,
    TARGET_ID,
    Canvas,
)
from spinml.data.miniworld.captions import caption
from spinml.data.miniworld.colours import mix
from spinml.data.miniworld.creature import draw_ball, draw_bowl, draw_pet, outline, skeleton
from spinml.data.miniworld.identities import Pet
from spinml.data.miniworld.poses import Occluder, Pose, check_activity, extent, sample_pose
from spinml.data.miniworld.rooms import Room, apply_light, draw_room
from spinml.data.references import ReferenceImage, Segment

__all__ = ["MiniWorldImage", "render", "render_pose", "MIN_SIZE", "MAX_SIZE"]

MIN_SIZE, MAX_SIZE = 16, 512
"""Smallest and largest image side, in pixels."""

_LEAVES = (0.16, 0.45, 0.18)
_POST = (0.36, 0.22, 0.12)
_SHADOW = 0.72
"""Factor on the floor's colour under the pet."""

MAX_HIDDEN = 0.5
"""A foreground object may hide at most this fraction of the pet (else it is left out)."""


@dataclass(frozen=True, eq=False)
class MiniWorldImage(ReferenceImage):
    """A :class:`~spinml.data.ReferenceImage` rendered by the mini-world.

    Adds ``caption`` (a sentence from :data:`~spinml.data.miniworld.VOCABULARY`),
    ``identity`` (the pet's name) and ``room`` (the room's name).
    """

    caption: str = ""
    identity: str = ""
    room: str = ""


def check_size(size: object) -> int:
    """Return ``size`` if it is an integer from :data:`MIN_SIZE` to :data:`MAX_SIZE`."""
    if (
        isinstance(size, bool)
        or not isinstance(size, (int, np.integer))
        or not (MIN_SIZE <= size <= MAX_SIZE)
    ):
        raise ValueError(
            f"size must be an integer from {MIN_SIZE} to {MAX_SIZE} pixels, got {size!r}"
        )
    return int(size)


def check_seed(seed: object) -> int:
    """Return ``seed`` if it is a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def render(
    pet: Pet, room: Room, activity: str, *, seed: int, size: int = 64, name: str | None = None
) -> MiniWorldImage:
    """Render ``pet`` doing ``activity`` in ``room``: pixels, masks, label and caption.

    ``seed`` draws the pose (:func:`~spinml.data.miniworld.poses.sample_pose`);
    ``size`` is the image side in pixels (16 to 512). Segments: ``target`` (the
    pet), ``bowl`` / ``ball`` when visible, and ``background`` (everything else);
    they partition the image.
    """
    check_activity(activity)
    size = check_size(size)
    seed = check_seed(seed)
    pose = sample_pose(np.random.default_rng(seed), pet, room, activity)
    return render_pose(
        pet,
        room,
        pose,
        size=size,
        name=name or f"miniworld/{pet.name}/{room.name}/{activity}/{seed}",
    )


def render_pose(
    pet: Pet, room: Room, pose: Pose, *, size: int = 64, name: str = "miniworld"
) -> MiniWorldImage:
    """Render ``pet`` in an explicit :class:`~spinml.data.miniworld.poses.Pose`."""
    size = check_size(size)
    canvas = Canvas(size)
    draw_room(canvas, room)
    bones = skeleton(pet, pose, room)
    reach = 1.1 * max(extent(pet, pose.activity, pose.jump)) + 0.1
    frame = canvas.frame(
        (pose.x, pose.y), pose.scale, flip=pose.flip, angle=pose.angle, reach=reach
    )
    shadow = frame.ellipse(0.0, 0.0, 1.1 * bones.body[2], 0.07)
    frame.rgb[shadow] *= _SHADOW
    draw_pet(frame, pet, bones)
    if bones.bowl is not None:
        draw_bowl(frame, room, bones.bowl)
    if bones.ball is not None:
        draw_ball(frame, room, bones.ball)
    outline(frame, (TARGET_ID, BOWL_ID, BALL_ID), width=max(1, round(size / 64)))
    if pose.occluder is not None:
        _occlude(canvas, room, pose.occluder)
    apply_light(canvas, room, pose.brightness)

    image = np.empty((size, size, 3), dtype=np.uint8)
    np.clip(canvas.rgb * 255.0 + 0.5, 0.0, 255.0, out=canvas.rgb)
    image[...] = canvas.rgb
    segments = []
    for ident in (TARGET_ID, *range(TARGET_ID + 1, len(OBJECTS)), BACKGROUND_ID):
        mask = canvas.labels == ident
        if mask.any():
            segments.append(Segment(OBJECTS[ident], mask))
    return MiniWorldImage(
        image=image,
        label=pose.activity,
        segments=tuple(segments),
        name=name,
        caption=caption(pet, room, pose.activity),
        identity=pet.name,
        room=room.name,
    )


def _occlude(canvas: Canvas, room: Room, occ: Occluder) -> None:
    """Draw a foreground object unless it would hide too much of the pet."""
    frame = canvas.frame((occ.x, 1.0), 1.0, reach=1.0 - occ.top + occ.width)
    if frame.empty:
        return
    height = 1.0 - occ.top
    if occ.kind == "post":
        mask = frame.polygon(
            [
                (-occ.width / 2, -height),
                (occ.width / 2, -height),
                (occ.width / 2, 0.0),
                (-occ.width / 2, 0.0),
            ]
        )
        colour = mix(room.furniture[0].colour, _POST, 0.5)
    else:
        mask = np.zeros(frame.u.shape, dtype=bool)
        for k, angle in enumerate((-0.5, -0.15, 0.2, 0.55)):
            length = height * (0.6 + 0.1 * (k % 2))
            cu, cv = np.sin(angle) * length * 0.5, -np.cos(angle) * length * 0.5
            mask |= frame.ellipse(cu, cv, length * 0.5, occ.width * 0.6, angle + np.pi / 2)
        colour = _LEAVES
    pet_pixels = frame.labels == TARGET_ID
    hidden = np.count_nonzero(pet_pixels & mask)
    if hidden > MAX_HIDDEN * np.count_nonzero(canvas.labels == TARGET_ID):
        return
    frame.paint(mask, colour, BACKGROUND_ID)
