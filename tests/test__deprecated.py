"""moved(): an old module path becomes the new module itself, with a DeprecationWarning."""

import importlib
import sys

import pytest

from spinml import _deprecated, io


def test_moved_aliases_the_module_and_warns():
    old = "spinml._no_such_old_path"
    try:
        with pytest.warns(DeprecationWarning, match=f"{old} moved to spinml.io; .* spinml 0.3"):
            _deprecated.moved(old, "spinml.io")
        assert sys.modules[old] is io
        assert importlib.import_module(old).atomic_dir is io.atomic_dir
    finally:
        sys.modules.pop(old, None)
