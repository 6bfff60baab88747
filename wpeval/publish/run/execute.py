"""Execute planned jobs: one fresh kernel per notebook, N at a time, each writing its executed
notebook, HTML, results.json and provenance.json."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Sequence

from wpeval.publish import params as _params
from wpeval.publish import provenance as _prov
from wpeval.publish.report import resolve_data_path, to_json
from wpeval.publish.run import pdf as _pdf
from wpeval.publish.run.export import export_html
from wpeval.publish.run.plan import KERNEL_START_ATTEMPTS, Job, JobResult, safe_name


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
            if "-m" in cmd[:-1] and cmd[cmd.index("-m") + 1] in ("ipykernel_launcher", "ipykernel"):
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
                pm.execute_notebook(
                    job.path,
                    str(nb_out),
                    parameters=parameters,
                    kernel_name="python3",
                    language="python",
                    progress_bar=progress,
                    cwd=os.getcwd(),
                    execution_timeout=math.ceil(timeout) if timeout else None,
                    start_timeout=120,
                    kernel_manager_class=_kernel_manager_class(folder, log),
                )
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


#: BLAS / OpenMP thread variables set for every notebook kernel unless already set
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_threads() -> dict[str, str]:
    """One BLAS thread per notebook kernel, for the variables the user has not set.

    Why: the kit's numerical work is many small matrix products, where threaded OpenBLAS
    costs more than it saves and, with several notebooks at once, the threads contend for the
    cores (the CR2 blocks of ``regression_contrasts`` at 2M rows: 19.3 s with one thread,
    43.2 s with the default, on 2 cores). One fixed count also keeps the numbers independent
    of ``--jobs``, since threaded BLAS may sum in another order. Set ``OPENBLAS_NUM_THREADS``
    (or ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``) before ``wpeval run`` to override.
    """
    return {k: "1" for k in BLAS_THREAD_VARS if k not in os.environ}


def execute_job(job: Job, progress: bool | dict = False, timeout: float | None = None) -> JobResult:
    """Run one job in a fresh kernel, export its HTML and write its provenance.json.

    Never raises for a notebook error: the result has ``status="failed"`` and ``error``
    (``ename``, ``evalue``, ``exec_count``).
    """
    run_dir = Path(job.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    name = safe_name(job.notebook)
    nb_out, html_out = run_dir / f"{name}.ipynb", run_dir / f"{name}.html"
    env = {
        "WPEVAL_NOTEBOOK_FILE": str(Path(job.path).resolve()),
        "WPEVAL_RUN_ID": job.run_id,
        "WPEVAL_OUTPUT_DIR": job.run_dir,
        "MPLBACKEND": "Agg",
        **blas_threads(),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
    t0 = time.perf_counter()
    error = None
    try:
        _run_papermill(job, nb_out, progress, timeout)
    except Exception as exc:  # noqa: BLE001 - any failure is reported, the batch goes on
        error = {
            "ename": getattr(exc, "ename", type(exc).__name__),
            "evalue": str(getattr(exc, "evalue", exc))[:2000],
            "exec_count": getattr(exc, "exec_count", None),
        }
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    duration = round(time.perf_counter() - t0, 2)
    if error is None and not (run_dir / "results.json").is_file():
        error = {
            "ename": "MissingResults",
            "evalue": "the notebook did not call rep.finish(), so no results.json was written",
            "exec_count": None,
        }
    prov = _provenance(job, started, duration, error, html_out.name, nb_out.name)
    html_path = None
    pdf_name = f"{name}.pdf" if _pdf.browser() else None
    if nb_out.is_file():
        try:
            export_html(nb_out, html_out, prov, job, pdf_name=pdf_name)
            html_path = str(html_out)
        except Exception as exc:  # noqa: BLE001
            error = error or {
                "ename": "ExportError",
                "evalue": f"HTML export failed: {exc}",
                "exec_count": None,
            }
    if html_path and pdf_name:
        try:
            _pdf.print_pdf(html_out, run_dir / "downloads" / pdf_name)
            prov["files"]["pdf"] = f"downloads/{pdf_name}"
        except Exception as exc:  # noqa: BLE001 - the report stands without its PDF
            prov["pdf_error"] = str(exc)[:500]
    prov["status"] = "ok" if error is None else "failed"
    prov["error"] = error
    prov["files"]["html"] = html_out.name if html_path else None
    (run_dir / "provenance.json").write_text(
        json.dumps(to_json(prov), sort_keys=True, indent=2) + "\n", encoding="utf-8"
    )
    return JobResult(
        run_id=job.run_id,
        notebook=job.notebook,
        status=prov["status"],
        duration_s=duration,
        run_dir=job.run_dir,
        html=html_path,
        error=error,
    )


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


def _provenance(
    job: Job, started: str, duration: float, error: dict | None, html_name: str, nb_name: str
) -> dict:
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
    marker = (data or {}).get("synthetic_marker")
    if marker is None and "data_path" in job.params:
        from wpeval.data.parquet import read_marker

        marker = read_marker(resolve_data_path(job.params["data_path"]))
        if marker is not None and isinstance(data, dict):
            data = {**data, "synthetic_marker": marker}
    synthetic = bool(
        (kernel or {}).get("synthetic") or marker is not None or job.params.get("synthetic") is True
    )
    return {
        "synthetic": synthetic,
        "run_id": job.run_id,
        "batch": job.batch,
        "notebook": job.notebook,
        "title": title or job.notebook,
        "question": question,
        "source": job.path,
        "variant": job.variant,
        "parameters": job.params,
        "parameters_changed": job.changed,
        "status": "ok" if error is None else "failed",
        "error": error,
        "started_utc": started,
        "duration_s": duration,
        "package_version": _prov.package_version(),
        "git": _prov.git_info(),
        "libraries": _prov.library_versions(),
        "data": data,
        "runner": {**_prov.interpreter(), "pid": os.getpid()},
        "kernel": kernel,
        "files": {
            "html": html_name,
            "ipynb": nb_name,
            "kernel_log": "kernel.log",
            "results": "results.json" if (run_dir / "results.json").is_file() else None,
        },
    }


def _failed(job: Job, exc: BaseException) -> JobResult:
    return JobResult(
        job.run_id,
        job.notebook,
        "failed",
        0.0,
        job.run_dir,
        error={"ename": type(exc).__name__, "evalue": str(exc), "exec_count": None},
    )


def _execute_dask(
    jobs: Sequence[Job], n_jobs: int, progress: bool, timeout: float | None, scheduler: str | None
) -> list[JobResult]:
    """One Dask task per notebook job (each starts its own kernel on the worker that runs it);
    the notebooks and the output folder must be on a file system the workers share."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    from wpeval.inference.backend import dask_client

    results: dict[str, JobResult] = {}
    with (
        dask_client(scheduler, n_workers=n_jobs) as client,
        tqdm(total=len(jobs), desc="notebooks", unit="nb", disable=not progress) as bar,
    ):
        futures = {
            client.submit(
                execute_job, job, False, timeout, pure=False, key=f"notebook-{job.run_id}"
            ): job
            for job in jobs
        }
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker fails its job only
                res = _failed(job, exc)
            results[job.run_id] = res
            bar.set_postfix_str(f"{job.notebook}: {res.status}")
            bar.update()
    return [results[j.run_id] for j in jobs]


