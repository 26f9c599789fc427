"""The zoo tests' tiny build (2 steps per stage, 16 px), made once per session."""


import pytest

from spinml.zoo import ZooConfig, build


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    manifest = build(root / "zoo", config=ZooConfig.tiny(), work=root / "work", progress=False)
    return root, manifest
