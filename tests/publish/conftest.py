"""Fixtures shared by the publishing tests: one smoke run of every notebook per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wpeval.publish import run as run_mod

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[!.]*.ipynb"))
SMOKE = ROOT / "notebooks" / "params" / "smoke.yaml"


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """Every notebook run once with the smoke parameters (two at a time): notebook name ->
    JobResult; the outputs folder is ``smoke_out``."""
    out = tmp_path_factory.mktemp("notebook_outputs")
    cwd = os.getcwd()
    os.chdir(ROOT)  # parameter files hold paths relative to the project folder
    try:
        results = run_mod.run(
            [str(ROOT / "notebooks" / f"{n}.ipynb") for n in NOTEBOOKS],
            params_file=SMOKE,
            out=out,
            n_jobs=2,
            progress=False,
        )
    finally:
        os.chdir(cwd)
    return {r.notebook: r for r in results}


@pytest.fixture(scope="session")
def smoke_out(smoke_run):
    """The outputs folder of :func:`smoke_run` (holds index.html)."""
    return Path(next(iter(smoke_run.values())).run_dir).parent
