"""The Stat-Xplore reader against genuine responses and the tables an independent client made.

The expected tables in tests/fixtures/statxplore/*.expected*.csv were produced by the House of
Commons Library's R client statxplorer (`extract_results()`) from the same two genuine
responses (see the README there); they are not wpeval output.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from wpeval.exceptions import DataContractError, ParameterError
from wpeval.statxplore import parse_response, read, read_csv

from .conftest import FIXTURES

THREE = FIXTURES / "uc_households_region_month_family.json"
TWO = FIXTURES / "uc_households_two_measures.json"


def _expected(name: str) -> pd.DataFrame:
    return pd.read_csv(FIXTURES / name, dtype=str, keep_default_na=False)


def _wide(frame: pd.DataFrame, measure: str) -> pd.DataFrame:
    """One measure's rows in the R client's layout: field columns, then the measure label."""
    fields = [c for c in frame.columns if c not in ("measure", "value", "is_total", "database")]
    sub = frame[frame["measure"] == measure]
    return sub[fields].assign(**{measure: sub["value"].to_numpy()}).reset_index(drop=True)


def _assert_same_table(got: pd.DataFrame, exp: pd.DataFrame) -> None:
    assert list(got.columns) == list(exp.columns)
    assert len(got) == len(exp)
    for col in exp.columns[:-1]:  # labels: identical strings, same order
        assert got[col].tolist() == exp[col].tolist(), col
    value = exp.columns[-1]
    np.testing.assert_array_equal(got[value].to_numpy(float), exp[value].astype(float).to_numpy())


def test_three_fields_one_measure_with_totals_cell_for_cell():
    frame = read(THREE)
    _assert_same_table(
        _wide(frame, "Households on Universal Credit"),
        _expected("uc_households_region_month_family.expected.csv"),
    )


@pytest.mark.parametrize(
    "measure, expected",
    [
        ("Households on Universal Credit", "uc_households_two_measures.expected_households.csv"),
        ("Mean of Payment Amount", "uc_households_two_measures.expected_mean_payment.csv"),
    ],
)
def test_two_fields_two_measures_cell_for_cell(measure, expected):
    _assert_same_table(_wide(read(TWO), measure), _expected(expected))


def test_totals_are_flagged_or_dropped_never_mixed():
    frame = read(THREE)
    # 10 region items (the last "Total") x 4 months x 6 family types (the last "Total"):
    # total rows = 1*4*6 + 10*4*1 - 1*4*1 = 60 (worked by hand from the field items)
    assert len(frame) == 240 and int(frame["is_total"].sum()) == 60
    assert set(frame.loc[frame["is_total"], "National - Regional - LA - OAs"]) | set(
        frame.loc[frame["is_total"], "Family Type"]
    ) >= {"Total"}
    dropped = read(THREE, totals="drop")
    assert len(dropped) == 180 and not dropped["is_total"].any()
    assert dropped.attrs["statxplore"]["n_total_rows_dropped"] == 60
    assert "Total" not in set(dropped["Family Type"])
    with pytest.raises(ParameterError, match="totals"):
        read(THREE, totals="sum")


def test_database_and_footnotes_are_kept():
    frame = read(THREE)
    meta = frame.attrs["statxplore"]
    doc = json.loads(THREE.read_text())
    assert set(frame["database"]) == {"UC_Households"}
    assert meta["database"]["uri"] == "str:database:UC_Households"
    assert meta["footnotes"] == doc["annotationMap"]
    assert meta["item_footnotes"]["Month"]["May 2018"] == ["r"]
    assert [f["uri"] for f in meta["fields"]] == [f["uri"] for f in doc["fields"]]
    assert read(TWO).attrs["statxplore"]["precision"] == {
        "Households on Universal Credit": 0,
        "Mean of Payment Amount": 2,
    }


def _doc():
    return json.loads(THREE.read_text())


def test_missing_cubes_is_refused():
    doc = _doc()
    del doc["cubes"]
    with pytest.raises(DataContractError, match="no 'cubes'"):
        parse_response(doc)


def test_values_not_matching_the_fields_are_refused():
    doc = _doc()
    doc["fields"][2]["items"] = doc["fields"][2]["items"][:-1]  # 5 family items, 6 values
    with pytest.raises(DataContractError, match=r"shape \[10, 4, 6\].*\[10, 4, 5\] items"):
        parse_response(doc)


def test_ragged_values_are_refused():
    doc = _doc()
    cube = doc["cubes"]["str:count:UC_Households:V_F_UC_HOUSEHOLDS"]
    cube["values"][3][1] = cube["values"][3][1][:-2]
    with pytest.raises(DataContractError, match="ragged"):
        parse_response(doc)


def test_measure_without_cube_and_non_object_are_refused(tmp_path):
    doc = copy.deepcopy(_doc())
    doc["measures"].append({"uri": "str:count:X:Y", "label": "Other"})
    with pytest.raises(DataContractError, match="has no cube"):
        parse_response(doc)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(DataContractError, match="JSON object"):
        read(bad)
    bad.write_text("{not json")
    with pytest.raises(DataContractError, match="not valid JSON"):
        read(bad)
    with pytest.raises(ParameterError, match="cannot tell the format"):
        read(tmp_path / "x.xlsx")


def test_tidy_csv(tmp_path):
    path = tmp_path / "tidy.csv"
    path.write_text(
        'Month,Payment Group,value\nJune 2011,JSA 25+,"1,205"\n'
        "June 2011,Total,1300\nJuly 2011,JSA 25+,\n"
    )
    frame = read_csv(path)
    assert list(frame.columns) == [
        "Month",
        "Payment Group",
        "measure",
        "value",
        "is_total",
        "database",
    ]
    assert frame["value"].tolist()[:2] == [1205.0, 1300.0] and np.isnan(frame["value"].iloc[2])
    assert frame["is_total"].tolist() == [False, True, False]
    assert len(read(path, totals="drop")) == 2
    path.write_text("Month,value\nJune 2011,lots\n")
    with pytest.raises(DataContractError, match="not numbers"):
        read_csv(path)
    path.write_text("Month,count\nJune 2011,3\n")
    with pytest.raises(DataContractError, match="'value' column"):
        read_csv(path)
