"""Poses: activities, and sampled poses that keep the pet on the canvas."""

import numpy as np
import pytest

from spinml.data.miniworld import user_home
from spinml.data.miniworld.poses import ACTIVITIES, check_activity, extent, sample_pose


def test_check_activity():
    assert [check_activity(a) for a in ACTIVITIES] == list(ACTIVITIES)
    with pytest.raises(ValueError, match="activity must be one of"):
        check_activity("running")


@pytest.mark.parametrize("activity", ACTIVITIES)
def test_sampled_poses_stay_on_the_floor_and_inside_the_canvas(activity):
    pet, room = user_home(3)
    rng = np.random.default_rng(0)
    for _ in range(50):
        pose = sample_pose(rng, pet, room, activity)
        assert pose.activity == activity and room.horizon < pose.y <= 0.95
        back, front, top = extent(pet, activity, pose.jump)
        left, right = (front, back) if pose.flip else (back, front)
        assert pose.x - left * pose.scale >= 0.03 - 1e-9 or pose.x + right * pose.scale <= 0.97
        assert pose.y - top * pose.scale >= 0.03 - 1e-9
        assert (pose.jump > 0) == (activity == "playing")
    with pytest.raises(ValueError, match="activity"):
        sample_pose(rng, pet, room, "running")


def test_silhouettes_differ_by_activity():
    pet, _ = user_home(0)
    sitting, sleeping = extent(pet, "sitting"), extent(pet, "sleeping")
    assert sitting[2] > sleeping[2]                           # sitting is taller
    assert sleeping[0] + sleeping[1] > sitting[0] + sitting[1] - pet.tail_length   # longer
    assert extent(pet, "playing", 0.6)[2] > extent(pet, "playing", 0.3)[2]
