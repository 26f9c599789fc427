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
import hashlib
import json
import os
import platform
import re
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
    "safe_name",
    "MAX_MANIFEST_BYTES",
    "library_versions",
    "sha256",
]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _written_by_spinml(folder: Path, kind: str, manifest: str) -> bool:
    """Whether ``folder`` is a real folder whose ``manifest`` (a regular file, not a link)
    says ``"format": kind``."""
    path = folder / manifest
    if folder.is_symlink() or not folder.is_dir() or path.is_symlink() or not path.is_file():
        return False
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(MAX_MANIFEST_BYTES + 1))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == kind


@contextlib.contextmanager
def atomic_dir(
    target: str | Path, *, overwrite: bool = False, kind: str | None = None,
    manifest: str = "manifest.json",
) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``target`` when the block succeeds.

    On an exception the temporary folder is removed and ``target`` is untouched.
    An existing ``target`` is an error, unless ``overwrite=True`` and it is a
    folder spinml wrote in the same format: its ``manifest`` file says
    ``"format": kind``. A file, a symbolic link, a foreign folder or a folder
    of another format is never replaced.
    """
    target = Path(target)
    parent = target.parent
    if overwrite and not kind:
        raise TypeError("atomic_dir: overwrite=True needs kind=, the format of the folder "
                        "it may replace")
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise FileExistsError(f"output folder {target} already exists (pass overwrite=True)")
        if not _written_by_spinml(target, kind, manifest):
            raise FileExistsError(
                f"{target} exists and is not a {kind} folder written by spinml (no {manifest} "
                f"saying so): overwrite=True replaces only such folders; choose another "
                f"output folder or remove it yourself")
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

MAX_MANIFEST_BYTES = 64 * 1024 * 1024
"""Largest manifest file (bytes) :func:`read_manifest` reads."""

_NAME = re.compile(r"[^./\\\x00-\x1f\x7f:*?\"<>|][^/\\\x00-\x1f\x7f:*?\"<>|]{0,127}")


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


def write_manifest(folder: Path, kind: str, version: int, body: dict[str, Any],
                   name: str = MANIFEST) -> None:
    """Write ``folder/name`` with ``{"format": kind, "version": version, ...}``."""
    data = {"format": kind, "version": version, **body}
    atomic_write_text(folder / name, json.dumps(data, indent=1, sort_keys=False))


def read_manifest(
    folder: str | Path, kind: str, versions: tuple[int, ...], name: str = MANIFEST
) -> dict[str, Any]:
    """Read and check ``folder/name``: a regular file (not a symbolic link) of at most
    :data:`MAX_MANIFEST_BYTES`, a JSON object, its format and a supported integer version."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist")
    path = folder / name
    if path.is_symlink():
        raise ValueError(f"manifest {path} is a symbolic link: refused")
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no {name}: not a saved {kind}")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ValueError(f"manifest {path} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as err:
        raise ValueError(f"manifest {path} is not valid JSON: {err}") from None
    except (ValueError, RecursionError) as err:
        raise ValueError(f"manifest {path} is not valid JSON ({type(err).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != kind:
        raise ValueError(f"manifest {path} is not a {kind} manifest")
    version = data.get("version")
    if type(version) is not int or version not in versions:
        raise ValueError(
            f"manifest {path} has format version {version!r}; "
            f"this spinml reads versions {versions}"
        )
    return data


def safe_name(name: object, *, what: str = "name") -> str:
    """Return ``name`` if it can be one path component of a file spinml writes.

    Every name that becomes part of a path (class labels, object labels, image
    ids, adapter names) goes through here. Allowed: 1 to 128 characters, none
    of them ``/ \\ : * ? " < > |`` or a control character, not starting with
    ``.`` (so never ``.``, ``..`` or a hidden file).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name != name.strip():
        raise ValueError(
            f"{what} {name!r} cannot be used as a file name: use 1 to 128 characters, no "
            "'/', '\\', ':', '*', '?', '\"', '<', '>', '|' or control characters, not starting "
            "with '.' and without surrounding spaces"
        )
    return name


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


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
