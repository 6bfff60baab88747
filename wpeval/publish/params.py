"""Typed, validated notebook parameters.

papermill injects parameters as plain assignments and never casts types (papermill issue #55),
so a notebook run with ``seed: "5"`` would silently compute with a string. wpeval therefore
reads the *types* from the notebook itself: the cell tagged ``parameters`` holds annotated
literal assignments, one per line, each with a comment that documents it::

    data_path: str = "data_synthetic/default.parquet"  # referral-level data, Parquet or CSV
    seed: int = 20110601  # seed for anything random
    cpa: str = "all"  # CPA code or "all"

:func:`schema` parses that cell with :mod:`ast` (nothing in the notebook is executed) into a
:class:`NotebookSchema` of frozen :class:`ParamSpec` records, and :func:`load` checks a set of
values against it. Parameter files are YAML, read with ``yaml.safe_load`` only, shaped as::

    common:                 # applied to every notebook that has the parameter
      data_path: data_synthetic/sample_10k.parquet
    02_prime_comparison:    # applied to that notebook only (every key must be one of its params)
      cpa: CPA01

Supported types: ``str``, ``int``, ``float``, ``bool``, ``dict``, ``list[str]``, ``list[int]``,
``list[float]`` and ``T | None`` for any of these. Rules: an ``int`` is accepted for a
``float`` (and stored as float); a ``bool`` is never accepted as an ``int`` or ``float``; strings
are never converted to numbers (YAML values already carry their type); values must be plain
literals (str, int, float, bool, None, lists and dicts of these).

The schema records, the parsing of the cell and the check of one value are in
:mod:`wpeval.publish.param_schema` (re-exported here); this module finds notebooks and their
parameters cell, and loads and checks sets of values, parameter files and command-line values.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

import yaml

from wpeval.exceptions import ParameterError
from wpeval.publish.param_schema import (  # noqa: F401 - re-exported
    BASE_TYPES,
    PARAMETERS_TAG,
    NotebookSchema,
    ParamSpec,
    _comments_by_line,
    _is_literal,
    _normalise_type,
    _type_error,
    check_value,
    parse_parameters,
)

#: parameters that only say where output goes; left out of results.json (see wpeval.publish.report)
LOCATION_PARAMS = ("output_dir",)


def project_root(start: str | Path | None = None) -> Path:
    """The project folder: the nearest parent of ``start`` (default: cwd) holding a
    ``notebooks/`` folder and a ``pyproject.toml`` or ``wpeval/`` folder; failing that, the
    folder above the installed ``wpeval`` package."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (
            (folder / "pyproject.toml").is_file() or (folder / "wpeval").is_dir()
        ):
            return folder
    return Path(__file__).resolve().parents[2]


def notebook_dirs() -> list[Path]:
    """Folders searched for a notebook given by name, in order: ``$WPEVAL_NOTEBOOK_DIR``, the
    current folder, ``./notebooks``, the project's ``notebooks/``."""
    dirs = []
    if os.environ.get("WPEVAL_NOTEBOOK_DIR"):
        dirs.append(Path(os.environ["WPEVAL_NOTEBOOK_DIR"]))
    dirs += [Path.cwd(), Path.cwd() / "notebooks", project_root() / "notebooks"]
    out: list[Path] = []
    for d in dirs:
        if d.resolve() not in out:
            out.append(d.resolve())
    return out


def find_notebook(name_or_path: str | Path) -> Path:
    """Resolve a notebook name (``"02_prime_comparison"``) or path to an existing file.

    Raises
    ------
    ParameterError
        No such notebook; the message lists the notebooks that exist.
    """
    text = str(name_or_path)
    candidate = Path(text)
    if text.endswith(".ipynb") or os.sep in text or "/" in text:
        if candidate.is_file():
            return candidate.resolve()
        raise ParameterError(f"notebook file {text!r} does not exist")
    for folder in notebook_dirs():
        path = folder / f"{text}.ipynb"
        if path.is_file():
            return path
    known = sorted({p.stem for d in notebook_dirs() if d.is_dir() for p in d.glob("*.ipynb")})
    raise ParameterError(
        f"no notebook named {text!r}; known notebooks: {', '.join(known) or '(none)'}"
    )


