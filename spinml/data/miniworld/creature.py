"""Drawing a pet and its props in a pose.

The pet is built in its own frame: body units, the floor at ``v = 0``, ``v``
downwards, facing ``+u``, the body's centre above ``u = 0``. A
:class:`Skeleton` holds the parts' geometry for one activity; :func:`draw_pet`
paints them back to front (far legs, tail, body, near legs, head, ears, eyes)
with the coat pattern evaluated in each part's own normalised coordinates, so
a spot stays at the same place on the body whatever the pose.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from spinml.data.miniworld.canvas import BALL_ID, BOWL_ID, TARGET_ID, Frame
from spinml.data.miniworld.colours import RGB, mix
from spinml.data.miniworld.identities import Pet, pattern_mask
from spinml.data.miniworld.poses import Pose
from spinml.data.miniworld.rooms import Room

__all__ = ["Skeleton", "skeleton", "draw_pet", "draw_bowl", "draw_ball", "outline"]

Point = tuple[float, float]
Ellipse = tuple[float, float, float, float, float]  # centre u, v; semi-axes a, b; angle

_DARK: RGB = (0.06, 0.05, 0.05)
_FOOD: RGB = (0.42, 0.26, 0.12)
_WHITE: RGB = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class Skeleton:
    """The geometry of one pose in the pet's frame (body units).

    ``legs`` are ``(u0, v0, u1, v1, far)`` capsules from hip to paw; ``extra``
    are coat-coloured ellipses drawn with the body (haunch, paws); ``head`` is
    the head's centre and its tilt (radians, clockwise: positive looks down).
    """

    body: Ellipse
    extra: tuple[Ellipse, ...]
    neck: tuple[float, float, float, float] | None
    head: tuple[float, float, float]
    legs: tuple[tuple[float, float, float, float, bool], ...]
    tail: tuple[Point, ...]
    eyes_closed: bool
    bowl: Point | None
    ball: tuple[float, float, float] | None


def _turn(centre: Point, angle: float, du: float, dv: float) -> Point:
    """``centre + R(angle) (du, dv)``, rotating clockwise on screen."""
    c, s = math.cos(angle), math.sin(angle)
    return centre[0] + du * c - dv * s, centre[1] + du * s + dv * c


def _curl(pet: Pet, points: list[Point]) -> tuple[Point, ...]:
    """Add a curled end to a curly tail: a last point bent 110 degrees from the tail's direction."""
    if pet.tail != "curly":
        return tuple(points)
    (u0, v0), (u1, v1) = points[-2], points[-1]
    angle = math.atan2(v1 - v0, u1 - u0) - 1.9
    r = 0.35 * pet.tail_length
    return (*points, (u1 + r * math.cos(angle), v1 + r * math.sin(angle)))


