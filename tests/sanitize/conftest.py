"""The sanitize tests' shared references: the bundled photos at 96 px."""

import pytest

from spinml.data import photos


@pytest.fixture(scope="module")
def refs():
    return photos(size=96)
