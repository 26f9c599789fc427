"""The architecture's import rules, read from the source with ``ast``.

- The server side (generate, train, federated, evaluate, zoo) never imports
  ``spinml.sanitize``: device code does not run where uploads are processed.
- ``spinml.data`` imports no algorithm and not the top-level package.
- ``spinml.io``, ``spinml.image`` and ``spinml.version`` import nothing of the
  package but :mod:`spinml.version`.
- The library never imports ``spinml.widgets``.
- No function of the library is longer than 100 lines (decorators not counted).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import spinml

ROOT = Path(spinml.__file__).parent
SERVER = ("generate", "train", "federated", "evaluate", "zoo")
ALGORITHMS = ("spinml.sanitize", "spinml.generate", "spinml.train", "spinml.federated",
              "spinml.evaluate", "spinml.zoo", "spinml.experiment", "spinml.report",
              "spinml.notebook_report")
DEPRECATED_ALIASES = {ROOT / "data" / "atomic.py", ROOT / "data" / "manifest.py"}


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; ``from spinml import x`` gives
    ``spinml`` and ``spinml.x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def modules(*parts: str) -> list[Path]:
    return sorted((ROOT.joinpath(*parts)).rglob("*.py"))


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("side", SERVER)
def test_server_side_never_imports_the_device_side(side):
    for path in modules(side):
        bad = [m for m in imports(path) if within(m, "spinml.sanitize")]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_data_imports_no_algorithm_and_not_the_top_level():
    for path in modules("data"):
        if path in DEPRECATED_ALIASES:
            continue
        found = imports(path)
        assert "spinml" not in found, f"{path.relative_to(ROOT)} imports the top-level spinml"
        bad = [m for m in found if any(within(m, a) for a in ALGORITHMS)]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize("name", ["io.py", "image.py", "version.py"])
def test_neutral_modules_import_only_the_version(name):
    found = {m for m in imports(ROOT / name) if within(m, "spinml")}
    assert found <= {"spinml.version", "spinml.version.__version__"}, found


def test_library_never_imports_widgets():
    for path in modules():
        bad = [m for m in imports(path) if within(m, "spinml.widgets")]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_old_paths_warn_and_resolve_to_the_new_modules():
    import importlib
    import sys

    from spinml import io, notebook_report
    from spinml.federated import accounting

    for old, new in [("spinml.data.atomic", io), ("spinml.train.accounting", accounting),
                     ("spinml.report", notebook_report)]:
        sys.modules.pop(old, None)
        with pytest.warns(DeprecationWarning, match="moved to"):
            assert importlib.import_module(old) is new
    with pytest.warns(DeprecationWarning, match="moved to"):
        from spinml.train import DPFedEmbTrainer
    assert DPFedEmbTrainer is spinml.DPFedEmbTrainer
    with pytest.warns(DeprecationWarning, match="now RunMetrics"):
        from spinml.evaluate import Report
    assert Report is spinml.evaluate.RunMetrics


MAX_FUNCTION_LINES = 100


def test_no_function_is_longer_than_100_lines():
    long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