def execute(
    jobs: Sequence[Job],
    n_jobs: int = 1,
    progress: bool = True,
    timeout: float | None = None,
    backend: str = "processes",
    scheduler: str | None = None,
) -> list[JobResult]:
    """Run ``jobs`` (``n_jobs`` at a time, each in its own process and kernel).

    Parameters
    ----------
    jobs : sequence of Job
        From :func:`~wpeval.publish.run.plan.plan`.
    n_jobs : int, default 1
        Notebooks run at the same time (local pool size, or LocalCluster workers).
    progress : bool, default True
        One bar for notebooks, one per running notebook for cells (tqdm, on stderr; the Dask
        backend shows the notebooks bar only).
    timeout : float, optional
        Per-cell execution timeout in seconds.
    backend : {"processes", "dask"}, default "processes"
        ``"processes"``: a local process pool (one kernel per job). ``"dask"``: one task per
        job on a ``dask.distributed`` client (a LocalCluster of ``n_jobs`` workers, or the
        cluster at ``scheduler`` / ``$WPEVAL_DASK_SCHEDULER``), see
        :mod:`wpeval.inference.backend`.
    scheduler : str, optional
        Dask scheduler address.

    Returns
    -------
    list of JobResult
        In the order of ``jobs``.
    """
    from tqdm.auto import tqdm

    if backend not in ("processes", "dask"):
        from wpeval.exceptions import ParameterError

        raise ParameterError(f"backend must be 'processes' or 'dask', not {backend!r}")
    if backend == "dask":
        return _execute_dask(jobs, max(1, int(n_jobs)), progress, timeout, scheduler)
    results: dict[str, JobResult] = {}
    bar = tqdm(total=len(jobs), desc="notebooks", unit="nb", disable=not progress, position=0)
    n_jobs = max(1, min(int(n_jobs), len(jobs) or 1))

    def cell_bar(i: int, job: Job):
        return (
            {"desc": job.run_id.split("-", 1)[-1][:40], "leave": False, "position": 1 + i % n_jobs}
            if progress
            else False
        )

    if n_jobs == 1:
        for i, job in enumerate(jobs):
            res = execute_job(job, cell_bar(i, job), timeout)
            results[job.run_id] = res
            bar.set_postfix_str(f"{job.notebook}: {res.status}")
            bar.update()
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx) as pool:
            futures = {
                pool.submit(execute_job, job, cell_bar(i, job), timeout): job
                for i, job in enumerate(jobs)
            }
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 - a dead worker fails its job only
                    res = _failed(job, exc)
                results[job.run_id] = res
                bar.set_postfix_str(f"{job.notebook}: {res.status}")
                bar.update()
    bar.close()
    return [results[j.run_id] for j in jobs]
