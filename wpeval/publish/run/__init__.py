"""Run notebooks with papermill and publish them: outputs/<run_id>/ and outputs/index.html.

``wpeval run`` (see :mod:`wpeval.cli`) calls :func:`plan` then :func:`execute`:

1. :func:`plan` resolves the notebooks, reads the YAML parameter file, expands sweeps and
   validates every value against each notebook's typed schema (:mod:`wpeval.publish.params`)
   *before*
   anything runs; a bad value raises :class:`~wpeval.exceptions.ParameterError`.
2. :func:`execute` runs each job in a fresh kernel (the ``python3`` kernel of the current
   interpreter: jupyter_client launches ``sys.executable`` for the native kernel), N at a time
   in separate processes (or as tasks on a Dask cluster: ``backend="dask"``). Kernels talk over
   ``ipc`` sockets named after a unique connection
   file, so parallel kernels cannot race for TCP ports; a kernel that fails to start is
   retried. Each job writes ``<notebook>.ipynb``, ``<notebook>.html`` (code hidden, with title,
   question, parameters, contents and a provenance footer), ``results.json`` (written by the
   notebook's :class:`~wpeval.publish.report.Report`) and ``provenance.json`` into
   ``outputs/<run_id>/``.
3. :func:`write_index` rewrites ``outputs/index.html`` from every ``outputs/*/provenance.json``.

A failing notebook does not stop the others; its row in the index shows the error and links to
the failing cell of its (partially executed) HTML export.

The steps live in ``plan``, ``execute``, ``export`` and ``index``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from wpeval.publish.run.execute import execute, execute_job
from wpeval.publish.run.export import export_html
from wpeval.publish.run.index import write_index
from wpeval.publish.run.plan import Job, JobResult, parse_sweep, plan, safe_name


def run(
    notebooks: Sequence[str] | None = None,
    params_file: str | Path | None = None,
    data: str | None = None,
    sweeps: Sequence[str] = (),
    out: str | Path = "outputs",
    n_jobs: int = 1,
    progress: bool = True,
    timeout: float | None = None,
    backend: str = "processes",
    scheduler: str | None = None,
) -> list[JobResult]:
    """Plan (validating every parameter first), execute, and rewrite the index.

    See :func:`plan` and :func:`execute` for the parameters. Raises ParameterError before
    anything runs; notebook failures are reported in the results (``status="failed"``).
    """
    jobs = plan(notebooks, params_file=params_file, data=data, sweeps=sweeps, out=out)
    results = execute(
        jobs,
        n_jobs=n_jobs,
        progress=progress,
        timeout=timeout,
        backend=backend,
        scheduler=scheduler,
    )
    write_index(out)
    return results


__all__ = [
    "Job",
    "JobResult",
    "plan",
    "execute",
    "execute_job",
    "export_html",
    "write_index",
    "run",
    "safe_name",
    "parse_sweep",
]
