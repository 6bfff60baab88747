"""Mapping Work Programme Stat-Xplore tables to (table, month, cpa, prime, group, value).

Contract and prime names here are fictional and come from a programme file written by the test:
the lookup treats names as data.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from wpeval.data import programme as programme_mod
from wpeval.exceptions import DataContractError, ParameterError
from wpeval.statxplore import (
    load_lookup,
    monthly_tables,
    parse_months,
    parse_response,
    read,
    to_response,
    work_programme,
    write_lookup,
)

FICTIONAL = {
    "payment_groups": [
        {
            "code": "g_short",
            "number": 1,
            "label": "Group Short",
            "jo_trigger_weeks": 13,
            "sustainment_cap": 20,
        },
        {
            "code": "g_long",
            "number": 2,
            "label": "Group Long",
            "jo_trigger_weeks": 26,
            "sustainment_cap": 13,
        },
    ],
    "cpas": [
        {"code": "A1", "number": 1, "name": "Northshire", "primes": ["Prime Alpha", "Prime Beta"]},
        {"code": "B2", "number": 2, "name": "Southshire", "primes": ["Prime Gamma", "Prime Alpha"]},
    ],
}


@pytest.fixture()
def prog(tmp_path):
    path = tmp_path / "programme.yaml"
    path.write_text(yaml.safe_dump(FICTIONAL))
    return programme_mod.load(path)


@pytest.fixture()
def referrals():
    # 6 referrals worked by hand: months, contracts, groups and outcome dates
    d = pd.to_datetime
    return pd.DataFrame(
        {
            "person_id": [1, 2, 3, 4, 5, 6],
            "referral_date": d(
                ["2011-06-03", "2011-06-20", "2011-07-01", "2011-06-15", "2011-07-30", "2011-07-31"]
            ),
            "cpa": ["A1", "A1", "A1", "B2", "B2", "B2"],
            "prime": [
                "Prime Alpha",
                "Prime Alpha",
                "Prime Beta",
                "Prime Gamma",
                "Prime Alpha",
                "Prime Alpha",
            ],
            "payment_group": ["g_short", "g_short", "g_long", "g_long", "g_short", "g_short"],
            "attached": [True, True, False, True, True, True],
            "attachment_date": d(
                ["2011-06-10", None, None, "2011-07-02", "2011-08-01", "2011-08-02"]
            ),
            "job_outcome_date": d(["2012-01-02", None, None, "2012-02-10", None, "2012-01-20"]),
            "data_end_date": d(["2017-12-31"] * 6),
            "sustainment_payments": [13, 0, 0, 1, 0, 2],
        }
    )


def test_months_are_parsed_from_stat_xplore_labels():
    got = parse_months(pd.Series(["June 2011", "Jun 2011", "201106", "2011-06", "March 2017"]))
    assert [str(p) for p in got] == ["2011-06"] * 4 + ["2017-03"]
    with pytest.raises(DataContractError, match="month_label.*Junly 2011"):
        parse_months(pd.Series(["June 2011", "Junly 2011"]))


def test_lookup_labels_come_from_the_programme_file(prog):
    lookup = load_lookup(programme=prog)
    assert lookup.contracts["Northshire - Prime Alpha"] == ("A1", "Prime Alpha")
    assert lookup.contracts["CPA2 Southshire - Prime Alpha"] == ("B2", "Prime Alpha")
    assert lookup.contracts["B2 - Prime Gamma"] == ("B2", "Prime Gamma")
    assert lookup.groups["pg2"] == "g_long" and lookup.groups["group short"] == "g_short"


def test_explicit_entries_and_written_lookup(prog, tmp_path):
    path = write_lookup(tmp_path / "lookup.yaml", programme=prog)
    raw = yaml.safe_load(path.read_text())
    assert raw["contract_label_formats"] == [] and len(raw["contracts"]) == 4
    raw["contracts"].append(
        {"label": "Northshire (renamed) - Alpha", "cpa": "A1", "prime": "Prime Alpha"}
    )
    path.write_text(yaml.safe_dump(raw))
    lookup = load_lookup(path, programme=prog)
    assert lookup.contracts["Northshire (renamed) - Alpha"] == ("A1", "Prime Alpha")
    assert "B2 - Prime Gamma" not in lookup.contracts  # no formats any more
    raw["contracts"].append({"label": "X", "cpa": "A1", "prime": "Prime Gamma"})
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParameterError, match="not a contract of the programme"):
        load_lookup(path, programme=prog)


def test_monthly_tables_by_hand(referrals, prog):
    t = monthly_tables(referrals, programme=prog)
    get = {
        (r.table, str(r.month), r.cpa, r.prime, r.payment_group): r.value for r in t.itertuples()
    }
    assert get[("referrals", "2011-06", "A1", "Prime Alpha", "g_short")] == 2
    assert get[("referrals", "2011-07", "B2", "Prime Alpha", "g_short")] == 2
    assert t.loc[t["table"] == "referrals", "value"].sum() == 6
    # attachments: person 1 in June; 2 has no date -> its referral month (counted); 4 in July;
    # 5 and 6 in August
    assert get[("attachments", "2011-06", "A1", "Prime Alpha", "g_short")] == 2
    assert get[("attachments", "2011-08", "B2", "Prime Alpha", "g_short")] == 2
    assert t.attrs["statxplore_tables"]["attachments_dated_by_referral"] == 1
    jo = t[t["table"] == "job_outcomes"]
    # persons 1 (A1) and 6 (B2) in January (13-week group), person 4 in February (26 weeks)
    assert sorted(zip(jo["month"].astype(str), jo["cpa"], jo["jo_length_weeks"], jo["value"])) == [
        ("2012-01", "A1", 13, 1.0),
        ("2012-01", "B2", 13, 1.0),
        ("2012-02", "B2", 26, 1.0),
    ]
    # sustainments of person 1 (outcome 2012-01-02, 13 payments every 28 days): Jan 30, Feb 27,
    # Mar 26, Apr 23, May 21, Jun 18, Jul 16, Aug 13, Sep 10, Oct 8, Nov 5, Dec 3 and Dec 31
    # 2012 -> December has 2 payments but 1 individual.
    s = t[(t["table"] == "sustainments") & (t["cpa"] == "A1")].set_index("month")["value"]
    assert s.sum() == 13 and s[pd.Period("2012-12", "M")] == 2
    si = t[(t["table"] == "sustainment_individuals") & (t["cpa"] == "A1")]
    assert si.set_index("month")["value"][pd.Period("2012-12", "M")] == 1
    # person 4: 2012-02-10 + 28 = 2012-03-09; person 6: 2012-01-20 + 28, + 56 = Feb 17, Mar 16
    b2 = t[(t["table"] == "sustainments") & (t["cpa"] == "B2")]
    assert sorted(zip(b2["month"].astype(str), b2["prime"], b2["value"])) == [
        ("2012-02", "Prime Alpha", 1.0),
        ("2012-03", "Prime Alpha", 1.0),
        ("2012-03", "Prime Gamma", 1.0),
    ]


@pytest.mark.parametrize("totals", [False, True])
def test_round_trip_through_the_json_shape(referrals, prog, totals):
    lookup = load_lookup(programme=prog)
    tabs = monthly_tables(referrals, programme=prog)
    for db, bd in (
        ("WP_Referrals", ("month", "contract", "payment_group")),
        ("WP_Job_Outcomes", ("month", "contract", "payment_group", "jo_length_weeks")),
    ):
        spec = lookup.databases[db]
        t = tabs[tabs["table"] == spec["table"]].dropna(axis=1, how="all")
        doc = json.loads(
            json.dumps(to_response(t, db, lookup=lookup, breakdowns=bd, totals=totals))
        )
        frame = parse_response(doc)
        back = work_programme(frame, lookup=lookup)
        n_items = [len(f["items"]) for f in doc["fields"]]
        n_cat = [n - totals for n in n_items]
        assert back.attrs["statxplore"]["n_total_rows_dropped"] == (
            int(np.prod(n_items)) - int(np.prod(n_cat))
        )
        assert len(back) == int(np.prod(n_cat))  # every combination, zeros included
        nonzero = back[back["value"] > 0].reset_index(drop=True)
        keys = [c for c in t.columns if c != "value"]
        exp = t.sort_values(keys).reset_index(drop=True)
        got = nonzero.sort_values(keys).reset_index(drop=True)[exp.columns]
        pd.testing.assert_frame_equal(got, exp, check_dtype=False)


def test_unknown_contract_label_is_named(referrals, prog):
    lookup = load_lookup(programme=prog)
    t = monthly_tables(referrals, programme=prog, tables=["referrals"])
    doc = to_response(t, "WP_Referrals", lookup=lookup)
    doc["fields"][1]["items"][0]["labels"] = ["Eastshire - Prime Delta"]
    with pytest.raises(DataContractError, match="Eastshire - Prime Delta.*column: 'contract'"):
        work_programme(parse_response(doc), lookup=lookup)
    doc["fields"][1]["items"][0]["labels"] = ["Northshire - Prime Alpha"]
    doc["fields"][2]["items"][0]["labels"] = ["Group Medium"]
    with pytest.raises(DataContractError, match="Group Medium"):
        work_programme(parse_response(doc), lookup=lookup)


def test_fields_found_by_uri_code_in_any_case(referrals, prog):
    lookup = load_lookup(programme=prog)
    t = monthly_tables(referrals, programme=prog, tables=["referrals"])
    doc = to_response(t, "WP_Referrals", lookup=lookup)
    doc["fields"][1]["label"] = "CPA / contract (2011-17)"  # a label the lookup lacks
    doc["fields"][1]["uri"] = "str:field:WP_Referrals:V_F_WP_REFERRALS:contract_code"
    back = work_programme(parse_response(doc), lookup=lookup)
    assert set(back["cpa"]) == {"A1", "B2"} and back["value"].sum() == 6


def test_not_a_work_programme_database_and_several_measures(prog):
    lookup = load_lookup(programme=prog)
    from .conftest import FIXTURES

    with pytest.raises(ParameterError, match="not a Work Programme database: 'UC_Households'"):
        work_programme(read(FIXTURES / "uc_households_two_measures.json"), lookup=lookup)
    with pytest.raises(ParameterError, match="several measures"):
        work_programme(
            read(FIXTURES / "uc_households_two_measures.json"),
            lookup=lookup,
            database="WP_Referrals",
        )


def test_tidy_csv_with_named_columns(prog, tmp_path):
    path = tmp_path / "jo.csv"
    path.write_text(
        "Month,cpa,prime,Payment Group,value\n"
        "June 2012,A1,Prime Beta,PG2,15\n"
        "June 2012,A1,Prime Beta,Total,20\n"
        "July 2012,B2,Prime Gamma,Group Short,5\n"
    )
    back = work_programme(
        read(path), lookup=load_lookup(programme=prog), database="WP_Job_Outcomes"
    )
    assert back[["month", "cpa", "prime", "payment_group", "value"]].astype(
        str
    ).values.tolist() == [
        ["2012-06", "A1", "Prime Beta", "g_long", "15.0"],
        ["2012-07", "B2", "Prime Gamma", "g_short", "5.0"],
    ]
    assert set(back["table"]) == {"job_outcomes"}
    assert back.attrs["statxplore"]["n_total_rows_dropped"] == 1