def skeleton(pet: Pet, pose: Pose, room: Room) -> Skeleton:
    """The parts of ``pet`` doing ``pose.activity``."""
    L, H, R = pet.body_length, pet.body_height, pet.head_size
    legs_len, T, lw = pet.leg_length, pet.tail_length, pet.leg_width
    activity = pose.activity
    bowl = ball = neck = None
    extra: tuple[Ellipse, ...] = ()
    if activity == "sleeping":
        a, b = 0.525 * L, 0.42 * H
        body = (0.0, -b, a, b, 0.0)
        head = (0.9 * a + 0.55 * R, -0.95 * R, 0.1)
        legs = ((0.4 * a, -lw, head[0] + 0.7 * R, -lw, False),)
        extra = ((-0.55 * a, -0.9 * b, 0.35 * a, 0.7 * b, 0.0),)
        tail = _curl(
            pet,
            [
                (-0.9 * a, -0.5 * b),
                (-a - 0.5 * T, -0.8 * pet.tail_width),
                (-a - 0.9 * T, -pet.tail_width),
            ],
        )
    elif activity == "sitting":
        a, b, angle = 0.42 * L, 0.5 * H, -1.2
        reach = math.hypot(a * math.sin(angle), b * math.cos(angle))
        centre = (-0.05, -reach)
        body = (*centre, a, b, angle)
        extra = ((centre[0] - 0.25 * a, -0.36 * H, 0.28 * L + 0.05, 0.36 * H, 0.0),)
        top = _turn(centre, angle, a, 0.0)
        head = (top[0] + 0.3 * R, top[1] - 0.55 * R, 0.0)
        chest = _turn(centre, angle, 0.3 * a, -0.4 * b)
        legs = tuple(
            (chest[0] + du, chest[1], chest[0] + du + 0.05, -lw, far)
            for du, far in ((0.06, True), (0.0, False))
        )
        base = centre[0] - 0.3 * L
        tail = _curl(
            pet,
            [
                (base, -pet.tail_width),
                (base - 0.6 * T, -pet.tail_width),
                (base - T, -pet.tail_width - 0.15 * T),
            ],
        )
    elif activity == "eating":
        a, b = 0.5 * L, 0.5 * H
        cv = -(legs_len + 0.9 * b)
        body = (0.0, cv, a, b, 0.0)
        head = (a + 0.65 * R, -0.9 * R - 0.04, 1.0)
        neck = (0.75 * a, cv - 0.2 * b, head[0], head[1], 0.55 * R)
        legs = tuple(
            (u, cv + 0.5 * b, u + 0.02, -lw, far)
            for u, far in ((-0.5 * a, True), (0.62 * a, True), (-0.62 * a, False), (0.5 * a, False))
        )
        tail = _curl(
            pet,
            [
                (-0.9 * a, cv - 0.3 * b),
                (-a - 0.4 * T, cv - 0.3 * b - 0.5 * T),
                (-a - 0.75 * T, cv - b - 0.6 * T),
            ],
        )
        snout = _turn(head[:2], head[2], 0.9 * R, 0.2 * R)
        bowl = (snout[0], 0.0)
    else:  # playing: mid-air, body tilted up, legs stretched
        a, b, angle = 0.5 * L, 0.5 * H, -0.3
        centre = (0.0, -(legs_len + b + pose.jump))
        body = (*centre, a, b, angle)
        head_base = _turn(centre, angle, 0.85 * a, -0.6 * b)
        head = (head_base[0] + 0.5 * R, head_base[1] - 0.4 * R, -0.35)
        legs = []
        for du, far in ((0.5, True), (0.6, False)):
            hip = _turn(centre, angle, du * a, 0.5 * b)
            legs.append((*hip, hip[0] + 0.9 * legs_len + 0.05, hip[1] + 0.2 * legs_len, far))
        for du, far in ((-0.5, True), (-0.6, False)):
            hip = _turn(centre, angle, du * a, 0.5 * b)
            legs.append((*hip, hip[0] - 0.9 * legs_len - 0.05, hip[1] + 0.6 * legs_len, far))
        legs = tuple(sorted(legs, key=lambda leg: not leg[4]))
        rump = _turn(centre, angle, -0.9 * a, -0.3 * b)
        tail = _curl(
            pet,
            [rump, (rump[0] - 0.5 * T, rump[1] - 0.3 * T), (rump[0] - 0.9 * T, rump[1] - 0.45 * T)],
        )
        radius = 0.34 * room.ball_size
        if pose.ball_in_air:
            ball = (head[0] + R + 0.9 * radius, head[1] + 0.5 * R + 0.3 * radius, radius)
        else:
            ball = (a + R + 1.4 * radius, -radius, radius)
    return Skeleton(body, extra, neck, head, legs, tail, activity == "sleeping", bowl, ball)


