"""Run notebooks with papermill and publish them: outputs/<run_id>/ and outputs/index.html.

``wpeval run`` (see :mod:`wpeval.cli`) calls :func:`plan` then :func:`execute`:

1. :func:`plan` resolves the notebooks, reads the YAML parameter file, expands sweeps and
   validates every value against each notebook's typed schema (:mod:`wpeval.publish.params`) *before*
   anything runs; a bad value raises :class:`~wpeval.exceptions.ParameterError`.
2. :func:`execute` runs each job in a fresh kernel (the ``python3`` kernel of the current
   interpreter: jupyter_client launches ``sys.executable`` for the native kernel), N at a time
   in separate processes. Kernels talk over ``ipc`` sockets named after a unique connection
   file, so parallel kernels cannot race for TCP ports; a kernel that fails to start is
   retried. Each job writes ``<notebook>.ipynb``, ``<notebook>.html`` (code hidden, with title,
   question, parameters, contents and a provenance footer), ``results.json`` (written by the
   notebook's :class:`~wpeval.publish.report.Report`) and ``provenance.json`` into ``outputs/<run_id>/``.
3. :func:`write_index` rewrites ``outputs/index.html`` from every ``outputs/*/provenance.json``.

A failing notebook does not stop the others; its row in the index shows the error and links to
the failing cell of its (partially executed) HTML export.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import itertools
import json
import logging
import math
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from wpeval.publish import params as _params
from wpeval.publish import provenance as _prov
from wpeval.exceptions import ParameterError
from wpeval.publish.report import resolve_data_path, to_json

#: anchor of the failing cell in an HTML export (papermill's own id)
ERROR_ANCHOR = "papermill-error-cell"
#: sweep keys for which ``all`` is defined, and where the values come from
SWEEP_ALL = {"cpa": lambda p: list(p.cpas), "payment_group": lambda p: list(p.payment_groups)}
KERNEL_START_ATTEMPTS = 3
TEMPLATES = Path(__file__).resolve().parent / "templates"


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
            raise ParameterError(f"--sweep {key}=all is defined only for "
                                 f"{', '.join(SWEEP_ALL)}; list the values instead")
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
    digest = hashlib.sha256(json.dumps({"notebook": notebook, "parameters": params},
                                       sort_keys=True, default=str).encode()).hexdigest()[:8]
    label = "-".join(f"{k}-{v}" for k, v in variant.items())
    base = safe_name(f"{batch}-{notebook}" + (f"-{label}" if label else ""), 100) + f"-{digest}"
    run_id, i = base, 2
    while run_id in taken:
        run_id, i = f"{base}-{i}", i + 1
    taken.add(run_id)
    return run_id


def plan(notebooks: Sequence[str] | None = None, params_file: str | Path | None = None,
         data: str | None = None, sweeps: Sequence[str] = (), out: str | Path = "outputs",
         batch: str | None = None) -> list[Job]:
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
    paths = ([_params.find_notebook(n) for n in notebooks] if notebooks
             else default_notebooks())
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
        sch = _params.parse_parameters(_params.read_parameters_cell(path), notebook=path.stem,
                                       path=str(path))
        values = _params.values_for(sch, file_values)
        if data is not None and "data_path" in sch:
            values["data_path"] = data
        for key in keys:
            if key not in sch:
                raise ParameterError(f"--sweep {key}: notebook {sch.notebook!r} has no parameter "
                                     f"{key!r}; known parameters: {', '.join(sch.names)}")
        for combo in itertools.product(*[v for _, v in parsed]):
            variant = dict(zip(keys, combo))
            full = _params.load(sch, {**values, **variant})
            full.pop("output_dir", None)
            if "data_path" in full and not resolve_data_path(full["data_path"]).is_file():
                raise ParameterError(f"notebook {sch.notebook!r}: data file "
                                     f"{full['data_path']!r} does not exist")
            changed = {k: v for k, v in full.items() if v != sch.get(k).default}
            run_id = _run_id(batch, sch.notebook, variant, full, taken)
            run_dir = (out / run_id).resolve()
            if run_dir.parent != out:
                raise ParameterError(f"output path {run_dir} escapes {out}")
            jobs.append(Job(notebook=sch.notebook, path=str(path), params=full, changed=changed,
                            variant=variant, run_id=run_id, run_dir=str(run_dir), batch=batch))
    return jobs


# -- executing ------------------------------------------------------------------------------

def _kernel_manager_class(folder: str, log: Any = None):
    """A kernel manager class for nbclient (which creates, owns and shuts down the manager).

    Kernels use ipc sockets named after a unique file in ``folder`` (POSIX), so parallel
    kernels never race for TCP ports; they always run this interpreter; their own stdout and
    stderr (start-up and shutdown messages, not cell output) go to the file object ``log``.
    """
    from jupyter_client import AsyncKernelManager  # nbclient's default manager is async

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            if os.name == "posix":
                stem = os.path.join(folder, uuid.uuid4().hex[:12])
                kwargs.setdefault("transport", "ipc")
                kwargs.setdefault("connection_file", stem + ".json")
                kwargs.setdefault("ip", stem + "-ipc")
            super().__init__(**kwargs)

        def format_kernel_cmd(self, extra_arguments=None):
            # the ipykernel spec found first may belong to another Python (e.g. a user-level
            # kernelspec); always launch the kernel with this interpreter
            cmd = super().format_kernel_cmd(extra_arguments)
            if "-m" in cmd[:-1] and cmd[cmd.index("-m") + 1] in ("ipykernel_launcher",
                                                                  "ipykernel"):
                cmd[0] = sys.executable
            return cmd

        async def start_kernel(self, **kwargs):
            if log is not None:
                kwargs.setdefault("stdout", log)
                kwargs.setdefault("stderr", log)
            return await super().start_kernel(**kwargs)

    return IpcKernelManager


def _executed_any(nb_path: Path) -> bool:
    try:
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(c.get("execution_count") for c in nb.get("cells", []))


class _DropParamWarnings(logging.Filter):
    """papermill's own parameter inspection cannot parse some annotated lines (``str | None``,
    a ``""`` default followed by a comment holding quotes) and warns "Unable to parse line" /
    "Passed unknown parameter". wpeval has already validated every parameter against the
    notebook's typed schema, so those warnings are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        return not msg.startswith(("Passed unknown parameter", "Unable to parse line"))


