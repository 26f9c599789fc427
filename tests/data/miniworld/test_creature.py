"""The creature: a skeleton per activity, and its drawing on the canvas."""

import numpy as np
import pytest

from spinml.data.miniworld import user_home
from spinml.data.miniworld.canvas import BALL_ID, BOWL_ID, TARGET_ID, Canvas
from spinml.data.miniworld.creature import draw_ball, draw_bowl, draw_pet, outline, skeleton
from spinml.data.miniworld.poses import ACTIVITIES, sample_pose


@pytest.fixture(scope="module")
def home():
    return user_home(1)


@pytest.mark.parametrize("activity", ACTIVITIES)
def test_skeleton_carries_the_props_of_its_activity(home, activity):
    pet, room = home
    pose = sample_pose(np.random.default_rng(0), pet, room, activity)
    bones = skeleton(pet, pose, room)
    assert (bones.bowl is not None) == (activity == "eating")
    assert (bones.ball is not None) == (activity == "playing")
    assert bones.eyes_closed == (activity == "sleeping")
    assert len(bones.legs) >= (1 if activity == "sleeping" else 2) and len(bones.tail) >= 2


def draw(pet, room, activity, size=64):
    pose = sample_pose(np.random.default_rng(1), pet, room, activity)
    bones = skeleton(pet, pose, room)
    canvas = Canvas(size)
    frame = canvas.frame((pose.x, pose.y), pose.scale, flip=pose.flip, angle=pose.angle)
    draw_pet(frame, pet, bones)
    if bones.bowl is not None:
        draw_bowl(frame, room, bones.bowl)
    if bones.ball is not None:
        draw_ball(frame, room, bones.ball)
    return canvas, frame


def test_drawing_labels_the_pet_and_its_props(home):
    pet, room = home
    canvas, _ = draw(pet, room, "sitting")
    assert (canvas.labels == TARGET_ID).sum() > 50
    assert not np.isin(canvas.labels, (BOWL_ID, BALL_ID)).any()
    eating, _ = draw(pet, room, "eating")
    playing, _ = draw(pet, room, "playing")
    assert (eating.labels == BOWL_ID).any() and (playing.labels == BALL_ID).any()


def test_outline_darkens_the_border_pixels_only(home):
    pet, room = home
    canvas, frame = draw(pet, room, "sitting")
    before = canvas.rgb.copy()
    outline(frame, (TARGET_ID,), width=1)
    changed = np.any(canvas.rgb != before, axis=-1)
    pet_pixels = canvas.labels == TARGET_ID
    assert changed.any() and changed.sum() < pet_pixels.sum()
    assert (canvas.rgb[changed] <= before[changed] + 1e-6).all()
