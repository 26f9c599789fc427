"""Run a notebook headless into a report folder (``spinml report``): papermill, then nbconvert.

``run_report("notebooks/01_select_objects.ipynb", {"policy": "target=L2"})``
writes ``reports/01_select_objects-<timestamp>/``::

    01_select_objects.ipynb    the executed notebook
    01_select_objects.html     its HTML rendering
    figures/cell<NN>-<k>.png   every PNG the notebook displayed
    tables/*.csv               the tables the notebook wrote (into ``output_dir``)
    run.json                   parameters, seeds, library versions, timings

Parameters are checked against the notebook's ``parameters`` cell before any
kernel starts: unknown names, values of the wrong type, values the library
would refuse later (:func:`spinml.parameters.check_value`: ranges, NaN,
unparseable lists, a malformed ``policy``), a missing ``data`` folder and an
unwritable output folder are refused with a message that names them. A file
that is not a notebook is refused without echoing its contents. A notebook
that declares ``output_dir`` gets the report folder there (while running: the
staging folder that becomes it), so it can write its tables and other
artefacts; notebooks should print paths relative to it. ``run.json`` records it as
``"."`` and the executed notebook's papermill metadata its own name, so a report
holds no path of the machine that wrote it.

The report is built in a hidden staging folder and renamed into place when
complete. A run that fails becomes ``<notebook>-<timestamp>-FAILED/`` with the
partially executed notebook, ``error.txt`` and ``run.json``; nothing else is
left behind.
"""

from __future__ import annotations

import ast
import base64
import json
import logging
import os
import re
import shutil
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spinml.io import atomic_write_bytes, atomic_write_text, library_versions

__all__ = [
    "run_report", "ReportFailed", "check_parameters", "notebook_parameters", "parse_parameters",
    "parse_value",
]

OUTPUT_DIR = "output_dir"
"""The parameter through which a notebook learns its report folder."""

INPUT_FOLDER = re.compile(r"^(\w+_)?data(_dir|_folder)?$")
"""Names of parameters naming an input folder (``data``, ``test_data``, ``data_dir``, ...):
a non-empty value must be an existing folder."""

KERNEL = "python3"

_VERSIONED = (
    "spinml", "numpy", "pandas", "matplotlib", "scikit-image", "scikit-learn", "torch",
    "diffusers", "transformers", "papermill", "nbconvert", "nbformat", "ipykernel", "ipywidgets",
)
_TYPES: dict[type, tuple[type, ...]] = {
    int: (int,), float: (int, float), bool: (bool,), str: (str,),
}


class ReportFailed(RuntimeError):
    """The notebook raised while running; ``folder`` is the ``-FAILED`` report folder."""

    def __init__(self, message: str, folder: Path) -> None:
        super().__init__(message)
        self.folder = folder