def _quiet_papermill() -> None:
    for name in ("papermill", "papermill.translators"):
        log = logging.getLogger(name)
        log.setLevel(logging.WARNING)
        if not any(isinstance(f, _DropParamWarnings) for f in log.filters):
            log.addFilter(_DropParamWarnings())


def _run_papermill(job: Job, nb_out: Path, progress: bool | dict, timeout: float | None):
    import papermill as pm

    _quiet_papermill()
    parameters = dict(job.params)
    if "output_dir" in _params.parse_parameters(_params.read_parameters_cell(job.path)):
        parameters["output_dir"] = job.run_dir
    folder = tempfile.mkdtemp(prefix="wpk-")
    log = open(Path(job.run_dir) / "kernel.log", "ab")  # noqa: SIM115 - closed below
    try:
        for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
            try:
                pm.execute_notebook(job.path, str(nb_out), parameters=parameters,
                                    kernel_name="python3", language="python",
                                    progress_bar=progress, cwd=os.getcwd(),
                                    execution_timeout=math.ceil(timeout) if timeout else None,
                                    start_timeout=120,
                                    kernel_manager_class=_kernel_manager_class(folder, log))
                return
            except pm.PapermillExecutionError:
                raise
            except Exception:
                # a kernel that never ran a cell (e.g. died at start-up) is retried
                if attempt == KERNEL_START_ATTEMPTS or _executed_any(nb_out):
                    raise
                time.sleep(0.5 * attempt)
    finally:
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def execute_job(job: Job, progress: bool | dict = False, timeout: float | None = None
                ) -> JobResult:
    """Run one job in a fresh kernel, export its HTML and write its provenance.json.

    Never raises for a notebook error: the result has ``status="failed"`` and ``error``
    (``ename``, ``evalue``, ``exec_count``).
    """
    run_dir = Path(job.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    name = safe_name(job.notebook)
    nb_out, html_out = run_dir / f"{name}.ipynb", run_dir / f"{name}.html"
    env = {"WPEVAL_NOTEBOOK_FILE": str(Path(job.path).resolve()), "WPEVAL_RUN_ID": job.run_id,
           "WPEVAL_OUTPUT_DIR": job.run_dir, "MPLBACKEND": "Agg"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
    t0 = time.perf_counter()
    error = None
    try:
        _run_papermill(job, nb_out, progress, timeout)
    except Exception as exc:  # noqa: BLE001 - any failure is reported, the batch goes on
        error = {"ename": getattr(exc, "ename", type(exc).__name__),
                 "evalue": str(getattr(exc, "evalue", exc))[:2000],
                 "exec_count": getattr(exc, "exec_count", None)}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    duration = round(time.perf_counter() - t0, 2)
    if error is None and not (run_dir / "results.json").is_file():
        error = {"ename": "MissingResults", "evalue": "the notebook did not call "
                 "rep.finish(), so no results.json was written", "exec_count": None}
    prov = _provenance(job, started, duration, error, html_out.name, nb_out.name)
    html_path = None
    if nb_out.is_file():
        try:
            export_html(nb_out, html_out, prov, job)
            html_path = str(html_out)
        except Exception as exc:  # noqa: BLE001
            error = error or {"ename": "ExportError", "evalue": f"HTML export failed: {exc}",
                              "exec_count": None}
    prov["status"] = "ok" if error is None else "failed"
    prov["error"] = error
    prov["files"]["html"] = html_out.name if html_path else None
    (run_dir / "provenance.json").write_text(
        json.dumps(to_json(prov), sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return JobResult(run_id=job.run_id, notebook=job.notebook, status=prov["status"],
                     duration_s=duration, run_dir=job.run_dir, html=html_path, error=error)


def _first_markdown(nb_path: str) -> tuple[str, str]:
    nb = json.loads(Path(nb_path).read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        if "papermill-error-cell-tag" in cell.get("metadata", {}).get("tags", []):
            continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        lines = src.strip().splitlines()
        if lines and lines[0].startswith("# "):
            return lines[0][2:].strip(), "\n".join(lines[1:]).strip()
        return "", src.strip()
    return "", ""


def _provenance(job: Job, started: str, duration: float, error: dict | None, html_name: str,
                nb_name: str) -> dict:
    run_dir = Path(job.run_dir)
    kernel = None
    if (run_dir / "provenance.json").is_file():
        try:
            kernel = json.loads((run_dir / "provenance.json").read_text(encoding="utf-8"))
        except ValueError:
            kernel = None
    data = (kernel or {}).get("data")
    if not data and "data_path" in job.params:
        path = resolve_data_path(job.params["data_path"])
        try:
            fingerprint = _prov.data_fingerprint(path) if path.is_file() else None
        except ImportError as exc:
            fingerprint = f"unavailable ({exc})"
        data = {"path": job.params["data_path"], "fingerprint": fingerprint}
    title, question = _first_markdown(job.path)
    return {
        "run_id": job.run_id, "batch": job.batch, "notebook": job.notebook,
        "title": title or job.notebook, "question": question, "source": job.path,
        "variant": job.variant, "parameters": job.params, "parameters_changed": job.changed,
        "status": "ok" if error is None else "failed", "error": error,
        "started_utc": started, "duration_s": duration,
        "package_version": _prov.package_version(), "git": _prov.git_info(),
        "libraries": _prov.library_versions(), "data": data,
        "runner": {**_prov.interpreter(), "pid": os.getpid()},
        "kernel": kernel,
        "files": {"html": html_name, "ipynb": nb_name, "kernel_log": "kernel.log",
                  "results": "results.json" if (run_dir / "results.json").is_file() else None},
    }


def execute(jobs: Sequence[Job], n_jobs: int = 1, progress: bool = True,
            timeout: float | None = None) -> list[JobResult]:
    """Run ``jobs`` (``n_jobs`` at a time, each in its own process and kernel).

    Returns the results in the order of ``jobs``. Progress: one bar for notebooks, one per
    running notebook for cells (tqdm, on stderr).
    """
    from tqdm.auto import tqdm

    results: dict[str, JobResult] = {}
    bar = tqdm(total=len(jobs), desc="notebooks", unit="nb", disable=not progress, position=0)
    n_jobs = max(1, min(int(n_jobs), len(jobs) or 1))

    def cell_bar(i: int, job: Job):
        return ({"desc": job.run_id.split("-", 1)[-1][:40], "leave": False,
                 "position": 1 + i % n_jobs} if progress else False)

    if n_jobs == 1:
        for i, job in enumerate(jobs):
            res = execute_job(job, cell_bar(i, job), timeout)
            results[job.run_id] = res
            bar.set_postfix_str(f"{job.notebook}: {res.status}")
            bar.update()
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx) as pool:
            futures = {pool.submit(execute_job, job, cell_bar(i, job), timeout): job
                       for i, job in enumerate(jobs)}
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 - a dead worker fails its job only
                    res = JobResult(job.run_id, job.notebook, "failed", 0.0, job.run_dir,
                                    error={"ename": type(exc).__name__, "evalue": str(exc),
                                           "exec_count": None})
                results[job.run_id] = res
                bar.set_postfix_str(f"{job.notebook}: {res.status}")
                bar.update()
    bar.close()
    return [results[j.run_id] for j in jobs]


# -- HTML export ----------------------------------------------------------------------------

_ERROR_TAG = "papermill-error-cell-tag"


def _mark_failure(nb) -> None:
    """Drop papermill's top-of-notebook error note (the header shows a banner instead) and make
    sure an anchor with id ERROR_ANCHOR precedes the failing cell, quoting its code (the
    export hides code, but the reader of a failure needs it)."""
    import nbformat

    def tagged(c) -> bool:
        return _ERROR_TAG in c.metadata.get("tags", [])

    anchor_id = f'id="{ERROR_ANCHOR}"'
    cells = [c for c in nb.cells if not (tagged(c) and anchor_id not in c.source)]
    anchor_at = next((i for i, c in enumerate(cells) if tagged(c) and anchor_id in c.source),
                     None)
    if anchor_at is None:
        # no papermill marker (e.g. a cell timed out): the failing cell is the last one started
        started = [i for i, c in enumerate(cells) if c.cell_type == "code"
                   and c.metadata.get("papermill", {}).get("start_time")]
        anchor_at = started[-1] if started else None
        if anchor_at is None:
            nb.cells = cells
            return
        cells.insert(anchor_at, nbformat.v4.new_markdown_cell(""))
    failing = cells[anchor_at + 1].source if anchor_at + 1 < len(cells) else ""
    fence = "~~~~" if "```" in failing else "```"
    cells[anchor_at] = nbformat.v4.new_markdown_cell(
        f'<span id="{ERROR_ANCHOR}" class="wpeval-error-anchor">Execution stopped with an error '
        f"in the next cell. Its code:</span>\n\n{fence}python\n{failing}\n{fence}\n")
    nb.cells = cells


def _strip_external_scripts(text: str) -> str:
    """Remove the exporter's CDN scripts (require.js, MathJax, mermaid): reports work offline."""
    def keep(m: re.Match) -> str:
        tag, body = m.group(1), m.group(2)
        external = re.search(r"src\s*=\s*[\"']?https?:", tag) or "https://" in body
        return "" if external or "MathJax" in body else m.group(0)

    return re.sub(r"(<script\b[^>]*>)(.*?)</script>", keep, text, flags=re.S | re.I)


def _headings(body: str) -> list[dict]:
    out = []
    for m in re.finditer(r'<h([2-3]) id="([^"]+)"[^>]*>(.*?)</h\1>', body, flags=re.S):
        text = re.sub(r'<a class="anchor-link".*?</a>', "", m.group(3), flags=re.S)
        text = html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
        if text:
            out.append({"level": int(m.group(1)), "id": html.unescape(m.group(2)), "text": text})
    return out


def export_html(nb_path: str | Path, html_path: str | Path, prov: dict, job: Job) -> Path:
    """Export an executed notebook to HTML with code hidden, adding a header (title, question,
    parameters, contents, failure banner) and a provenance footer.

    Uses nbconvert's HTMLExporter (lab template) with ``exclude_input``,
    ``exclude_input_prompt``, ``exclude_output_prompt`` and ``embed_images``; CDN scripts
    (MathJax, require.js, mermaid) are removed so the page needs no network.
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    nb = nbformat.read(str(nb_path), as_version=4)
    if prov.get("status") != "ok" and (prov.get("error") or {}).get("ename") != "MissingResults":
        _mark_failure(nb)
    intro = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
                  and ERROR_ANCHOR not in c.source), None)
    intro_html = markdown2html_mistune(nb.cells.pop(intro).source) if intro is not None else ""
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    body, _ = exporter.from_notebook_node(nb)
    body = _strip_external_scripts(body)
    sch = _params.parse_parameters(_params.read_parameters_cell(job.path), notebook=job.notebook)
    rows = [{"name": p.name, "value": json.dumps(to_json(job.params[p.name])), "doc": p.doc,
             "changed": p.name in job.changed} for p in sch.params if p.name in job.params]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    ctx = {"prov": prov, "title": prov.get("title") or job.notebook, "intro": intro_html,
           "params": rows, "toc": _headings(body), "anchor": ERROR_ANCHOR,
           "has_anchor": f'id="{ERROR_ANCHOR}"' in body,
           "prov_json": json.dumps(to_json({k: v for k, v in prov.items() if k != "kernel"}),
                                   sort_keys=True, indent=2)}
    header = env.get_template("report_header.html.j2").render(**ctx)
    footer = env.get_template("report_footer.html.j2").render(**ctx)
    css = (TEMPLATES / "wpeval.css").read_text(encoding="utf-8")
    body = body.replace("</head>", f"<style>{css}</style>\n</head>", 1)
    body = re.sub(r"<main>", lambda m: m.group(0) + header, body, count=1) \
        if "<main>" in body else re.sub(r"<body[^>]*>", lambda m: m.group(0) + header, body, 1)
    cut = body.rfind("</main>") if "</main>" in body else body.rfind("</body>")
    body = body[:cut] + footer + body[cut:]
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(ctx['title'])}</title>", body,
                  count=1, flags=re.S)
    Path(html_path).write_text(body, encoding="utf-8")
    return Path(html_path)


# -- index ----------------------------------------------------------------------------------

def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


def _index_row(prov_path: Path, out: Path) -> dict:
    run_dir = prov_path.parent
    rel = run_dir.name
    try:
        prov = json.loads(prov_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"run_id": rel, "batch": rel[:16], "notebook": "?", "title": rel,
                "status": "unreadable", "error": {"ename": "BadProvenance", "evalue": str(exc)},
                "links": [], "figures": [], "params": [], "changed": [], "duration": ""}
    figures = []
    results_file = run_dir / "results.json"
    if results_file.is_file():
        try:
            results = json.loads(results_file.read_text(encoding="utf-8")).get("results", {})
            figures = [(k, _fmt(v)) for k, v in sorted(results.items())
                       if v is None or isinstance(v, (int, float, str, bool))][:8]
        except (OSError, ValueError):
            figures = []
    files = prov.get("files") or {}
    links = [(label, f"{rel}/{files[key]}") for key, label in
             (("html", "report"), ("ipynb", "notebook"), ("results", "results.json"))
             if files.get(key) and (run_dir / files[key]).is_file()]
    links.append(("provenance.json", f"{rel}/provenance.json"))
    error_link = None
    if prov.get("status") != "ok" and files.get("html") and (run_dir / files["html"]).is_file():
        error_link = f"{rel}/{files['html']}#{ERROR_ANCHOR}"
    git = prov.get("git") or {}
    return {
        "run_id": prov.get("run_id", rel), "batch": prov.get("batch", ""),
        "notebook": prov.get("notebook", "?"), "title": prov.get("title") or prov.get("notebook"),
        "question": prov.get("question", ""),
        "variant": ", ".join(f"{k}={v}" for k, v in (prov.get("variant") or {}).items()),
        "status": prov.get("status", "unknown"), "error": prov.get("error"),
        "error_link": error_link,
        "started": str(prov.get("started_utc", ""))[:19].replace("T", " ") + " UTC",
        "duration": f"{prov.get('duration_s', 0):.1f} s",
        "params": [(k, _fmt(v)) for k, v in (prov.get("parameters") or {}).items()],
        "changed": [(k, _fmt(v)) for k, v in (prov.get("parameters_changed") or {}).items()],
        "figures": figures, "links": links,
        "commit": (git.get("commit") or "unknown")[:10] + (" (dirty)" if git.get("dirty") else ""),
    }


def write_index(out: str | Path = "outputs") -> Path:
    """Rewrite ``out/index.html`` listing every run found in ``out/*/provenance.json``."""
    import jinja2

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [_index_row(p, out) for p in sorted(out.glob("*/provenance.json"))]
    rows.sort(key=lambda r: r["run_id"])                       # within a batch: by notebook
    rows.sort(key=lambda r: r["batch"], reverse=True)           # batches: newest first
    batches = []
    for batch, group in itertools.groupby(rows, key=lambda r: r["batch"]):
        group = list(group)
        batches.append({"batch": batch, "rows": group,
                        "failed": sum(r["status"] != "ok" for r in group)})
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    text = env.get_template("index.html.j2").render(
        batches=batches, n_runs=len(rows), n_failed=sum(r["status"] != "ok" for r in rows),
        css=(TEMPLATES / "wpeval.css").read_text(encoding="utf-8"),
        version=_prov.package_version(),
        generated=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    target = out / "index.html"
    tmp = out / f".index.{os.getpid()}.html"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target


def run(notebooks: Sequence[str] | None = None, params_file: str | Path | None = None,
        data: str | None = None, sweeps: Sequence[str] = (), out: str | Path = "outputs",
        n_jobs: int = 1, progress: bool = True, timeout: float | None = None
        ) -> list[JobResult]:
    """Plan (validating every parameter first), execute, and rewrite the index.

    See :func:`plan` and :func:`execute` for the parameters. Raises ParameterError before
    anything runs; notebook failures are reported in the results (``status="failed"``).
    """
    jobs = plan(notebooks, params_file=params_file, data=data, sweeps=sweeps, out=out)
    results = execute(jobs, n_jobs=n_jobs, progress=progress, timeout=timeout)
    write_index(out)
    return results


__all__ = ["Job", "JobResult", "plan", "execute", "execute_job", "export_html", "write_index",
           "run", "safe_name", "parse_sweep"]
