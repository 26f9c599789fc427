"""Manifests of saved containers: a JSON file with a format name and version,
plus relative paths that must stay inside the manifest's folder."""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from spinml.data.atomic import atomic_write_text

__all__ = ["MANIFEST", "write_manifest", "read_manifest", "safe_path", "library_versions"]

MANIFEST = "manifest.json"


def _source_version() -> str:
    from spinml import __version__

    return __version__


def library_versions(*distributions: str, python: bool = False) -> dict[str, str | None]:
    """Installed version of each distribution (``None`` when absent), read from package
    metadata without importing it; ``python=True`` adds the interpreter's. spinml run
    from a source tree that is not installed reports its ``__version__``."""
    found: dict[str, str | None] = {"python": platform.python_version()} if python else {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = _source_version() if name == "spinml" else None
    return found


def write_manifest(folder: Path, kind: str, version: int, body: dict[str, Any]) -> None:
    """Write ``folder/manifest.json`` with ``{"format": kind, "version": version, ...}``."""
    data = {"format": kind, "version": version, **body}
    atomic_write_text(folder / MANIFEST, json.dumps(data, indent=1, sort_keys=False))


def read_manifest(
    folder: str | Path, kind: str, versions: tuple[int, ...], name: str = MANIFEST
) -> dict[str, Any]:
    """Read and check ``folder/name``: its format and a supported version."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist")
    path = folder / name
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no {name}: not a saved {kind}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"manifest {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict) or data.get("format") != kind:
        raise ValueError(f"manifest {path} is not a {kind} manifest")
    if data.get("version") not in versions:
        raise ValueError(
            f"manifest {path} has format version {data.get('version')!r}; "
            f"this spinml reads versions {versions}"
        )
    return data


def safe_path(folder: Path, relative: object, *, manifest: Path | None = None) -> Path:
    """Resolve a manifest entry inside ``folder``.

    Absolute paths, ``..`` components and symbolic links anywhere below
    ``folder`` are refused: a manifest cannot make a reader open files
    outside its own folder.
    """
    where = manifest or folder / MANIFEST
    if not isinstance(relative, str) or not relative:
        raise ValueError(f"manifest {where}: path entry {relative!r} is not a relative path")
    rel = Path(relative)
    if rel.is_absolute() or relative.startswith(("/", "\\")) or ".." in rel.parts:
        raise ValueError(f"manifest {where}: path {relative!r} leaves its folder")
    current = folder
    for part in rel.parts:
        current = current / part
        if current.is_symlink():
            raise ValueError(f"manifest {where}: path {relative!r} goes through a symbolic link")
    real_root = os.path.realpath(folder)
    if os.path.commonpath([real_root, os.path.realpath(current)]) != real_root:
        raise ValueError(f"manifest {where}: path {relative!r} leaves its folder")
    return current
