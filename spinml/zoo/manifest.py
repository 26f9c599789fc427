"""The zoo's manifest: each shipped file's SHA-256, the build's settings and versions.

Loading through :func:`zoo_path` checks every hash and names the files that
are missing or do not match.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spinml.io import atomic_write_text, library_versions, read_manifest, sha256

__all__ = ["ZOO_DIR", "PARTS", "ZooIntegrityError", "sha256", "write_manifest", "verify",
           "zoo_path", "check_replaceable"]

ZOO_DIR = Path(__file__).resolve().parent
"""Where the bundled zoo lives (this package's folder)."""

PARTS = ("sd", "controlnet-canny", "encoder")
"""The diffusion parts, written together by :func:`~spinml.zoo.build`."""
OPTIONAL_PARTS = ("backbone",)
"""Parts added to a built zoo by their own stage (:func:`~spinml.zoo.build_backbone`)."""
MANIFEST = "manifest.json"
_VERIFIED: dict[Path, tuple] = {}


class ZooIntegrityError(ValueError):
    """A zoo file is missing or its content does not match the manifest."""


def write_manifest(folder: Path, settings: dict[str, Any], metrics: dict[str, Any]) -> dict:
    """Hash every file of ``folder``'s parts and write ``folder/manifest.json``."""
    files = {p.relative_to(folder).as_posix(): sha256(p)
             for part in PARTS for p in sorted((folder / part).rglob("*")) if p.is_file()}
    manifest = {"format": "spinml.zoo", "version": 1, "settings": settings,
                "versions": library_versions("spinml", "torch", "diffusers", "transformers",
                                            python=True), "metrics": metrics, "files": files}
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=1))
    return manifest


def check_replaceable(out: str | Path) -> None:
    """Refuse to build into ``out`` when it is a file, or a non-empty folder without a
    zoo manifest: a build replaces ``out``'s parts and manifest, so it only ever
    writes into a new or empty folder or over a zoo."""
    out = Path(out)
    if not out.exists():
        return
    if out.is_dir() and not any(out.iterdir()):
        return
    try:
        read_manifest(out, "spinml.zoo", (1,))
    except (FileNotFoundError, ValueError):
        raise FileExistsError(f"{out} is not empty and holds no zoo (no spinml.zoo "
                              f"{MANIFEST}): a zoo build would replace its {', '.join(PARTS)}; "
                              "choose a new or empty folder") from None


def verify(folder: str | Path = ZOO_DIR) -> dict:
    """Check ``folder``'s files against its manifest; return the manifest.

    Raises :class:`ZooIntegrityError` naming every missing or altered file,
    and ``FileNotFoundError`` when there is no built zoo.
    """
    folder = Path(folder).resolve()
    path = folder / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no zoo in {folder} (no {MANIFEST}): run `spinml zoo build`")
    manifest = json.loads(path.read_text())
    stamp = tuple(sorted((rel, (folder / rel).stat().st_mtime_ns, (folder / rel).stat().st_size)
                         for rel in manifest["files"] if (folder / rel).is_file()))
    if _VERIFIED.get(folder) == stamp:
        return manifest
    missing = [rel for rel in manifest["files"] if not (folder / rel).is_file()]
    altered = [rel for rel, digest in manifest["files"].items()
               if rel not in missing and sha256(folder / rel) != digest]
    if missing or altered:
        raise ZooIntegrityError(
            f"zoo in {folder} does not match its manifest: "
            + "; ".join(filter(None, [missing and f"missing {missing}",
                                      altered and f"altered {altered}"]))
            + ". Rebuild it with `spinml zoo build` or restore the files.")
    _VERIFIED[folder] = stamp
    return manifest


def zoo_path(part: str, folder: str | Path = ZOO_DIR) -> Path:
    """The verified folder of one zoo part: ``"sd"``, ``"controlnet-canny"``,
    ``"encoder"`` or ``"backbone"``."""
    if part not in PARTS + OPTIONAL_PARTS:
        raise ValueError(f"zoo part must be one of {PARTS + OPTIONAL_PARTS}, got {part!r}")
    manifest = verify(folder)
    if not any(rel.startswith(f"{part}/") for rel in manifest["files"]):
        raise FileNotFoundError(f"the zoo in {folder} has no {part}: run "
                                f"`spinml zoo build --only {part}`")
    return Path(folder).resolve() / part
