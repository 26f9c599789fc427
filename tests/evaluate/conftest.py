"""The evaluate tests' shared image encoder (the bundled zoo's CLIP)."""

import pytest

from spinml.evaluate import ImageEncoder


@pytest.fixture(scope="session")
def encoder():
    return ImageEncoder()