def read_parameters_cell(path: str | Path) -> str:
    """Source of the cell tagged ``parameters`` in the notebook at ``path`` ("" if none)."""
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and PARAMETERS_TAG in cell.get("metadata", {}).get(
            "tags", []
        ):
            src = cell.get("source", "")
            return "".join(src) if isinstance(src, list) else src
    return ""


def schema(notebook: str | Path) -> NotebookSchema:
    """The typed parameter schema of a notebook (name or path).

    A notebook without a ``parameters`` cell has an empty schema.
    """
    path = find_notebook(notebook)
    return parse_parameters(read_parameters_cell(path), notebook=path.stem, path=str(path))


# -- checking values ------------------------------------------------------------------------


def load(notebook: str | Path | NotebookSchema, values: Mapping[str, Any] | None = None) -> dict:
    """Validate parameter values for a notebook and return the full parameter set.

    Parameters
    ----------
    notebook : str, path or NotebookSchema
        Notebook name (``"02_prime_comparison"``), path, or an already parsed schema.
    values : mapping, optional
        Overrides of the defaults; every key must be a parameter of the notebook.

    Returns
    -------
    dict
        Every parameter of the notebook (defaults overridden by ``values``), in cell order.

    Raises
    ------
    ParameterError
        Unknown parameter (the message lists the known ones) or a value of the wrong type
        (the message names the parameter, the expected type and the value given).
    """
    sch = notebook if isinstance(notebook, NotebookSchema) else schema(notebook)
    values = dict(values or {})
    unknown = sorted(set(values) - set(sch.names))
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))} for notebook "
            f"{sch.notebook!r}; known parameters: "
            f"{', '.join(sch.names) or '(none)'}"
        )
    out = {}
    for spec in sch.params:
        out[spec.name] = (
            check_value(spec, values[spec.name], sch.notebook)
            if spec.name in values
            else spec.default
        )
    return out


# -- parameter files ------------------------------------------------------------------------


def read_param_file(path: str | Path) -> dict:
    """Read a YAML parameter file with ``yaml.safe_load`` (no code is ever executed).

    Returns
    -------
    dict
        ``{"common": {...}, "<notebook>": {...}, ...}`` (missing sections are absent).

    Raises
    ------
    ParameterError
        The file is not valid YAML, not a mapping of mappings, or holds non-literal values.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ParameterError(f"parameter file {str(path)!r} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ParameterError(f"parameter file {str(path)!r} is not valid YAML: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ParameterError(
            f"parameter file {str(path)!r}: top level must be a mapping of "
            "sections ('common' and notebook names)"
        )
    for section, body in raw.items():
        if body is None:
            raw[section] = {}
        elif not isinstance(body, dict) or not all(isinstance(k, str) for k in body):
            raise ParameterError(
                f"parameter file {str(path)!r}: section {section!r} must be a "
                "mapping of parameter names to values"
            )
    return {str(k): v for k, v in raw.items()}


def values_for(sch: NotebookSchema, file_values: Mapping[str, Mapping[str, Any]]) -> dict:
    """The values a parameter file gives one notebook: its ``common`` entries that are
    parameters of the notebook, then its own section (whose keys must all be parameters)."""
    values = {k: v for k, v in dict(file_values.get("common", {})).items() if k in sch}
    own = dict(file_values.get(sch.notebook, {}))
    unknown = sorted(set(own) - set(sch.names))
    if unknown:
        raise ParameterError(
            f"parameter file section {sch.notebook!r}: unknown parameter(s) "
            f"{', '.join(map(repr, unknown))}; known parameters: "
            f"{', '.join(sch.names) or '(none)'}"
        )
    values.update(own)
    return values


def parse_cli_value(text: str) -> Any:
    """Type a value given on the command line as a YAML scalar (``5`` -> int, ``a`` -> str).

    Only ``yaml.safe_load`` is used, so nothing is ever constructed or executed from a value;
    text YAML cannot parse (``@x``, ``[1, 2``, ``!!python/...`` tags) raises ParameterError.
    """
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ParameterError(
            f"command-line value {text!r} is not a literal (number, true/false, or text): {first}"
        ) from exc
    if isinstance(value, float) and not math.isfinite(value):
        return text
    if not _is_literal(value) or isinstance(value, (list, dict)):
        return text
    if isinstance(value, bool) and text.strip().lower() not in ("true", "false"):
        return text  # YAML 1.1 reads yes/no/on/off as booleans; only true/false count here
    return value
