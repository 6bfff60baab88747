"""The notebook-side Report (wpeval.publish.report), used in-process without a kernel."""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.exceptions import ParameterError, StatisticalWarning
from wpeval.publish import report as report_mod
from wpeval.publish import report_show
from wpeval.publish.report import Report
from wpeval.results import EffectTable

OK = Path(__file__).resolve().parents[1] / "run_fixtures" / "ok.ipynb"


@pytest.fixture()
def shown(monkeypatch):
    """Collect what the report displays (as HTML text)."""
    items: list[str] = []

    def collect(obj):
        items.append(getattr(obj, "data", None) or str(obj))

    monkeypatch.setattr(report_mod, "_display", collect)
    monkeypatch.setattr(report_show, "_display", collect)
    monkeypatch.setenv("WPEVAL_NOTEBOOK_FILE", str(OK))
    monkeypatch.delenv("WPEVAL_RUN_ID", raising=False)
    return items


def namespace(tmp_path, **over):
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
    ns.update(over)
    return ns


def test_start_validates_types_and_converts_ints_for_floats(tmp_path, shown):
    ns = namespace(tmp_path, scale=3)
    rep = Report.start("ok", ns)
    assert rep.params["scale"] == 3.0 and isinstance(ns["scale"], float)
    assert any("Parameters of ok" in s for s in shown)  # header shown outside the runner
    with pytest.raises(ParameterError, match="'n'.*expects int.*'200'"):
        Report.start("ok", namespace(tmp_path, n="200"))
    with pytest.raises(ParameterError, match="'seed'.*expects int.*True"):
        Report.start("ok", namespace(tmp_path, seed=True))
    ns = namespace(tmp_path)
    del ns["label"]
    with pytest.raises(ParameterError, match="'label'.*not defined"):
        Report.start("ok", ns)
    with pytest.raises(ParameterError, match="notebook being run is 'ok'"):
        Report.start("failing", namespace(tmp_path))


def test_show_refuses_person_level_frames(tmp_path, shown):
    rep = Report.start("ok", namespace(tmp_path))
    with pytest.raises(ParameterError, match="person_id"):
        rep.show(pd.DataFrame({"person_id": [1, 2], "x": [0, 1]}), key="t")
    with pytest.raises(ParameterError, match="person_id"):  # aggregate=True does not excuse it
        rep.show(
            pd.DataFrame({"x": [0, 1]}, index=pd.Index([1, 2], name="person_id")),
            key="t",
            aggregate=True,
        )
    big = pd.DataFrame({"cell": np.arange(5001), "n": 1})
    with pytest.raises(ParameterError, match="5,001 rows"):
        rep.show(big, key="big")
    rep.show(big, key="big", aggregate=True)
    assert len(rep.results["big"]) == 5001
    assert any("First 200 of 5,001 rows" in s for s in shown)
    rep.show(big.head(5000), key="ok_size")  # 5,000 rows is allowed
    with pytest.raises(ParameterError, match="already recorded"):
        rep.show(big.head(3), key="big")


def test_show_records_effect_tables_and_frames(tmp_path, shown):
    rep = Report.start("ok", namespace(tmp_path))
    et = EffectTable(
        pd.DataFrame({"term": ["A - B"], "estimate": [0.25], "std_error": [0.1]}),
        method={
            "estimator": "diff",
            "se_type": "Neyman",
            "ci_method": "normal",
            "design": "blocked",
        },
        title="contrast",
    )
    rep.show(et, key="contrast", caption="A against B")
    assert rep.results["contrast"] == json.loads(json.dumps(et.to_dict()))
    assert any("<figcaption>A against B</figcaption>" in s and "Neyman" in s for s in shown)
    frame = pd.DataFrame({"rate": [0.1, np.nan]}, index=pd.Index(["CPA01", "CPA02"], name="cpa"))
    rep.show(frame, key="rates", caption="Rates")
    assert rep.results["rates"] == [{"cpa": "CPA01", "rate": 0.1}, {"cpa": "CPA02", "rate": None}]
    rep.show(frame["rate"], key="series")
    assert rep.results["series"][0] == {"cpa": "CPA01", "rate": 0.1}
    rep.show(frame.style, key="styled")
    assert rep.results["styled"] == rep.results["rates"]
    with pytest.raises(ParameterError, match="record\\(\\) for scalars"):
        rep.show(3.0, key="scalar")


def test_figure_has_alt_caption_and_closes(tmp_path, shown):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rep = Report.start("ok", namespace(tmp_path))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    with pytest.raises(ParameterError, match="alt text"):
        rep.figure(ax, caption="c", alt=" ")
    rep.figure(ax, caption="A line", alt="A straight line from 0 to 1 & more")
    html = shown[-1]
    assert "<img src='data:image/png;base64," in html
    assert "alt='A straight line from 0 to 1 &amp; more'" in html
    assert "<figcaption>A line</figcaption>" in html
    assert not plt.fignum_exists(fig.number)
    assert rep.figures == [
        {"caption": "A line", "alt": "A straight line from 0 to 1 & more", "main": True}
    ]  # the first figure is the main one (index thumbnail)


