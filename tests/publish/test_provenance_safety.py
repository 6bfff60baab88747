"""Determinism, provenance and safety of outputs (issue 8).

Already covered elsewhere (checked, not repeated here): byte-identical ``results.json`` for the
same notebook and parameters (tests/test_run.py::test_sweep_...deterministic), a ``person_id``
column or index and frames over 5,000 rows refused by ``Report.show``
(tests/test_report.py::test_show_refuses_person_level_frames), ``disclosure=False`` refused
without ``synthetic=True`` (tests/test_tables.py), ``!!python/object`` in a parameter file and a
function call in a parameters cell refused (tests/test_params.py), sweep values with ``../``
kept inside the output folder (tests/test_run.py::test_plan_cpa_all_...).

Added here: seeded randomisation tests and league tables are identical run to run (and change
with the seed); ``file_fingerprint`` sees a one-byte change; ``Report.show`` refuses
person-level rows inside an EffectTable, a Series and a Styler; every table function applies
disclosure control by default (also when the data are declared synthetic); more shapes of
code in a parameters cell and in command-line values; notebook names and sweep values of any
text give run folders inside the output folder.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_profiles import fuzz_settings

from wpeval.data.io import file_fingerprint
from wpeval.estimators.ranking import league_table
from wpeval.exceptions import ParameterError, StatisticalWarning
from wpeval.inference.randomisation import randomisation_test
from wpeval.publish import params, report_show, tables
from wpeval.publish import report as report_mod
from wpeval.publish import run as run_mod
from wpeval.publish.report import Report
from wpeval.results import EffectTable

HERE = Path(__file__).resolve().parents[1]
ROOT = HERE.parent
OK = HERE / "run_fixtures" / "ok.ipynb"
SAMPLE = ROOT / "data_synthetic" / "sample_10k.parquet"


# ------------------------------------------------------------------------------ determinism
@pytest.fixture(scope="module")
def sample():
    from wpeval.data import outcomes as wo

    df = pd.read_parquet(SAMPLE)
    return wo.outcome_flags(df[df["cpa"].isin(["CPA01", "CPA04", "CPA09"])]).reset_index(drop=True)


def _same_result(a: EffectTable, b: EffectTable) -> None:
    pd.testing.assert_frame_equal(a.tidy(), b.tidy(), check_exact=True)
    assert dict(a.method) == dict(b.method)


@pytest.mark.parametrize("statistic, outcome", [("diff_in_means", "job_outcome_12m"), ("t", "age")])
def test_randomisation_test_is_reproducible_with_a_seed(sample, statistic, outcome):
    kw = dict(
        blocks=["district"],
        draws=300,
        seed=20110601,
        statistic=statistic,
        drop_incomplete_blocks=True,
        condition1="Prime A",
        condition2="Prime B",
    )
    data = sample[sample["cpa"] == "CPA01"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        a = randomisation_test(data, outcome, "prime", **kw)
        b = randomisation_test(data.copy(), outcome, "prime", **kw)
        c = randomisation_test(data, outcome, "prime", **{**kw, "seed": 7})
    assert not a.extra["exact"]
    _same_result(a, b)
    assert np.array_equal(a.extra["null_stats"], b.extra["null_stats"])
    # another seed gives other draws (the observed statistic is the same)
    assert not np.array_equal(a.extra["null_stats"], c.extra["null_stats"])
    assert a.estimate == c.estimate


def test_league_table_is_reproducible_with_a_seed(sample):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        a = league_table(sample, "job_outcome_12m", blocks=["district"], seed=11, draws=400)
        b = league_table(sample.copy(), "job_outcome_12m", blocks=["district"], seed=11, draws=400)
        boot = [
            league_table(
                sample,
                "job_outcome_12m",
                blocks=["district"],
                seed=s,
                draws=400,
                rank_ci="bootstrap",
            )
            for s in (11, 11, 12)
        ]
    _same_result(a, b)
    _same_result(boot[0], boot[1])
    # the seed only enters the simulated rank sets, never the estimates
    for c in ("estimate", "std_error", "shrunk_effect", "rank"):
        assert np.array_equal(boot[0].table[c], boot[2].table[c])
    assert boot[2].method["seed"] == 12


# ------------------------------------------------------------------------------ provenance
@pytest.mark.parametrize("position", [0, 1000, -1])
def test_file_fingerprint_changes_with_one_byte(tmp_path, position):
    src = tmp_path / "data.parquet"
    shutil.copyfile(SAMPLE, src)
    copy = tmp_path / "copy.parquet"
    shutil.copyfile(SAMPLE, copy)
    assert file_fingerprint(src) == file_fingerprint(copy)  # content, not name or time
    raw = bytearray(copy.read_bytes())
    raw[position] ^= 0x01  # one bit of one byte
    copy.write_bytes(bytes(raw))
    assert file_fingerprint(src) != file_fingerprint(copy)
    assert len(file_fingerprint(copy)) == 64


def test_file_fingerprint_of_csv_line_endings_differ(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(b"person_id,x\n1,2\n")
    b.write_bytes(b"person_id,x\r\n1,2\r\n")
    assert file_fingerprint(a) != file_fingerprint(b)


# ------------------------------------------------------------------------------ report
@pytest.fixture()
def rep(monkeypatch, tmp_path):
    shown: list = []
    monkeypatch.setattr(report_mod, "_display", lambda obj: shown.append(obj))
    monkeypatch.setattr(report_show, "_display", lambda obj: shown.append(obj))
    monkeypatch.setenv("WPEVAL_NOTEBOOK_FILE", str(OK))
    monkeypatch.delenv("WPEVAL_RUN_ID", raising=False)
    ns = {
        "n": 200,
        "label": "x",
        "scale": 2.0,
        "seed": 1,
        "groups": ["a", "b"],
        "note": None,
        "cpa": "all",
        "output_dir": str(tmp_path),
    }
    return Report.start("ok", ns)


def test_show_refuses_person_level_rows_in_any_container(rep):
    people = pd.DataFrame({"person_id": [1, 2, 3], "x": [0.1, 0.2, 0.3]})
    et = EffectTable(
        pd.DataFrame({"term": ["a", "b"], "estimate": [1.0, 2.0], "person_id": [11, 12]}),
        {"estimator": "e", "se_type": "s", "ci_method": "c", "design": "d"},
    )
    with pytest.raises(ParameterError, match="person_id"):
        rep.show(et, key="et")
    with pytest.raises(ParameterError, match="person_id"):
        rep.show(people.set_index("person_id")["x"], key="series")
    with pytest.raises(ParameterError, match="person_id"):
        rep.show(people.style, key="styler")
    with pytest.raises(ParameterError, match="person_id"):  # aggregate=True is no excuse
        rep.show(people, key="agg", aggregate=True)
    assert not rep.results  # nothing was recorded
    rep.show(people.drop(columns="person_id").describe(), key="summary")
    assert "summary" in rep.results


# ------------------------------------------------------------------------------ disclosure
@pytest.fixture(scope="module")
def small_cells():
    df = pd.read_parquet(SAMPLE)
    return df.iloc[:400].reset_index(drop=True)  # small enough to have counts below 10


TABLES = {
    "summary_table": lambda d, **k: tables.summary_table(d, "cpa", **k),
    "crosstab": lambda d, **k: tables.crosstab(d, "cpa", "payment_group", **k),
    "outcome_rates": lambda d, **k: tables.outcome_rates(d, "cpa", months=12, **k),
    "cumulative_rates": lambda d, **k: tables.cumulative_rates(d, "cpa", **k),
    "mpl_table": lambda d, **k: tables.mpl_table(d, **k),
    "payments_table": lambda d, **k: tables.payments_table(d, ("cpa", "prime"), **k),
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_disclosure_control_is_on_by_default(small_cells, name):
    fn = TABLES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        default = fn(small_cells)
        declared = fn(small_cells, synthetic=True)  # synthetic alone does not switch off
        off = fn(small_cells, synthetic=True, disclosure=False)
    for st_ in (default, declared):
        assert st_.disclosure is not None
        assert bool(st_.suppressed.to_numpy().any()), f"{name}: no small cell suppressed"
        counts = [c for c, k in st_.kinds.items() if k == "count"]
        pub = st_.published[counts].to_numpy(dtype=float)
        ok = pub[~np.isnan(pub)]
        assert np.all(ok % st_.disclosure.base == 0), f"{name}: counts not rounded"
    assert off.disclosure is None and not off.suppressed.to_numpy().any()
    with pytest.raises(ParameterError, match="synthetic"), warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        fn(small_cells, disclosure=False)


# ------------------------------------------------------------------------------ parameters
@pytest.mark.parametrize(
    "source",
    [
        "x: int = __import__('os').system('true')\n",
        "x: str = open('/etc/passwd').read()\n",
        "x: list[str] = [str(1), 'a']\n",
        "x: int = (lambda: 1)()\n",
        "x: str = f'{1 + 1}'\n",
        "x: int = os.sep\n",
        "x: int = y\n",
        "x: int = (y := 1)\n",
        "x: list[int] = [1, *range(3)]\n",
        "x: int = 1\nexec('print(1)')\n",
        "x: int = 1; import os\n",
        "x: os.system = 1\n",
        "@decorator\ndef f(): pass\n",
    ],
)
def test_parameters_cell_with_code_is_refused(source):
    with pytest.raises(ParameterError):
        params.parse_parameters(source)


def test_parameter_file_tags_and_aliases_are_refused(tmp_path):
    marker = tmp_path / "ran"
    for i, text in enumerate(
        [
            f"common:\n  label: !!python/object/new:os.system ['touch {marker}']\n",
            "common:\n  label: !!python/name:os.system\n",
            "common:\n  label: !!binary aGVsbG8=\n  n: 5\n",
        ]
    ):
        f = tmp_path / f"p{i}.yaml"
        f.write_text(text)
        try:
            values = params.read_param_file(f)
        except ParameterError:
            continue
        # a safe tag (binary) may load, but then the value must not pass the type check
        with pytest.raises(ParameterError):
            params.load(params.schema(str(OK)), values["common"])
    assert not marker.exists()


@pytest.mark.parametrize("text", ["!!python/object/apply:os.system ['true']", "@x", "[1, 2"])
def test_command_line_values_never_execute_and_fail_clearly(text):
    try:
        value = params.parse_cli_value(text)
    except ParameterError:
        return
    assert value == text  # taken as plain text


# ------------------------------------------------------------------------------ output paths
@fuzz_settings(60)
@given(st.text(min_size=0, max_size=40))
def test_safe_name_never_leaves_the_folder(text):
    name = run_mod.safe_name(text)
    assert name and "/" not in name and "\\" not in name and ".." not in name
    assert not name.startswith(".")
    out = Path("/tmp/wpeval-out").resolve()
    assert (out / name).resolve().parent == out


def test_notebook_path_and_sweep_values_stay_inside_out(tmp_path):
    nb_dir = tmp_path / "elsewhere" / "..notebooks"
    nb_dir.mkdir(parents=True)
    nb = nb_dir / "..%2F..%2Fescape.ipynb"
    shutil.copyfile(OK, nb)
    out = tmp_path / "out"
    rel = Path("..") / nb.relative_to(tmp_path)  # a path with ../ in it
    import os

    cwd = os.getcwd()
    os.chdir(out.parent / "elsewhere")
    try:
        jobs = run_mod.plan([str(rel)], sweeps=["label=../../x,..,.hidden,a/b\\c"], out=out)
    finally:
        os.chdir(cwd)
    assert len(jobs) == 4
    for job in jobs:
        assert Path(job.run_dir).parent == out.resolve()
        assert "/" not in job.run_id and ".." not in job.run_id
        assert not job.run_id.startswith(".")
    assert not out.exists() or not any(out.iterdir())
