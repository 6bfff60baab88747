"""Plan a run: resolve notebooks, read parameters, expand sweeps and validate every value
before anything runs."""

from __future__ import annotations

import datetime as _dt
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from wpeval.exceptions import ParameterError
from wpeval.publish import params as _params
from wpeval.publish.report import resolve_data_path

ERROR_ANCHOR = "papermill-error-cell"
#: sweep keys for which ``all`` is defined, and where the values come from
SWEEP_ALL = {"cpa": lambda p: list(p.cpas), "payment_group": lambda p: list(p.payment_groups)}
KERNEL_START_ATTEMPTS = 3
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def safe_name(text: str, limit: int = 60) -> str:
    """A file-name-safe version of ``text`` (letters, digits, ``._-`` only; no leading dot)."""
    out = re.sub(r"[^A-Za-z0-9._-]+|\.{2,}", "_", str(text)).strip("._-")
    return out[:limit] or "x"


@dataclass(frozen=True)
class Job:
    """One notebook execution. ``params`` are validated and exclude ``output_dir``."""

    notebook: str
    path: str
    params: dict
    changed: dict
    variant: dict
    run_id: str
    run_dir: str
    batch: str


@dataclass
class JobResult:
    """Outcome of one :class:`Job`."""

    run_id: str
    notebook: str
    status: str
    duration_s: float
    run_dir: str
    html: str | None = None
    error: dict | None = field(default=None)


# -- planning -------------------------------------------------------------------------------


def default_notebooks() -> list[Path]:
    """Every ``notebooks/*.ipynb`` of the project, sorted by name."""
    folder = Path.cwd() / "notebooks"
    if not folder.is_dir():
        folder = _params.project_root() / "notebooks"
    return sorted(folder.glob("[!.]*.ipynb"))


def parse_sweep(spec: str) -> tuple[str, list]:
    """Parse ``key=v1,v2`` or ``key=all`` into ``(key, values)`` (values typed as YAML scalars)."""
    if "=" not in spec:
        raise ParameterError(f"--sweep expects key=values or key=all, got {spec!r}")
    key, raw = (s.strip() for s in spec.split("=", 1))
    if raw == "all":
        if key not in SWEEP_ALL:
            raise ParameterError(
                f"--sweep {key}=all is defined only for "
                f"{', '.join(SWEEP_ALL)}; list the values instead"
            )
        from wpeval.data import programme

        return key, SWEEP_ALL[key](programme.load())
    values = [_params.parse_cli_value(v) for v in raw.split(",") if v.strip()]
    if not values:
        raise ParameterError(f"--sweep {key}= has no values")
    if key in SWEEP_ALL:
        from wpeval.data import programme

        known = SWEEP_ALL[key](programme.load())
        bad = [v for v in values if v not in known and v != "all"]
        if bad:
            raise ParameterError(f"--sweep {key}: unknown value(s) {bad}; known: {known}")
    return key, values


def _run_id(batch: str, notebook: str, variant: dict, params: dict, taken: set[str]) -> str:
    digest = hashlib.sha256(
        json.dumps(
            {"notebook": notebook, "parameters": params}, sort_keys=True, default=str
        ).encode()
    ).hexdigest()[:8]
    label = "-".join(f"{k}-{v}" for k, v in variant.items())
    base = safe_name(f"{batch}-{notebook}" + (f"-{label}" if label else ""), 100) + f"-{digest}"
    run_id, i = base, 2
    while run_id in taken:
        run_id, i = f"{base}-{i}", i + 1
    taken.add(run_id)
    return run_id


def plan(
    notebooks: Sequence[str] | None = None,
    params_file: str | Path | None = None,
    data: str | None = None,
    sweeps: Sequence[str] = (),
    out: str | Path = "outputs",
    batch: str | None = None,
) -> list[Job]:
    """Resolve and validate every job of a ``wpeval run`` before anything executes.

    Parameters
    ----------
    notebooks : list of str, optional
        Names (``"02_prime_comparison"``) or paths; default every ``notebooks/*.ipynb``.
    params_file : path, optional
        YAML parameter file (``common:`` + per-notebook sections); default
        ``notebooks/params/default.yaml`` when it exists.
    data : str, optional
        Data file given to every notebook that has a ``data_path`` parameter.
    sweeps : list of str
        ``key=v1,v2`` or ``key=all`` (``cpa``, ``payment_group``): one job per value (the
        product over several sweeps); every selected notebook must have the parameter.
    out : path
        Output folder; each job gets ``out/<run_id>/``.
    batch : str, optional
        Timestamp shared by the jobs (default: now, UTC, ``YYYYmmddTHHMMSSZ``).

    Raises
    ------
    ParameterError
        Unknown notebook or parameter, a wrong type (naming parameter, type and value), a
        sweep over a parameter a notebook lacks, or a data file that does not exist.
    """
    paths = [_params.find_notebook(n) for n in notebooks] if notebooks else default_notebooks()
    if not paths:
        raise ParameterError("no notebooks to run (none given and notebooks/ is empty)")
    if params_file is None:
        candidate = _params.project_root() / "notebooks" / "params" / "default.yaml"
        params_file = candidate if candidate.is_file() else None
    file_values = _params.read_param_file(params_file) if params_file else {}
    parsed = [parse_sweep(s) for s in sweeps]
    keys = [k for k, _ in parsed]
    if len(set(keys)) != len(keys):
        raise ParameterError(f"--sweep names a parameter twice: {keys}")
    batch = batch or _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(out).resolve()
    jobs: list[Job] = []
    taken: set[str] = set()
    for path in paths:
        sch = _params.parse_parameters(
            _params.read_parameters_cell(path), notebook=path.stem, path=str(path)
        )
        values = _params.values_for(sch, file_values)
        if data is not None and "data_path" in sch:
            values["data_path"] = data
        for key in keys:
            if key not in sch:
                raise ParameterError(
                    f"--sweep {key}: notebook {sch.notebook!r} has no parameter "
                    f"{key!r}; known parameters: {', '.join(sch.names)}"
                )
        for combo in itertools.product(*[v for _, v in parsed]):
            variant = dict(zip(keys, combo))
            full = _params.load(sch, {**values, **variant})
            full.pop("output_dir", None)
            if "data_path" in full and not resolve_data_path(full["data_path"]).is_file():
                raise ParameterError(
                    f"notebook {sch.notebook!r}: data file {full['data_path']!r} does not exist"
                )
            changed = {k: v for k, v in full.items() if v != sch.get(k).default}
            run_id = _run_id(batch, sch.notebook, variant, full, taken)
            run_dir = (out / run_id).resolve()
            if run_dir.parent != out:
                raise ParameterError(f"output path {run_dir} escapes {out}")
            jobs.append(
                Job(
                    notebook=sch.notebook,
                    path=str(path),
                    params=full,
                    changed=changed,
                    variant=variant,
                    run_id=run_id,
                    run_dir=str(run_dir),
                    batch=batch,
                )
            )
    return jobs


# -- executing ------------------------------------------------------------------------------
