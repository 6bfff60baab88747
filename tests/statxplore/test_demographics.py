"""Demographic breakdowns (age band, gender, disability): hand-counted tables, label mapping of
published files, and reconciliation by gender and by age band."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.data.io import read_referrals
from wpeval.exceptions import DataContractError, ParameterError
from wpeval.statxplore import (
    NoiseModel,
    demo_responses,
    load_lookup,
    monthly_tables,
    parse_response,
    programme_from_data,
    read_work_programme,
    reconcile,
    scale_cells,
    to_response,
    work_programme,
)
from wpeval.statxplore.demographics import demographics_from_config

SAMPLE = Path(__file__).resolve().parents[2] / "data_synthetic" / "sample_10k.parquet"


@pytest.fixture(scope="module")
def lookup():
    return load_lookup()


def _people():
    """Seven referrals in June 2012 and one in July, counted by hand below."""
    return pd.DataFrame(
        {
            "referral_date": pd.to_datetime(
                ["2012-06-0%d" % i for i in range(1, 8)] + ["2012-07-02"]
            ),
            "age": [18, 24, 25, 44, 45, 70, np.nan, 34.9],
            "sex": ["F", "M", "M", None, "F", "M", "F", "F"],
            "disability": [True, False, None, False, True, True, False, False],
            "payment_group": ["jsa_25_plus"] * 8,
        }
    )


def test_hand_counted_breakdowns_with_unknowns(lookup):
    t = monthly_tables(_people(), tables=["referrals"], by=("age_band",))
    june = t[t["month"] == pd.Period("2012-06", "M")]
    assert dict(zip(june["age_band"], june["value"])) == {
        "Under 25": 2.0,  # 18, 24
        "25-34": 1.0,  # 25
        "35-44": 1.0,  # 44
        "45-54": 1.0,  # 45
        "55 and over": 1.0,  # 70
        "Unknown": 1.0,  # missing age: counted, not dropped
    }
    july = t[t["month"] == pd.Period("2012-07", "M")]
    assert july[["age_band", "value"]].values.tolist() == [["25-34", 1.0]]  # 34.9 -> 34
    assert t.attrs["statxplore_tables"]["unknown_age_band"] == 1
    g = monthly_tables(_people(), tables=["referrals"], by=("gender", "disability"))
    got = g.groupby(["gender", "disability"])["value"].sum().to_dict()  # both months
    # June+July: F&Disabled: rows 1,5; F&Not: 7,8; M&Not: 2; M&Unknown: 3; M&Dis: 6; ?&Not: 4
    assert got == {
        ("Female", "Disabled"): 2.0,
        ("Female", "Not disabled"): 2.0,
        ("Male", "Not disabled"): 1.0,
        ("Male", "Unknown"): 1.0,
        ("Male", "Disabled"): 1.0,
        ("Unknown", "Not disabled"): 1.0,
    }
    assert sum(got.values()) == len(_people())
    notes = g.attrs["statxplore_tables"]
    assert notes["unknown_gender"] == 1 and notes["unknown_disability"] == 1


def test_ages_outside_the_bands_and_bad_values():
    demo = demographics_from_config(
        {
            "age_bands": [
                {"label": "18-24", "min": 18, "max": 24},
                {"label": "25-64", "min": 25, "max": 64},
            ]
        }
    )
    t = monthly_tables(_people(), tables=["referrals"], by=("age_band",), demographics=demo)
    assert t.groupby("age_band")["value"].sum().to_dict() == {
        "18-24": 2.0,
        "25-64": 4.0,
        "Unknown": 2.0,
    }
    assert t.attrs["statxplore_tables"]["age_outside_bands"] == 1  # 70
    assert t.attrs["statxplore_tables"]["unknown_age_band"] == 2  # 70 and missing
    bad = _people().assign(sex=["F", "X", "M", "M", "F", "M", "F", "F"])
    with pytest.raises(DataContractError, match=r"\['X'\]"):
        monthly_tables(bad, tables=["referrals"], by=("gender",))
    with pytest.raises(DataContractError, match="age"):
        monthly_tables(_people().drop(columns="age"), tables=["referrals"], by=("age_band",))
    with pytest.raises(ParameterError, match="overlap"):
        demographics_from_config(
            {"age_bands": [{"label": "a", "max": 30}, {"label": "b", "min": 30}]}
        )


def test_published_labels_map_to_the_kit_columns(lookup, tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text(
        "Month,Gender,Age Band,value\n"
        "June 2012, FEMALE ,Under 25,15\n"
        "June 2012,Male,55 and over,5\n"
        "June 2012,Unknown,unknown,5\n"
        "June 2012,Total,Total,25\n"
    )
    from wpeval.statxplore import read

    back = work_programme(read(path), lookup=lookup, database="WP_Referrals")
    assert back[["gender", "age_band", "value"]].values.tolist() == [
        ["Female", "Under 25", 15.0],
        ["Male", "55 and over", 5.0],
        ["Unknown", "Unknown", 5.0],
    ]
    assert "cpa" not in back  # no contract breakdown in this table
    path.write_text("Month,Gender,value\nJune 2012,Women,15\n")
    with pytest.raises(DataContractError, match=r"unknown gender label\(s\) \['Women'\]"):
        work_programme(read(path), lookup=lookup, database="WP_Referrals")
    # an alias in the lookup file maps it
    import yaml

    from wpeval.statxplore.lookup import resources

    raw = yaml.safe_load(
        resources.files("wpeval.config").joinpath("statxplore_contracts.yaml").read_text("utf-8")
    )
    raw["demographics"]["aliases"] = {"Women": "Female"}
    (tmp_path / "lk.yaml").write_text(yaml.safe_dump(raw))
    other = load_lookup(tmp_path / "lk.yaml")
    back = work_programme(read(path), lookup=other, database="WP_Referrals")
    assert back["gender"].tolist() == ["Female"]


def test_round_trip_by_month_and_gender(lookup):
    t = monthly_tables(_people(), tables=["referrals"], by=("gender",))
    doc = to_response(t, "WP_Referrals", lookup=lookup, breakdowns=("month", "gender"), totals=True)
    back = work_programme(parse_response(doc), lookup=lookup)
    assert len(back) == 2 * 3  # two months x Female, Male, Unknown (zeros included)
    got = back[back["value"] > 0]
    # June: F rows 1,5,7; M rows 2,3,6; unknown row 4. July: F row 8
    assert sorted(zip(got["month"].astype(str), got["gender"], got["value"])) == [
        ("2012-06", "Female", 3.0),
        ("2012-06", "Male", 3.0),
        ("2012-06", "Unknown", 1.0),
        ("2012-07", "Female", 1.0),
    ]


def _truth(column, labels, seed=3, months=24):
    """A month x category referrals table at national scale (thousands a cell)."""
    rng = np.random.default_rng(seed)
    idx = pd.MultiIndex.from_product(
        [pd.period_range("2012-01", periods=months, freq="M"), labels], names=["month", column]
    )
    frame = idx.to_frame(index=False)
    frame.insert(0, "table", "referrals")
    frame["value"] = rng.poisson(rng.uniform(500, 8000, len(frame))).astype(float)
    return frame


def _publish(truth, seed):
    return truth.assign(value=NoiseModel().apply(truth["value"].to_numpy(), seed).astype(float))


@pytest.mark.parametrize("column", ["gender", "age_band"])
def test_clean_extract_by_demographic_finds_nothing(lookup, column):
    truth = _truth(column, lookup.demographics.labels(column))
    res = reconcile(truth, _publish(truth, seed=11))
    assert res.n_disagreeing == 0 and len(res.cells) == len(truth)


def test_planted_discrepancy_in_one_age_band_month_is_found(lookup):
    truth = _truth("age_band", lookup.demographics.labels("age_band"), seed=4)
    cell = truth[truth["value"] >= 1000].iloc[7]  # 3% of >= 1000 is >= 30 referrals
    extract = scale_cells(truth, 1.03, month=cell["month"], where={"age_band": cell["age_band"]})
    dis = reconcile(extract, _publish(truth, seed=12)).disagreements()
    assert list(zip(dis["month"], dis["age_band"])) == [(cell["month"], cell["age_band"])]


def test_demo_files_by_gender_and_age_band(tmp_path):
    data = read_referrals(SAMPLE)
    lk = load_lookup(programme=programme_from_data(data))
    for column in ("gender", "age_band"):
        paths = demo_responses(
            data,
            tmp_path / column,
            lookup=lk,
            seed=7,
            breakdowns=("month", column),
            databases=["WP_Referrals", "WP_Job_Outcomes"],
        )
        published = read_work_programme(paths, lookup=lk)
        assert set(published[column]) == set(lk.demographics.labels(column))
        ours = monthly_tables(data, programme=lk.programme, by=(column,))
        assert reconcile(ours, published).n_disagreeing == 0
    # lose every referral aged 25-34 in the sample's busiest month for that band
    month = data["referral_date"].dt.to_period("M")
    in_band = data["age"].between(25, 34)
    busiest = month[in_band].value_counts().idxmax()
    assert (in_band & (month == busiest)).sum() >= 30
    broken = data[~(in_band & (month == busiest))]
    res = reconcile(monthly_tables(broken, programme=lk.programme, by=("age_band",)), published)
    ref = res.disagreements().query("table == 'referrals'")
    assert list(zip(ref["month"], ref["age_band"])) == [(busiest, "25-34")]


def test_tables_like_takes_the_published_breakdowns(lookup):
    from wpeval.statxplore import tables_like

    pub = work_programme(
        parse_response(
            to_response(
                monthly_tables(_people(), tables=["referrals"], by=("age_band",)),
                "WP_Referrals",
                lookup=lookup,
                breakdowns=("month", "age_band"),
            )
        ),
        lookup=lookup,
    )
    ours = tables_like(_people(), pub, lookup=lookup)
    assert list(ours.columns) == ["table", "month", "age_band", "value"]
    assert ours["value"].sum() == 8 and set(ours["table"]) == {"referrals"}
    assert reconcile(ours, pub, noise=NoiseModel(scale=0, base=1)).n_disagreeing == 0
