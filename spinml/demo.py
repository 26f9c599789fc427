"""The device-side demo: sanitise real photographs, write the upload, print the leakage."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from spinml.data.bundled import photos
from spinml.evaluate.leakage import leakage_table
from spinml.policy import Level, SharingPolicy
from spinml.sanitize.sanitizer import Sanitizer

__all__ = ["device_demo"]


def device_demo(
    out: str | Path = "reports/demo-upload",
    policy: str = "target=L2,background=L1",
    *,
    progress: bool = True,
) -> tuple[Path, pd.DataFrame]:
    """Sanitise :func:`~spinml.data.photos` under ``policy``, save the upload folder
    to ``out`` and measure every object's normalised MI at each level.

    Returns the upload folder and a table of mean MI: one row per object, one
    column per level (L0, L1, L2).
    """
    references = photos()
    sanitizer = Sanitizer()
    upload = sanitizer.sanitize(references, policy, progress=progress)
    folder = upload.save(out, overwrite=True)
    tables = []
    for level in Level:
        uniform = SharingPolicy(default=level)
        shared = sanitizer.sanitize(references, uniform, progress=False)
        tables.append(leakage_table(shared, references, sanitizer=sanitizer))
    table = pd.concat(tables).pivot_table(index="object", columns="level", values="value")
    return folder, table
