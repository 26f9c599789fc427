"""The mini-world tests' shared home (user 0's pet and room)."""

import pytest

from spinml.data import miniworld as mw


@pytest.fixture(scope="module")
def home():
    return mw.user_home(0)