def parse_value(text: str) -> bool | int | float | str | None:
    """Read a command-line parameter value as papermill's ``-p`` does.

    ``"True"``/``"False"`` -> bool, ``"None"`` -> None, then int, then float,
    else the string itself.
    """
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_parameters(notebook: str | Path, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Command-line ``(name, text)`` pairs -> parameters: text stays text where the
    notebook's default is a string (``-p seeds 1`` for ``seeds = "0"``), else
    :func:`parse_value`. Raises ``ValueError`` for a name given twice."""
    defaults = notebook_parameters(notebook)
    parameters: dict[str, Any] = {}
    for name, text in pairs:
        if name in parameters:
            raise ValueError(f"parameter {name!r} given twice")
        keep = isinstance(defaults.get(name), str)
        parameters[name] = text if keep else parse_value(text)
    return parameters


def notebook_parameters(notebook: str | Path) -> dict[str, Any]:
    """Name -> default value of the assignments in ``notebook``'s ``parameters`` cell.

    Read with :mod:`ast`, as papermill's own inspection skips lines holding
    more than one ``=`` (a default such as ``"target=L2,background=L1"``).
    Defaults that are not literals are kept as their source text.
    """
    notebook = Path(notebook)
    nb = _read_notebook(notebook)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", ())]
    if not cells:
        raise ValueError(f"notebook {notebook} has no cell tagged 'parameters'")
    try:
        tree = ast.parse(cells[0].source)
    except SyntaxError as err:
        raise ValueError(f"notebook {notebook}: parameters cell is not Python: {err}") from None
    found = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and node.value is not None:
            try:
                found[target.id] = ast.literal_eval(node.value)
            except ValueError:
                found[target.id] = ast.get_source_segment(cells[0].source, node.value)
    return found


def _read_notebook(notebook: Path) -> Any:
    """The notebook at ``notebook`` (nbformat 4); ``FileNotFoundError`` / ``ValueError``
    naming the file, never quoting its contents."""
    import nbformat

    if not notebook.is_file():
        raise FileNotFoundError(f"notebook {notebook} does not exist")
    if notebook.suffix != ".ipynb":
        raise ValueError(f"{notebook} is not a notebook: expected an .ipynb file")
    try:
        return nbformat.read(notebook, as_version=4)
    except OSError as err:
        raise ValueError(f"notebook {notebook} cannot be read: {err.strerror}") from None
    except Exception as err:  # nbformat raises JSON, schema and key errors quoting the file
        where = "/".join(str(p) for p in getattr(err, "absolute_path", ()))
        raise ValueError(f"notebook {notebook} is not a valid Jupyter notebook "
                         f"({type(err).__name__}{' at ' + where if where else ''})") from None


def check_parameters(notebook: str | Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """Check ``parameters`` against ``notebook``'s ``parameters`` cell; return its defaults.

    Raises ``ValueError`` for an unknown name (listing the valid ones), a value
    whose type differs from the default's (an int is accepted for a float), a
    value :func:`spinml.parameters.check_value` refuses and ``output_dir`` (the
    runner sets it), and ``FileNotFoundError`` for a missing input folder.
    """
    from spinml.parameters import check_value

    notebook = Path(notebook)
    defaults = notebook_parameters(notebook)
    valid = sorted(n for n in defaults if n != OUTPUT_DIR)
    for name, value in parameters.items():
        if name == OUTPUT_DIR:
            raise ValueError(f"parameter {OUTPUT_DIR!r} is set by the report runner: use --out")
        if name not in defaults:
            raise ValueError(f"unknown parameter {name!r} for {notebook.name}; "
                             f"valid names: {', '.join(valid)}")
        default = defaults[name]
        wanted = _TYPES.get(type(default))
        if wanted and (type(value) not in wanted):
            raise ValueError(f"parameter {name!r} of {notebook.name} expects "
                             f"{type(default).__name__} (default {default!r}), got {value!r}")
        try:
            check_value(name, value)
        except (ValueError, TypeError) as err:
            raise ValueError(f"parameter {name!r} of {notebook.name}: {err}") from None
    for name, folder in parameters.items():
        if INPUT_FOLDER.match(name) and isinstance(folder, str) and folder \
                and not Path(folder).is_dir():
            raise FileNotFoundError(f"parameter {name!r}: data folder {folder} does not exist")
    return defaults


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = tempfile.mkdtemp(prefix=".spinml-write-check-", dir=out)
        os.rmdir(probe)
    except OSError as err:
        raise PermissionError(f"output folder {out} is not writable: {err.strerror}") from None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _free_name(out: Path, stem: str) -> str:
    base = f"{stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    name, n = base, 1
    while (out / name).exists() or (out / f"{name}-FAILED").exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _extract_figures(nb: Any, folder: Path) -> list[str]:
    """Write every ``image/png`` output of ``nb`` to ``folder/figures``; return the paths."""
    written = []
    for index, cell in enumerate(nb.cells):
        pngs = [o["data"]["image/png"] for o in cell.get("outputs", ())
                if "image/png" in o.get("data", {})]
        for k, data in enumerate(pngs, start=1):
            rel = f"figures/cell{index:02d}-{k}.png"
            atomic_write_bytes(folder / rel, base64.b64decode(data))
            written.append(rel)
    return written


def _render_html(nb: Any, path: Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    atomic_write_text(path, body)


class _Checked(logging.Filter):
    """Drops papermill's parameter-inspection warnings, which :func:`check_parameters`
    supersedes (papermill cannot read a line with two ``=``, e.g. a policy default)."""

    loggers = ("papermill", "papermill.translators")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(
            ("Unable to parse line", "Passed unknown parameter"))


def _write_run(folder: Path, run: dict[str, Any], start: float, **fields: str) -> None:
    run |= {**fields, "finished": _now(), "duration_s": round(time.perf_counter() - start, 3)}
    atomic_write_text(folder / "run.json", json.dumps(run, indent=2, default=str))


def _finish(staging: Path, target: Path) -> None:
    os.rename(staging, target)
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

_QUIET_ENV = {"HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error",
              "DIFFUSERS_VERBOSITY": "error"}
"""Set for the kernel and its worker processes when ``progress=False``: the model
loaders' own progress bars and advisory warnings stay off the terminal."""


def run_report(
    notebook: str | Path,
    parameters: dict[str, Any] | None = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """Execute ``notebook`` with ``parameters`` into a new report folder under ``out``.

    ``out`` defaults to ``reports/``. Returns the path of the HTML rendering.
    Raises ``ValueError`` / ``FileNotFoundError`` / ``PermissionError`` on bad
    input before any kernel starts, and :class:`ReportFailed` when the notebook
    fails (its ``folder`` holds the partial notebook and ``error.txt``).
    """
    import nbformat
    import papermill

    notebook = Path(notebook)
    if notebook.suffix != ".ipynb" or not notebook.is_file():
        raise FileNotFoundError(f"notebook {notebook} does not exist (expected an .ipynb file)")
    parameters = dict(parameters or {})
    declared = check_parameters(notebook, parameters)
    for name, value in parameters.items():
        if INPUT_FOLDER.match(name) and isinstance(value, str) and value:
            parameters[name] = str(Path(value).resolve())
    out = Path("reports" if out is None else out)
    _check_writable(out)

    name = _free_name(out, notebook.stem)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.staging-", dir=out))
    if OUTPUT_DIR in declared:
        # relative to the kernel's working folder (this process's), so that no path of
        # the machine is written into the executed notebook
        parameters[OUTPUT_DIR] = os.path.relpath(staging)
    effective = declared | parameters
    if OUTPUT_DIR in declared:
        effective[OUTPUT_DIR] = "."  # the report folder, where run.json lies
    run: dict[str, Any] = {
        "notebook": str(notebook),
        "parameters": effective,
        "overrides": {n: v for n, v in parameters.items() if n != OUTPUT_DIR},
        "seeds": {n: v for n, v in effective.items() if "seed" in n},
        "kernel": KERNEL,
        "versions": library_versions(*_VERSIONED, python=True),
        "started": _now(),
    }
    executed = staging / notebook.name
    start = time.perf_counter()
    checked = _Checked()
    for logger in checked.loggers:
        logging.getLogger(logger).addFilter(checked)
    quiet_env = {} if progress else _QUIET_ENV
    saved_env = {var: os.environ.get(var) for var in quiet_env}
    os.environ.update(quiet_env)
    try:
        try:
            papermill.execute_notebook(
                str(notebook), str(executed), parameters=parameters, kernel_name=KERNEL,
                progress_bar=progress, log_output=False,
            )
        finally:
            for logger in checked.loggers:
                logging.getLogger(logger).removeFilter(checked)
            for var, value in saved_env.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value
        nb = nbformat.read(executed, as_version=4)
        # papermill records the staging path; record paths relative to the report instead
        nb.metadata.papermill.input_path = os.path.relpath(notebook)
        nb.metadata.papermill.output_path = executed.name
        nbformat.write(nb, executed)
        run["figures"] = _extract_figures(nb, staging)
        run["tables"] = sorted(str(p.relative_to(staging)) for p in staging.rglob("*.csv"))
        _render_html(nb, staging / f"{notebook.stem}.html")
        _write_run(staging, run, start, status="ok")
        _finish(staging, out / name)
    except BaseException as err:
        failed = out / f"{name}-FAILED"
        atomic_write_text(staging / "error.txt", "".join(traceback.format_exception(err)))
        _write_run(staging, run, start, status="failed", error=f"{type(err).__name__}: {err}")
        _finish(staging, failed)
        if not isinstance(err, Exception):
            raise
        raise ReportFailed(f"{notebook.name} failed ({type(err).__name__}); "
                           f"see {failed / 'error.txt'}", failed) from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / name / f"{notebook.stem}.html"
