"""Files: atomic writes, manifests of saved containers, version records.

Atomic writes: a crash leaves either the old state or the complete new one.
Folders are written into a hidden temporary sibling and renamed into place;
files are written to a temporary sibling, flushed and renamed.

Manifests: a JSON file with a format name and version, plus relative paths
that must stay inside the manifest's folder.

This module imports nothing of the package but :mod:`spinml.version`, so that
containers, trainers and reports can all use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from spinml.version import __version__

__all__ = [
    "atomic_dir",
    "atomic_write_bytes",
    "atomic_write_text",
    "MANIFEST",
    "write_manifest",
    "read_manifest",
    "safe_path",
    "library_versions",
]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_dir(target: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``target`` when the block succeeds.

    On an exception the temporary folder is removed and ``target`` is untouched.
    With ``overwrite=True`` an existing ``target`` is replaced; otherwise it is
    an error.
    """
    target = Path(target)
    parent = target.parent
    if target.exists() and not overwrite:
        raise FileExistsError(f"output folder {target} already exists (pass overwrite=True)")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
    except OSError as err:
        raise PermissionError(f"cannot write into {parent}: {err.strerror}") from None
    try:
        yield tmp
        for root, _, files in os.walk(tmp):
            for name in files:
                with open(os.path.join(root, name), "rb+") as fh:
                    os.fsync(fh.fileno())
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=parent))
            os.rmdir(old)
            os.rename(target, old)
        os.rename(tmp, target)
        _fsync_dir(parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


MANIFEST = "manifest.json"


def library_versions(*distributions: str, python: bool = False) -> dict[str, str | None]:
    """Installed version of each distribution (``None`` when absent), read from package
    metadata without importing it; ``python=True`` adds the interpreter's. spinml run
    from a source tree that is not installed reports its ``__version__``."""
    found: dict[str, str | None] = {"python": platform.python_version()} if python else {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = __version__ if name == "spinml" else None
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
