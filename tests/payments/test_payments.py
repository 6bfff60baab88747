"""Payments by results: hand-worked examples against the published maximum tariff.

Expected values are worked by hand from domain.md section 1 (WPC13 Table 3 maxima and the
per-4-week fees derived from them); the working is in each comment.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest

from wpeval.data import programme
from wpeval.exceptions import DataContractError, ParameterError, StatisticalWarning
from wpeval.payments import default_tariff_dict, load_tariff, payments


def _ref(rows):
    """Build referral rows from dicts with sensible defaults."""
    base = {
        "cpa": "CPA01",
        "prime": "Ingeus",
        "attached": True,
        "job_outcome_date": None,
        "sustainment_payments": 0,
        "referral_date": "2011-07-01",
    }
    df = pd.DataFrame([{**base, **r} for r in rows])
    df["person_id"] = df.get("person_id", pd.Series(range(1, len(df) + 1)))
    for c in ("referral_date", "job_outcome_date"):
        df[c] = pd.to_datetime(df[c])
    if "attachment_date" in df:
        df["attachment_date"] = pd.to_datetime(df["attachment_date"])
    return df


def _pay(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        return payments(df, **kw)


# Year-1 maximum per participant, each group at its cap (hand-worked):
#   JSA 18-24:        400 + 1,200 + 13 x 170 = 400 + 1,200 + 2,210 = 3,810  (published 3,810)
#   JSA 25+:          400 + 1,200 + 13 x 215 = 400 + 1,200 + 2,795 = 4,395  (published 4,395)
#   JSA early access: 400 + 1,200 + 20 x 250 = 400 + 1,200 + 5,000 = 6,600  (published 6,600)
#   JSA ex-IB:        400 + 1,200 + 20 x 250 = 6,600                         (published 6,600)
#   ESA volunteers:   400 + 1,000 + 20 x 115 = 400 + 1,000 + 2,300 = 3,700  (published 3,700)
#   ESA ex-IB:        600 + 3,500 + 26 x 370 = 600 + 3,500 + 9,620 = 13,720 (published 13,720)
MAXIMA = {
    "jsa_18_24": (13, 3810.0),
    "jsa_25_plus": (13, 4395.0),
    "jsa_early_access": (20, 6600.0),
    "jsa_ex_ib": (20, 6600.0),
    "esa_volunteers": (20, 3700.0),
    "esa_ex_ib": (26, 13720.0),
}


@pytest.mark.parametrize("group", sorted(MAXIMA))
def test_year1_maximum_per_group(group):
    cap, total = MAXIMA[group]
    df = _ref(
        [{"payment_group": group, "job_outcome_date": "2012-01-10", "sustainment_payments": cap}]
    )
    res = _pay(df)
    row = res.referrals.iloc[0]
    assert row["total_paid"] == pytest.approx(total)
    assert row["sustainment_count"] == cap
    assert not row["sustainment_capped"]


def test_esa_ex_ib_parts_and_placeholder_flag():
    # ESA ex-IB uses the U attachment (600) and U job-outcome fee (3,500): flagged
    df = _ref(
        [
            {
                "payment_group": "esa_ex_ib",
                "job_outcome_date": "2012-01-10",
                "sustainment_payments": 26,
            }
        ]
    )
    with pytest.warns(StatisticalWarning, match="esa_ex_ib:job_outcome"):
        res = payments(df)
    row = res.referrals.iloc[0]
    assert (row["attachment_paid"], row["job_outcome_paid"], row["sustainment_paid"]) == (
        600.0,
        3500.0,
        9620.0,
    )
    assert row["placeholder"]
    assert row["placeholder_paid"] == pytest.approx(600 + 3500)  # 9,620 is D, not U


def _known_tariff():
    """Default tariff with made-up but fully specified (status V) values for groups 6, 8, 9."""
    t = copy.deepcopy(default_tariff_dict())
    spec = {
        "esa_new": (500, 1100, 90, 10),
        "ib_is": (300, 900, 80, 20),
        "jsa_prison_leavers": (450, 1300, 200, 15),
    }
    for g, (a, jo, fee, cap) in spec.items():
        t["groups"][g].update(
            {
                "attachment": {"value": a, "status": "V"},
                "job_outcome": {"value": jo, "status": "V"},
                "sustainment_fee": {"value": fee, "status": "V"},
                "sustainment_cap": {"value": cap, "status": "V"},
            }
        )
    return t


# With the known test tariff (hand-worked):
#   new ESA:        500 + 1,100 + 10 x 90 = 2,500
#   IB/IS:          300 +   900 + 20 x 80 = 2,800
#   prison leavers: 450 + 1,300 + 15 x 200 = 4,750
@pytest.mark.parametrize(
    "group,cap,total",
    [("esa_new", 10, 2500.0), ("ib_is", 20, 2800.0), ("jsa_prison_leavers", 15, 4750.0)],
)
def test_unknown_groups_with_a_known_tariff(group, cap, total):
    df = _ref(
        [
            {
                "payment_group": group,
                "job_outcome_date": "2012-01-10",
                "sustainment_payments": cap + 5,
            }
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", StatisticalWarning)  # no placeholders in year 1
        res = payments(df, tariff=_known_tariff())
    row = res.referrals.iloc[0]
    assert row["total_paid"] == pytest.approx(total)
    assert row["sustainment_count"] == cap and row["sustainment_capped"]
    assert not row["placeholder"]


@pytest.mark.parametrize("group", ["esa_new", "ib_is", "jsa_prison_leavers"])
def test_unknown_groups_are_placeholders_by_default(group):
    df = _ref(
        [{"payment_group": group, "job_outcome_date": "2012-01-10", "sustainment_payments": 3}]
    )
    with pytest.warns(StatisticalWarning, match="unconfirmed"):
        res = payments(df)
    row = res.referrals.iloc[0]
    assert row["placeholder"]
    assert row["placeholder_paid"] == pytest.approx(row["total_paid"])
    assert set(res.placeholders["item"]) == {"attachment", "job_outcome", "sustainment"}


def test_cap_is_applied_and_counted():
    # JSA 25+ with 20 recorded sustainment payments: cap 13 -> 400 + 1,200 + 13 x 215 = 4,395;
    # 7 payments removed; a second row under the cap is untouched (400 + 1,200 + 5 x 215 = 2,675)
    df = _ref(
        [
            {
                "payment_group": "jsa_25_plus",
                "job_outcome_date": "2012-01-10",
                "sustainment_payments": 20,
            },
            {
                "payment_group": "jsa_25_plus",
                "job_outcome_date": "2012-01-10",
                "sustainment_payments": 5,
            },
        ]
    )
    res = _pay(df)
    assert list(res.referrals["total_paid"]) == [4395.0, 2675.0]
    checks = res.checks.set_index("check")["rows"]
    assert checks["sustainment_capped"] == 1
    assert checks["sustainment_payments_removed_by_cap"] == 7


def test_phase_down_same_person_year2_year3_year4():
    # One person referred three times (attachment only, JSA 25+, fee 400):
    #   2012-07-01 = contract year 2 -> 400 x 2/3 = 266.67
    #   2013-05-01 = contract year 3 -> 400 x 1/3 = 133.33
    #   2014-07-01 = contract year 4 -> 0 (no attachment fees from April 2014)
    df = _ref(
        [
            {"person_id": 7, "payment_group": "jsa_25_plus", "referral_date": d}
            for d in ("2012-07-01", "2013-05-01", "2014-07-01")
        ]
    )
    res = _pay(df)
    r = res.referrals
    assert list(r["contract_year"]) == [2, 3, 4]
    assert list(r["attachment_paid"]) == [266.67, 133.33, 0.0]
    assert list(r["placeholder"]) == [True, True, False]  # years 2-3 shares are U


def test_attachment_after_april_2014_not_paid_even_in_year3():
    # referred March 2014 (year 3) but attached 10 April 2014 -> no fee; counted
    df = _ref(
        [
            {
                "payment_group": "jsa_18_24",
                "referral_date": "2014-03-20",
                "attachment_date": "2014-04-10",
            },
            {
                "payment_group": "jsa_18_24",
                "referral_date": "2014-03-20",
                "attachment_date": "2014-03-31",
            },
        ]
    )
    res = _pay(df)
    assert list(res.referrals["attachment_paid"]) == [0.0, 133.33]  # 400 x 1/3
    assert res.checks.set_index("check").loc["attachment_fee_stopped", "rows"] == 1


def test_contract_years():
    t = load_tariff()
    dates = pd.to_datetime(
        ["2011-06-01", "2012-03-31", "2012-04-01", "2013-04-01", "2014-04-01", "2017-03-31"]
    )
    assert list(t.contract_year(dates)) == [1, 1, 2, 3, 4, 6]


def test_discount_per_contract():
    # 6% discount on CPA09/A4e, JSA 25+ at the cap:
    #   attachment 400 x 0.94 = 376; outcome 1,200 x 0.94 = 1,128;
    #   fee 215 x 0.94 = 202.10, x 13 = 2,627.30; total 4,131.30 (= 4,395 x 0.94)
    df = _ref(
        [
            {
                "payment_group": "jsa_25_plus",
                "cpa": "CPA09",
                "prime": p,
                "job_outcome_date": "2012-01-10",
                "sustainment_payments": 13,
            }
            for p in ("A4e", "Maximus")
        ]
    )
    res = _pay(df, discounts={("CPA09", "A4e"): 0.06})
    assert list(res.referrals["total_paid"]) == pytest.approx([4131.30, 4395.0])
    by = res.by("cpa", "prime")
    assert by.loc[("CPA09", "A4e"), "attachment_paid"] == pytest.approx(376.0)
    assert by.loc[("CPA09", "A4e"), "sustainment_paid"] == pytest.approx(2627.30)


def test_payment_dates_schedule_and_until():
    # outcome 2012-01-10; sustainment k at +28k days: first 2012-02-07, 13th at +364 days
    df = _ref(
        [
            {
                "payment_group": "jsa_25_plus",
                "job_outcome_date": "2012-01-10",
                "sustainment_payments": 13,
                "attachment_date": "2011-07-15",
            }
        ]
    )
    res = _pay(df)
    r = res.referrals.iloc[0]
    assert r["sustainment_first_date"] == pd.Timestamp("2012-02-07")
    assert r["sustainment_last_date"] == pd.Timestamp("2013-01-08")
    sch = res.schedule()
    assert list(sch["kind"].value_counts().sort_index()) == [1, 1, 13]
    assert sch["amount"].sum() == pytest.approx(4395.0)
    assert sch.iloc[0]["date"] == pd.Timestamp("2011-07-15")
    # until 2012-04-20 = outcome + 101 days -> floor(101 / 28) = 3 sustainment payments:
    # 400 + 1,200 + 3 x 215 = 2,245
    t = res.by(until="2012-04-20").iloc[0]
    assert t["sustainment_payments"] == 3
    assert t["total_paid"] == pytest.approx(2245.0)
    # until before the outcome: attachment only
    assert res.by(until="2011-12-31").iloc[0]["total_paid"] == pytest.approx(400.0)


def test_by_totals_and_per_outcome():
    # CPA01/Ingeus: JSA 18-24 max (3,810) + JSA 25+ attachment only (400) -> 4,210, 1 outcome
    # CPA01/Seetec: ESA volunteers outcome + 2 payments: 400 + 1,000 + 2 x 115 = 1,630
    df = _ref(
        [
            {
                "payment_group": "jsa_18_24",
                "job_outcome_date": "2012-01-10",
                "sustainment_payments": 13,
            },
            {"payment_group": "jsa_25_plus"},
            {
                "payment_group": "esa_volunteers",
                "prime": "Seetec",
                "job_outcome_date": "2012-02-01",
                "sustainment_payments": 2,
            },
        ]
    )
    by = _pay(df).by("cpa", "prime")
    assert by.loc[("CPA01", "Ingeus"), "total_paid"] == pytest.approx(4210.0)
    assert by.loc[("CPA01", "Ingeus"), "paid_per_job_outcome"] == pytest.approx(4210.0)
    assert by.loc[("CPA01", "Seetec"), "total_paid"] == pytest.approx(1630.0)
    assert by["referrals"].tolist() == [2, 1]
    assert by["referrals"].dtype.kind == "i"


def test_sustainment_without_outcome_zeroed_and_counted():
    df = _ref([{"payment_group": "jsa_25_plus", "sustainment_payments": 4}])
    res = _pay(df)
    assert res.referrals.iloc[0]["sustainment_paid"] == 0.0
    assert res.checks.set_index("check").loc["sustainment_without_job_outcome", "rows"] == 1


def test_categorical_columns_and_imputed_attachment_date():
    df = _ref([{"payment_group": "jsa_25_plus"}, {"payment_group": "jsa_18_24"}])
    for c in ("cpa", "prime", "payment_group"):
        df[c] = df[c].astype("category")
    res = _pay(df)
    assert res.referrals["attachment_paid"].sum() == 800.0
    assert res.checks.set_index("check").loc["attachment_date_imputed", "rows"] == 2


def test_bad_input():
    good = _ref([{"payment_group": "jsa_25_plus"}])
    with pytest.raises(DataContractError, match="not in the tariff"):
        _pay(good.assign(payment_group="jsa_50_plus"))
    with pytest.raises(DataContractError, match="non_negative"):
        _pay(good.assign(sustainment_payments=-1))
    with pytest.raises(DataContractError, match="required_column"):
        _pay(good.drop(columns="attached"))
    with pytest.raises(DataContractError, match="datetime"):
        _pay(good.assign(referral_date="2011-07-01"))
    bad = default_tariff_dict()
    bad["groups"]["jsa_25_plus"]["attachment"]["status"] = "maybe"
    with pytest.raises(ParameterError, match="status"):
        load_tariff(bad)
    with pytest.raises(ParameterError, match="fraction below 1"):
        load_tariff(discounts={("CPA01", "Ingeus"): 1.5})


def test_default_tariff_consistent_with_programme_and_published_totals():
    prog = programme.load()
    t = load_tariff()
    assert list(t.groups) == list(prog.payment_groups)
    for code, g in prog.payment_groups.items():
        assert t.groups[code]["jo_trigger_weeks"][0] == g.jo_trigger_weeks
        assert t.groups[code]["sustainment_cap"][0] == g.sustainment_cap
    # published (V) maxima equal the sum of their parts (the D fees were derived from them)
    for code, spec in t.groups.items():
        total, status = spec["max_total"]
        parts = (
            spec["attachment"][0]
            + spec["job_outcome"][0]
            + spec["sustainment_fee"][0] * spec["sustainment_cap"][0]
        )
        assert parts == pytest.approx(total), code
    # MPL groups are exactly those flagged mpl in programme.yaml (groups 1, 2, 6)
    assert t.mpl_groups == [c for c, g in prog.payment_groups.items() if g.mpl]
    tab = t.table()
    assert tab.loc[
        tab.payment_group.isin(["esa_new", "ib_is", "jsa_prison_leavers"]), "placeholder"
    ].all()
    assert np.isclose(t.value("jsa_25_plus", "attachment", 2)[0], 400 * 2 / 3)
