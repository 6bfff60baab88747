"""`wpeval run`: fixture notebooks (one works, one fails) run in parallel, published with an
index; a sweep; determinism of results.json. Kernel runs are shared by the tests of this module
(one batch with --jobs 2, one sweep batch) to keep the time down."""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import json
import re
import shutil
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from wpeval.cli import main
from wpeval.exceptions import ParameterError
from wpeval.publish import run as run_mod

FIXTURES = Path(__file__).resolve().parents[1] / "run_fixtures"
OK, FAILING = FIXTURES / "ok.ipynb", FIXTURES / "failing.ipynb"

pytestmark = pytest.mark.slow


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if attrs.get("id"):
            self.ids.add(attrs["id"])


def parse(path: Path) -> Links:
    p = Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def run_dirs(out: Path, stem: str) -> list[Path]:
    return sorted(d for d in out.iterdir() if d.is_dir() and f"-{stem}-" in d.name)


@functools.cache
def published_batch() -> tuple[int, Path]:
    """ok + failing, two at a time, through the command line; run once per test session and
    shared with tests/test_browser.py (kernel runs are the slow part of the suite)."""
    out = Path(tempfile.mkdtemp(prefix="wpeval-run-test-"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    code = main(
        [
            "run",
            "--notebook",
            str(OK),
            str(FAILING),
            "--jobs",
            "2",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    return code, out


@pytest.fixture(scope="module")
def batch():
    return published_batch()


@pytest.fixture(scope="module")
def sweep(batch, tmp_path_factory):
    """A second batch into the same folder: a sweep over n (200 = the first run's value)."""
    _, out = batch
    code = main(
        [
            "run",
            "--notebook",
            str(OK),
            "--sweep",
            "n=200,50",
            "--jobs",
            "2",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    return code, out


def test_failing_notebook_exits_nonzero_and_others_complete(batch):
    code, out = batch
    assert code == 1
    (ok_dir,), (bad_dir,) = run_dirs(out, "ok"), run_dirs(out, "failing")
    ok_prov = json.loads((ok_dir / "provenance.json").read_text())
    bad_prov = json.loads((bad_dir / "provenance.json").read_text())
    assert ok_prov["status"] == "ok" and ok_prov["error"] is None
    for name in ("ok.ipynb", "ok.html", "results.json"):
        assert (ok_dir / name).is_file()
    assert bad_prov["status"] == "failed"
    assert bad_prov["error"]["ename"] == "ValueError"
    assert "deliberate failure" in bad_prov["error"]["evalue"]
    assert not (bad_dir / "results.json").exists()
    # the failing cell is anchored in the partial HTML export, with its code quoted
    bad_html = (bad_dir / "failing.html").read_text()
    assert 'id="papermill-error-cell"' in bad_html
    assert "deliberate failure for the runner test" in bad_html
    # the cell before the failure ran: its output notebook holds the executed cells
    nb = json.loads((bad_dir / "failing.ipynb").read_text())
    assert any(c.get("execution_count") for c in nb["cells"])


def test_parallel_jobs_ran_in_separate_processes_at_the_same_time(batch):
    _, out = batch
    provs = [
        json.loads((d / "provenance.json").read_text())
        for d in run_dirs(out, "ok") + run_dirs(out, "failing")
    ]
    assert provs[0]["runner"]["pid"] != provs[1]["runner"]["pid"]
    spans = []
    for p in provs:
        start = dt.datetime.fromisoformat(p["started_utc"]).timestamp()
        spans.append((start, start + p["duration_s"]))
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1, f"runs did not overlap: {spans}"


def test_kernel_is_the_current_interpreter_and_provenance_complete(batch):
    _, out = batch
    (ok_dir,) = run_dirs(out, "ok")
    prov = json.loads((ok_dir / "provenance.json").read_text())
    assert Path(prov["kernel"]["kernel"]["executable"]).resolve() == Path(sys.executable).resolve()
    assert prov["kernel"]["kernel"]["executable"] == sys.executable
    assert prov["parameters"]["n"] == 200 and "output_dir" not in prov["parameters"]
    assert prov["package_version"] == "0.1.0" and prov["git"]["commit"]
    assert prov["libraries"]["pandas"] and prov["libraries"]["papermill"]
    assert prov["run_id"] == ok_dir.name and re.match(r"\d{8}T\d{6}Z-ok-[0-9a-f]{8}$", ok_dir.name)
    res = json.loads((ok_dir / "results.json").read_text())
    assert res["results"]["n_values"] == 200 and res["results"]["note"] is None
    assert [r["group"] for r in res["results"]["by_group"]] == ["low", "high"]
    assert sum(r["n"] for r in res["results"]["by_group"]) == 200


def test_report_html_hides_code_and_has_header_and_footer(batch):
    _, out = batch
    (ok_dir,) = run_dirs(out, "ok")
    text = (ok_dir / "ok.html").read_text()
    assert "Report.start" not in text and "default_rng" not in text  # code hidden
    assert "<h1" in text and "Runner fixture: a notebook that works" in text
    assert "Does the runner execute a thin notebook" in text  # the question
    assert 'id="wpeval-parameters"' in text and "number of simulated values" in text
    links = parse(ok_dir / "ok.html")
    for target in ("#Summary-table", "#A-figure", "#wpeval-provenance"):  # contents
        assert target in links.hrefs and target[1:] in links.ids
    assert "cdnjs" not in text and not re.search(r"<script[^>]+src=\"https?:", text)
    assert re.search(r"<img[^>]+alt=[\"']Histogram of 200 simulated normal values", text)


def test_index_lists_runs_with_status_error_and_links(batch):
    _, out = batch
    index = out / "index.html"
    text = index.read_text()
    (ok_dir,), (bad_dir,) = run_dirs(out, "ok"), run_dirs(out, "failing")
    assert ok_dir.name in text and bad_dir.name in text
    assert "ValueError: deliberate failure for the runner test" in text
    assert "Mean x" in text and "N values" in text  # key figures, humanised labels
    links = parse(index)
    assert f"{bad_dir.name}/failing.html#papermill-error-cell" in links.hrefs
    for href in links.hrefs:
        path, _, frag = href.partition("#")
        if not path:
            assert frag in links.ids
            continue
        target = out / path
        assert target.is_file(), href
        if frag:
            assert frag in parse(target).ids, href


def test_sweep_gives_one_report_per_value_and_results_are_deterministic(batch, sweep):
    code, out = sweep
    assert code == 0, [
        json.loads(p.read_text()).get("error") for p in out.glob("*/provenance.json")
    ]
    dirs = run_dirs(out, "ok")
    assert len(dirs) == 3
    first = next(d for d in dirs if "-n-" not in d.name)
    same = next(d for d in dirs if "-n-200-" in d.name)
    other = next(d for d in dirs if "-n-50-" in d.name)
    # same notebook + same parameters, run again by another command: byte-identical results
    b1, b2 = (first / "results.json").read_bytes(), (same / "results.json").read_bytes()
    d1, d2 = json.loads(b1), json.loads(b2)
    git = ("git_commit", "git_dirty")
    if [d1["provenance"][k] for k in git] != [d2["provenance"][k] for k in git]:
        # the code changed between the two runs (a commit, or an edit to a tracked file,
        # while the suite ran): the code is an input, so compare everything else
        for d in (d1, d2):
            for k in git:
                d["provenance"].pop(k)
        assert d1 == d2
    else:
        assert b1 == b2, f"results.json differ:\n{b1.decode()}\n---\n{b2.decode()}"
    assert json.loads((other / "results.json").read_text())["results"]["n_values"] == 50
    text = (out / "index.html").read_text()
    for d in dirs:
        assert f"{d.name}/ok.html" in text
    assert text.count("<section>") == 2  # two batches, newest first
    assert text.index("n=50") < text.index("failing")


def test_plan_cpa_all_expands_to_every_cpa_and_paths_stay_inside(tmp_path):
    cfg = Path(run_mod.__file__).parents[2] / "config" / "programme.yaml"
    cpas = [c["code"] for c in yaml.safe_load(cfg.read_text())["cpas"]]
    jobs = run_mod.plan([str(OK)], sweeps=["cpa=all"], out=tmp_path)
    assert [j.params["cpa"] for j in jobs] == cpas and len(cpas) == 18
    assert len({j.run_dir for j in jobs}) == 18
    jobs = run_mod.plan([str(OK)], sweeps=["label=../../evil,/etc/passwd"], out=tmp_path)
    for j in jobs:
        assert Path(j.run_dir).parent == tmp_path.resolve()
        assert ".." not in j.run_id and "/" not in j.run_id
    with pytest.raises(ParameterError, match="unknown value"):
        run_mod.plan([str(OK)], sweeps=["cpa=CPA99"], out=tmp_path)
    with pytest.raises(ParameterError, match="has no parameter 'cpa'"):
        run_mod.plan([str(OK), str(FAILING)], sweeps=["cpa=all"], out=tmp_path)
    with pytest.raises(ParameterError, match="only for"):
        run_mod.plan([str(OK)], sweeps=["label=all"], out=tmp_path)
    assert not any(tmp_path.iterdir())  # planning writes nothing


def test_dask_backend_runs_a_sweep_with_the_same_results(batch, sweep, tmp_path):
    """`--backend dask`: one task per notebook on a LocalCluster; same results.json as the
    process pool for the same parameters (the sweep fixture ran n=50 with processes)."""
    _, out = sweep
    code = main(
        [
            "run",
            "--notebook",
            str(OK),
            "--sweep",
            "n=50",
            "--backend",
            "dask",
            "--jobs",
            "1",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    assert code == 0
    (mine,) = run_dirs(tmp_path, "ok")
    theirs = next(d for d in run_dirs(out, "ok") if "-n-50-" in d.name)
    a, b = (json.loads((d / "results.json").read_text()) for d in (mine, theirs))
    assert a["results"] == b["results"] and a["results"]["n_values"] == 50
    assert json.loads((mine / "provenance.json").read_text())["status"] == "ok"


def test_kernels_get_one_blas_thread_unless_the_user_set_it(monkeypatch):
    from wpeval.publish.run.execute import BLAS_THREAD_VARS, blas_threads

    for k in BLAS_THREAD_VARS:
        monkeypatch.delenv(k, raising=False)
    assert blas_threads() == {k: "1" for k in BLAS_THREAD_VARS}
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    got = blas_threads()
    assert "OPENBLAS_NUM_THREADS" not in got and got["OMP_NUM_THREADS"] == "1"