def test_record_nan_warns_and_stores_null(tmp_path, shown):
    rep = Report.start("ok", namespace(tmp_path))
    with pytest.warns(StatisticalWarning, match="'bad'"):
        rep.record("bad", float("nan"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep.record("good", np.float64(0.5))
        rep.record("count", np.int64(3))
    assert rep.results == {"bad": None, "good": 0.5, "count": 3}
    with pytest.raises(ParameterError, match="use show"):
        rep.record("frame", pd.DataFrame({"a": [1]}))


def _finish(tmp_path, out_name, shown_fixture):
    out = tmp_path / out_name
    rep = Report.start("ok", namespace(tmp_path, output_dir=str(out)))
    rep.show(pd.DataFrame({"g": ["b", "a"], "v": [2.0, 1.0]}), key="zz_table")
    rep.record("mean", 1.5)
    rep.record("a_first", {"y": 1, "x": [1, 2]})
    rep.finish()
    return out


def test_finish_writes_sorted_deterministic_results(tmp_path, shown):
    out1 = _finish(tmp_path, "one", shown)
    out2 = _finish(tmp_path, "two", shown)
    b1, b2 = (out1 / "results.json").read_bytes(), (out2 / "results.json").read_bytes()
    assert b1 == b2  # output_dir differs, content does not; no timestamps inside
    doc = json.loads(b1)
    assert list(doc) == sorted(doc) and list(doc["results"]) == ["a_first", "mean", "zz_table"]
    assert "output_dir" not in doc["provenance"]["parameters"]
    assert doc["provenance"]["package_version"] == "0.1.0"
    assert len(doc["provenance"]["git_commit"]) in (40, len("unknown"))
    prov = json.loads((out1 / "provenance.json").read_text())
    assert prov["duration_s"] >= 0 and prov["started_utc"] <= prov["finished_utc"]
    assert prov["parameters"]["output_dir"] == str(out1)
    assert "T" in prov["started_utc"] and "started" not in b1.decode()


@pytest.mark.filterwarnings("ignore::wpeval.exceptions.StatisticalWarning")
def test_load_data_fingerprints_and_hides_examples_for_real_data(tmp_path, shown):
    from wpeval.data.io import write_parquet
    from wpeval.data.programme import fictional
    from wpeval.data.synthetic import make_programme

    frame = make_programme(600, 11).referrals
    frame.attrs = {}  # no generator marker: as for administrative data
    path = write_parquet(frame, tmp_path / "d.parquet")
    rep = Report.start("ok", namespace(tmp_path))
    rep.params["data_path"] = str(path)
    rep.params["synthetic"] = False
    df = rep.load_data(programme=fictional())  # the data's own programme file
    assert not rep.synthetic
    assert len(df) == rep.data_info["rows_after_checks"] and rep.data_info["rows_read"] == 600
    # independent fingerprint: sha256 of the file bytes
    assert rep.data_info["fingerprint"] == hashlib.sha256(path.read_bytes()).hexdigest()
    checks_html = next(s for s in shown if "Data checks" in s)
    assert "examples" not in checks_html  # person_ids are not published from real data
    with pytest.raises(ParameterError, match="does not exist"):
        rep.load_data(tmp_path / "missing.parquet")


@pytest.mark.filterwarnings("ignore::wpeval.exceptions.StatisticalWarning")
def test_generated_data_are_synthetic_whatever_the_parameter_says(tmp_path, shown):
    from wpeval.data.synthetic import write_sample

    path = write_sample(tmp_path / "d.parquet", 600, 11)
    rep = Report.start("ok", namespace(tmp_path))
    rep.params["data_path"] = str(path)
    rep.params["synthetic"] = False  # forgotten: the file's marker still says synthetic
    rep.load_data()
    assert rep.synthetic and rep.data_marker["seed"] == 11
    assert rep.results_document()["synthetic"] is True
    with pytest.raises(ParameterError, match="make data"):
        rep.load_data("data_synthetic/absent.parquet")


def test_to_json_handles_pandas_values():
    val = report_mod.to_json(
        {
            "t": pd.Timestamp("2011-06-01"),
            "p": pd.Period("2011Q3"),
            "nat": pd.NaT,
            "inf": math.inf,
            "b": np.bool_(True),
            "arr": np.array([1, 2]),
        }
    )
    assert val == {
        "t": "2011-06-01T00:00:00",
        "p": "2011Q3",
        "nat": None,
        "inf": None,
        "b": True,
        "arr": [1, 2],
    }
