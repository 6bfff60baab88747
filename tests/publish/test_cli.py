"""The `wpeval` command line: generate, validate, run (argument errors), index, bench."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from wpeval.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "run_fixtures"


def test_python_dash_m_help_lists_subcommands():
    proc = subprocess.run(
        [sys.executable, "-m", "wpeval", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    for cmd in ("generate", "validate", "run", "index", "bench"):
        assert cmd in proc.stdout


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "s.parquet"
    assert main(["generate", "--n", "800", "--seed", "5", "--out", str(path)]) == 0
    return path


def test_generate_writes_n_rows(sample):
    df = pd.read_parquet(sample)
    assert len(df) == 800 and df["person_id"].is_unique


def test_generate_refuses_bad_arguments(tmp_path, capsys):
    assert main(["generate", "--n", "10", "--out", str(tmp_path / "x.csv")]) == 2
    assert "parquet" in capsys.readouterr().err.lower()
    assert main(["generate", "--n", "0", "--out", str(tmp_path / "x.parquet")]) == 2


@pytest.mark.filterwarnings("ignore::wpeval.exceptions.StatisticalWarning")
def test_validate_exit_codes(sample, tmp_path, capsys):
    assert main(["validate", str(sample)]) == 0
    assert "rows in: 800" in capsys.readouterr().out
    df = pd.read_parquet(sample)
    df["prime"] = df["prime"].astype(object)
    df.loc[df.index[:4], "prime"] = None
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    assert main(["validate", str(bad)]) == 1
    cap = capsys.readouterr()
    assert "DATA CONTRACT ERROR" in cap.err and "prime" in cap.err and "null_required" in cap.out
    assert main(["validate", str(bad), "--lenient"]) == 0
    assert "dropped: 4" in capsys.readouterr().out


def test_run_argument_errors_exit_2(tmp_path, capsys):
    import nbformat

    out = tmp_path / "out"
    assert main(["run", "--notebook", "no_such_notebook", "--out", str(out)]) == 2
    assert "no notebook named 'no_such_notebook'" in capsys.readouterr().err
    assert (
        main(["run", "--notebook", str(FIXTURES / "ok.ipynb"), "--sweep", "n", "--out", str(out)])
        == 2
    )
    assert "key=values" in capsys.readouterr().err
    cell = nbformat.v4.new_code_cell('data_path: str = "x.parquet"  # data\n')
    cell.metadata["tags"] = ["parameters"]
    nb_path = tmp_path / "needs_data.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), nb_path)
    assert (
        main(
            [
                "run",
                "--notebook",
                str(nb_path),
                "--data",
                str(tmp_path / "missing.parquet"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert "missing.parquet" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["run", "--jobs", "0"])
    assert exc.value.code == 2
    assert not out.exists()  # every error came before anything ran


def test_index_of_an_empty_folder(tmp_path, capsys):
    assert main(["index", "--out", str(tmp_path)]) == 0
    assert "No runs yet" in (tmp_path / "index.html").read_text()


def test_bench_runs_every_script_and_fails_if_one_fails(tmp_path, capsys):
    (tmp_path / "good.py").write_text("print('good ran')\n")
    (tmp_path / "bad.py").write_text("print('bad ran')\nraise SystemExit(3)\n")
    (tmp_path / "_helper.py").write_text("raise SystemExit('helpers are not benchmarks')\n")
    code = main(["bench", "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "good.py: exit 0" in out and "bad.py: exit 3" in out and "_helper" not in out
    assert main(["bench", "--dir", str(tmp_path), "good"]) == 0
    assert main(["bench", "--dir", str(tmp_path), "nope"]) == 2
