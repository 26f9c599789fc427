"""The version module: one version string, read by pyproject.toml and the package."""

import re
from pathlib import Path

import spinml
from spinml.version import __version__


def test_one_version_everywhere():
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    assert spinml.__version__ == __version__
    pyproject = (Path(spinml.__file__).parents[1] / "pyproject.toml").read_text()
    assert 'version = { attr = "spinml.version.__version__" }' in pyproject