def draw_pet(frame: Frame, pet: Pet, bones: Skeleton) -> None:
    """Paint the pet (object id ``target``) into ``frame``."""
    coat, far_coat = pet.coat, mix(pet.coat, _DARK, 0.25)
    R = pet.head_size
    hu, hv, tilt = bones.head

    def head_point(du: float, dv: float) -> Point:
        return _turn((hu, hv), tilt, du * R, dv * R)

    def leg(u0: float, v0: float, u1: float, v1: float, colour: RGB) -> None:
        frame.paint(frame.capsule(u0, v0, u1, v1, pet.leg_width), colour, TARGET_ID)
        if pet.socks:
            t = 0.35
            frame.paint(
                frame.capsule(u1 + t * (u0 - u1), v1 + t * (v0 - v1), u1, v1, pet.leg_width),
                pet.marking,
            )

    def ear(near: bool) -> None:
        e = pet.ear_size
        bu, bv = (-0.05, -0.85) if near else (-0.45, -0.7)
        colour = pet.marking if pet.ear_marked else (coat if near else far_coat)
        if pet.ears == "pointy":
            points = [
                head_point(bu - 0.45 * e / R, bv + 0.1),
                head_point(bu + 0.45 * e / R, bv),
                head_point(bu - 0.2 * e / R, bv - 1.3 * e / R),
            ]
            mask = frame.polygon(points)
        elif pet.ears == "round":
            mask = frame.ellipse(*head_point(bu, bv - 0.35 * e / R), 0.55 * e, 0.55 * e)
        else:
            mask = frame.ellipse(
                *head_point(bu - 0.1 * e / R, bv + 0.5 * e / R), 0.35 * e, 0.75 * e, tilt + 0.3
            )
        frame.paint(mask, colour, TARGET_ID)

    for u0, v0, u1, v1, far in bones.legs:
        if far:
            leg(u0, v0, u1, v1, far_coat)
    tail = bones.tail
    for k, (p0, p1) in enumerate(itertools.pairwise(tail)):
        width = pet.tail_width * (1.0 - 0.25 * k / len(tail))
        colour = pet.marking if pet.tail_tip and k == len(tail) - 2 else coat
        frame.paint(frame.capsule(*p0, *p1, width), colour, TARGET_ID)
    if pet.ears != "floppy":
        ear(near=False)

    cu, cv, a, b, angle = bones.body
    coat_mask = frame.ellipse(cu, cv, a, b, angle)
    for extra in bones.extra:
        coat_mask |= frame.ellipse(*extra)
    if bones.neck is not None:
        coat_mask |= frame.capsule(*bones.neck)
    _paint_coat(frame, pet, coat_mask, frame.local(cu, cv, angle), (a, b))

    for u0, v0, u1, v1, far in bones.legs:
        if not far:
            leg(u0, v0, u1, v1, coat)
    if pet.ears != "floppy":
        ear(near=True)

    snout_len = R * (0.35 + 0.5 * pet.snout)
    head_mask = frame.ellipse(hu, hv, 1.05 * R, 0.92 * R, tilt)
    head_mask |= frame.ellipse(*head_point(0.75, 0.25), snout_len, 0.38 * R, tilt)
    _paint_coat(frame, pet, head_mask, frame.local(hu, hv, tilt), (R, R))
    if pet.ears == "floppy":
        ear(near=True)

    eye = head_point(0.3, -0.2)
    if bones.eyes_closed:
        frame.paint(frame.ellipse(*eye, 0.22 * R, 0.05 * R, tilt), _DARK, TARGET_ID)
    else:
        frame.paint(frame.ellipse(*eye, 0.14 * R, 0.14 * R), pet.eye, TARGET_ID)
    nose = head_point(0.75 + 0.9 * snout_len / R, 0.12)
    frame.paint(frame.ellipse(*nose, 0.13 * R, 0.11 * R), _DARK, TARGET_ID)


def _paint_coat(
    frame: Frame,
    pet: Pet,
    mask: np.ndarray,
    local: tuple[np.ndarray, np.ndarray],
    radii: tuple[float, float],
) -> None:
    """Paint ``mask`` in the coat colour and the pattern's marks in the marking colour."""
    frame.paint(mask, pet.coat, TARGET_ID)
    if pet.pattern == "plain" or not mask.any():
        return
    p, q = local
    marked = pattern_mask(pet, p[mask] / radii[0], q[mask] / radii[1])
    rows, cols = np.nonzero(mask)
    frame.rgb[rows[marked], cols[marked]] = pet.marking


def outline(frame: Frame, idents: tuple[int, ...], width: int, factor: float = 0.55) -> None:
    """Darken (by ``factor``) the pixels of each object within ``width`` pixels of its edge.

    The pixels keep their object id: the outline is part of the object, as a
    cartoon's ink line is, and makes silhouettes visible on any background.
    """
    kernel = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    for ident in idents:
        mask = frame.labels == ident
        if not mask.any():
            continue
        inner = cv2.erode(mask.view(np.uint8), kernel, iterations=width).view(bool)
        frame.rgb[mask & ~inner] *= factor


def draw_bowl(frame: Frame, room: Room, centre: Point) -> None:
    """A bowl standing on the floor at ``centre`` (object id ``bowl``): rim, food, body."""
    width, height = 0.8 * room.bowl_size, 0.3 * room.bowl_size
    u, v = centre
    rim = frame.ellipse(u, v - height, width / 2, 0.22 * height)
    frame.paint(rim, mix(room.bowl, _WHITE, 0.3), BOWL_ID)
    frame.paint(frame.ellipse(u, v - height, 0.4 * width, 0.14 * height) & rim, _FOOD)
    body = frame.polygon(
        [
            (u - width / 2, v - height),
            (u + width / 2, v - height),
            (u + 0.34 * width, v),
            (u - 0.34 * width, v),
        ]
    )
    frame.paint(body, room.bowl, BOWL_ID)


def draw_ball(frame: Frame, room: Room, ball: tuple[float, float, float]) -> None:
    """A two-coloured ball of radius ``ball[2]`` centred at ``ball[:2]`` (object id ``ball``)."""
    u, v, r = ball
    disc = frame.ellipse(u, v, r, r)
    frame.paint(disc, room.ball, BALL_ID)
    p, _ = frame.local(u, v, 0.6)
    frame.paint(disc & (np.abs(p) < 0.3 * r), room.ball_band)
    frame.paint(
        frame.ellipse(u - 0.35 * r, v - 0.4 * r, 0.22 * r, 0.15 * r) & disc,
        mix(room.ball, _WHITE, 0.6),
    )
