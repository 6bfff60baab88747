"""Real-world file trouble: every messy fixture is read, checked and accounted for.

The fixtures in tests/fixtures/messy/ are written by tests/fixtures/make_messy.py, which also
writes what each file must give (manifest.json: data lines, rows in / kept, drops per rule,
recodes per rule, or the error) from what it injected, and the clean values of the base rows
(truth.json). Nothing here compares wpeval with itself.
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from wpeval.data.io import read_referrals
from wpeval.data.schema import validate
from wpeval.exceptions import DataContractError, StatisticalWarning

MESSY = Path(__file__).resolve().parents[1] / "fixtures" / "messy"
MANIFEST = json.loads((MESSY / "manifest.json").read_text())
TRUTH = {r["person_id"]: r for r in json.loads((MESSY / "truth.json").read_text())}
READABLE = sorted(k for k, v in MANIFEST.items() if v["error"] is None)
BROKEN = sorted(k for k, v in MANIFEST.items() if v["error"] is not None)


def _data_lines(path: Path) -> int:
    """Data records of a CSV counted with the csv module (header excluded, blank lines not
    records): an independent count of what the file holds."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        recs = [r for r in csv.reader(fh) if r]
    return len(recs) - 1


def _read_and_check(path: Path, strict: bool = False):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = read_referrals(path)
        rep = validate(df, strict=strict)
    stray = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if not issubclass(w.category, StatisticalWarning)
    ]
    assert not stray, stray
    return df, rep


def test_every_fixture_is_in_the_manifest():
    files = {p.name for p in MESSY.iterdir()} - {"manifest.json", "truth.json"}
    assert files == set(MANIFEST)


@pytest.mark.parametrize("name", READABLE)
def test_nothing_lost(name):
    """Every row read is kept or counted with its reason, and rows_in is what the file holds."""
    exp = MANIFEST[name]
    path = MESSY / name
    if path.suffix == ".csv":
        assert _data_lines(path) == exp["data_lines"]
        n_file = exp["data_lines"]
    else:
        n_file = pq.ParquetFile(path).metadata.num_rows
    _, rep = _read_and_check(path)
    rules = rep.rules
    assert rep.rows_in == n_file == exp["rows_in"]
    assert rep.rows_in == rep.rows_kept + int(rules["n_dropped"].sum())
    assert rep.rows_kept == exp["rows_kept"] == len(rep.data)
    dropped = rules[rules["n_dropped"] > 0].groupby("rule")["n_dropped"].sum().to_dict()
    assert dropped == exp["dropped"]
    recoded = (
        rules[(rules["action"] == "recoded") & (rules["n_failing"] > 0)]
        .groupby("rule")["n_failing"]
        .sum()
        .to_dict()
    )
    assert recoded == exp["recoded"]


@pytest.mark.parametrize("name", READABLE)
def test_values_read_correctly(name):
    """Kept rows carry the base rows' values: dates not swapped, thousands read, flags and
    codes right, whatever the layout."""
    _, rep = _read_and_check(MESSY / name)
    data = rep.data
    gone = set(MANIFEST[name].get("dropped_person_ids", []))
    ids = [int(x) for x in data["person_id"]]
    assert sorted(ids) == sorted(set(TRUTH) - gone) or (
        len(ids) == MANIFEST[name]["rows_kept"] and set(ids) <= set(TRUTH) - gone
    )
    for rec in data.to_dict("records"):
        want = TRUTH[int(rec["person_id"])]
        for c in (
            "referral_date",
            "attachment_date",
            "job_start_date",
            "job_outcome_date",
            "job_end_date",
            "exit_date",
            "data_end_date",
        ):
            got = None if pd.isna(rec[c]) else f"{rec[c]:%Y-%m-%d}"
            assert got == want[c], (name, rec["person_id"], c, got, want[c])
        for c in ("cpa", "district", "prime", "payment_group", "sex", "assessed_stream"):
            assert str(rec[c]) == want[c], (name, c, rec[c], want[c])
        for c in ("sustainment_payments", "age", "benefit_duration_days"):
            assert int(rec[c]) == want[c], (name, c, rec[c], want[c])
        assert bool(rec["attached"]) == want["attached"]
        assert bool(rec["disability"]) == want["disability"]
        assert rec["allocation_prob"] == pytest.approx(want["allocation_prob"], rel=1e-12)


@pytest.mark.parametrize("name", BROKEN)
def test_broken_files_give_a_clear_error(name):
    exp = MANIFEST[name]["error"]
    path = MESSY / name
    if exp["stage"] == "read":
        with pytest.raises(DataContractError) as info:
            read_referrals(path)
    else:
        df = read_referrals(path)
        with pytest.raises(DataContractError) as info:
            validate(df, strict=False)
    err = info.value
    assert err.rule == exp["rule"], str(err)
    assert len(str(err)) > 30
    if exp["stage"] == "read":
        assert name in str(err)


def test_clear_error_messages_say_what_to_do():
    with pytest.raises(DataContractError, match="not UTF-8.*re-save it as UTF-8"):
        read_referrals(MESSY / "cp1252.csv")
    with pytest.raises(DataContractError, match="no commas but has ';'"):
        read_referrals(MESSY / "semicolon.csv")
    with pytest.raises(DataContractError, match="line 6"):
        read_referrals(MESSY / "ragged.csv")
    with pytest.raises(DataContractError, match="only 2 repeated header line"):
        validate(read_referrals(MESSY / "only_headers.csv"))


def test_messy_file_strict_names_the_first_rule_and_keeps_the_report():
    df = read_referrals(MESSY / "messy_all.csv")
    with pytest.raises(DataContractError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        validate(df, strict=True)
    err = info.value
    assert err.rule == "null_required" and err.column == "prime"
    rep = err.report
    assert rep.rows_in == MANIFEST["messy_all.csv"]["rows_in"]
    bad = rep.rules[rep.rules["action"] == "error"].groupby("rule")["n_failing"].sum()
    want = {k: v for k, v in MANIFEST["messy_all.csv"]["dropped"].items() if k != "repeated_header"}
    assert {k: int(v) for k, v in bad[bad > 0].items()} == want


def test_header_copies_found_in_a_frame_too():
    """A frame read by other means (pandas.read_csv) still has its header copies counted."""
    df = pd.read_csv(MESSY / "repeated_header.csv", dtype=str, keep_default_na=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        rep = validate(df.replace("", None), strict=True)
    r = rep.rules.set_index("rule")
    assert r.loc["repeated_header", "n_dropped"] == 2
    assert rep.rows_in == 50 and rep.rows_kept == 48


def test_read_attrs_ignored_for_a_subset():
    """The reader's count of header copies belongs to the whole file, not to a subset."""
    df = read_referrals(MESSY / "repeated_header.csv")
    assert df.attrs["wpeval_read"]["repeated_header"] == 2
    sub = df.iloc[:10]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        rep = validate(sub)
    assert rep.rows_in == 10 and rep.rows_kept == 10
