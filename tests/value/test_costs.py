"""wpeval.value.costs and wpeval.value.sensitivity on frames worked by hand.

Default tariff (DWP maxima, no discount), contract year 1 (referrals in July 2011):
JSA 25+ attachment 400, job outcome 1,200, sustainment 215 per 4 weeks, trigger 26 weeks;
JSA 18-24 attachment 400, job outcome 1,200, sustainment 170, trigger 26 weeks;
new ESA (all U placeholders) attachment 600, job outcome 1,200, sustainment 140, cap 20,
trigger 13 weeks.

The four referrals of :func:`frame`:
  1. JSA 25+,   A4e,     attached, outcome 2012-03-01, 3 sustainments: 400 + 1,200 + 3 x 215
     = 2,245; months verified (26 x 7 + 3 x 28) / 30.4375 = 266 / 30.4375 = 8.7392
  2. JSA 25+,   Maximus, attached, no outcome: 400
  3. JSA 18-24, A4e,     attached, outcome 2012-05-01, 13 sustainments: 400 + 1,200 + 13 x 170
     = 3,810; months (182 + 364) / 30.4375 = 17.9384
  4. JSA 18-24, Maximus, not attached, no outcome: 0
Total 6,455; 2 outcomes; per referral 1,613.75; per outcome 3,227.5; months 812 / 30.4375 =
26.6776; per month 6,455 / 26.6776 = 241.963.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from wpeval.exceptions import DataContractError, ParameterError
from wpeval.value.costs import CAVEAT, cost_figures, deadweight, load_baseline
from wpeval.value.icer import fieller
from wpeval.value.sensitivity import headlines, sensitivity


def frame(extra_esa: bool = False) -> pd.DataFrame:
    rows = [
        (1, "jsa_25_plus", "A4e", True, "2012-03-01", 3, 1.0),
        (2, "jsa_25_plus", "Maximus", True, None, 0, 0.0),
        (3, "jsa_18_24", "A4e", True, "2012-05-01", 13, 1.0),
        (4, "jsa_18_24", "Maximus", False, None, 0, 0.0),
    ]
    if extra_esa:  # 600 + 1,200 + 2 x 140 = 2,080, all from U tariff values
        rows.append((5, "esa_new", "A4e", True, "2011-12-01", 2, 1.0))
    df = pd.DataFrame(
        rows,
        columns=[
            "person_id",
            "payment_group",
            "prime",
            "attached",
            "job_outcome_date",
            "sustainment_payments",
            "jo",
        ],
    )
    df["referral_date"] = pd.Timestamp("2011-07-01")
    df["attachment_date"] = pd.to_datetime(np.where(df["attached"], "2011-07-10", None))
    df["job_outcome_date"] = pd.to_datetime(df["job_outcome_date"])
    df["cpa"] = "CPA09"
    df["data_end_date"] = pd.Timestamp("2014-12-31")
    return df


def test_cost_figures_total_by_hand():
    t = cost_figures(frame(), by=()).iloc[0]
    assert t["total_paid"] == pytest.approx(6455)
    assert t["referrals"] == 4 and t["job_outcomes"] == 2
    assert t["paid_per_referral"] == pytest.approx(1613.75)
    assert t["paid_per_job_outcome"] == pytest.approx(3227.5)
    assert t["months_in_work_verified"] == pytest.approx(812 / 30.4375)
    assert t["paid_per_month_in_work"] == pytest.approx(241.963131, rel=1e-6)
    assert t["job_outcome_rate"] == pytest.approx(0.5)
    assert t["placeholder_share"] == 0


def test_cost_figures_by_contract_and_group():
    by = cost_figures(frame(), by=("cpa", "prime"))
    a4e = by.loc[("CPA09", "A4e")]
    assert a4e["total_paid"] == pytest.approx(2245 + 3810)  # 6,055
    assert a4e["paid_per_job_outcome"] == pytest.approx(6055 / 2)
    assert a4e["months_in_work_verified"] == pytest.approx((266 + 546) / 30.4375)
    mx = by.loc[("CPA09", "Maximus")]
    assert mx["total_paid"] == pytest.approx(400) and math.isnan(mx["paid_per_job_outcome"])
    assert math.isnan(mx["paid_per_month_in_work"])
    grp = cost_figures(frame(), by=("payment_group", "contract_year"))
    assert grp.loc[("jsa_18_24", 1), "total_paid"] == pytest.approx(3810)
    assert grp.loc[("jsa_25_plus", 1), "sustainment_payments"] == 3


def test_cost_figures_until_cuts_later_payments():
    # by 2012-04-01: referral 1 has its outcome (1 March) and one sustainment (31 days ->
    # floor(31/28) = 1): 400 + 1,200 + 215; referral 3 only its attachment fee (outcome in
    # May); referral 2 400. Total 2,615, 1 outcome, months (182 + 28) / 30.4375.
    t = cost_figures(frame(), by=(), until="2012-04-01").iloc[0]
    assert t["total_paid"] == pytest.approx(2615)
    assert t["job_outcomes"] == 1
    assert t["months_in_work_verified"] == pytest.approx(210 / 30.4375)


def test_placeholder_share_by_hand():
    t = cost_figures(frame(extra_esa=True), by=()).iloc[0]
    assert t["total_paid"] == pytest.approx(6455 + 2080)
    assert t["placeholder_share"] == pytest.approx(2080 / 8535)


def test_deadweight_by_hand():
    # baseline 25% for everyone: additional outcomes = 2 - 4 x 0.25 = 1; R = 6,455 / 1.
    # d_i = y_i - 0.25 = (.75, -.25, .75, -.25); c - R d = (-2596.25, 2013.75, -1031.25,
    # 1613.75); sum of squares 14,463,368.75; Var(R) = 14,463,368.75 / (4 x 3) / 0.25^2
    # -> SE 4,391.41.
    # Fieller inputs: cbar 1,613.75, dbar 0.25, Var(cbar) = 9,299,368.75 / 3 / 4 =
    # 774,947.396, Var(dbar) = 1 / 3 / 4, Cov = 0.5 x 5,655 / 3 / 4 = 235.625.
    dw = deadweight(frame(), outcome="jo", overrides=0.25, by=("prime",))
    row = dw.tidy().set_index("term").loc["all"]
    assert row["estimate"] == pytest.approx(6455)
    assert row["std_error"] == pytest.approx(4391.411125, rel=1e-8)
    assert row["additional_outcomes"] == pytest.approx(1.0)
    assert row["baseline_status"] == "override"
    fi = fieller(1613.75, 0.25, 9299368.75 / 12, 1 / 12, 5655 / 24)
    assert row["interval_kind"] == fi.kind == "exclusive"
    assert row["conf_low"] == pytest.approx(fi.lower) and row["conf_high"] == pytest.approx(
        fi.upper
    )
    # A4e: 6,055 / (2 - 0.5) = 4,036.67; Maximus: 400 / (0 - 0.5) < 0: not above baseline
    a4e = dw.tidy().set_index("term").loc["A4e"]
    assert a4e["estimate"] == pytest.approx(6055 / 1.5)
    assert not dw.tidy().set_index("term").loc["Maximus", "above_baseline"]
    assert CAVEAT in dw.method["notes"] and "not a causal" in dw.method["estimator"]


def test_deadweight_default_baseline_statuses():
    # contract year 1, JSA groups: 5% (V); additional = 2 - 4 x 0.05 = 1.8 -> 6,455 / 1.8
    row = deadweight(frame(), outcome="jo", by=()).tidy().iloc[0]
    assert row["estimate"] == pytest.approx(6455 / 1.8)
    assert row["baseline_status"] == "V"
    # 24-month flags computed when absent: both outcomes within 24 months -> same numbers
    row24 = deadweight(frame(), by=()).tidy().iloc[0]
    assert row24["estimate"] == pytest.approx(6455 / 1.8)


def test_baseline_loading_and_overrides():
    b = load_baseline()
    assert b.rate("jsa_25_plus", 1) == (0.05, "V")
    assert b.rate("jsa_25_plus", 2) == (0.25, "D")
    assert b.rate("jsa_25_plus", 5) == (0.30, "U")  # after the last year: reused, U
    assert b.rate("esa_ex_ib", 1)[1] == "U"
    o = load_baseline(overrides={"esa_new": 0.2, (1, "jsa_18_24"): 0.1})
    assert o.rate("esa_new", 3) == (0.2, "override")
    assert o.rate("jsa_18_24", 1) == (0.1, "override") and o.rate("jsa_18_24", 2)[1] == "D"
    assert b.expectations["dwp_paid_outcome_share"] == (0.36, "V")
    with pytest.raises(ParameterError, match="not a rate"):
        load_baseline(overrides={"esa_new": 1.5})
    with pytest.raises(ParameterError, match="no rate"):
        b.rate("unknown_group", 1)


def test_deadweight_rejects_non_binary_outcome():
    df = frame().assign(jo=[2, 0, 1, 0])
    with pytest.raises(DataContractError, match="0/1"):
        deadweight(df, outcome="jo")


def test_sensitivity_by_hand():
    # central: baseline 25% -> 8,535 / (3 - 1.25) = 4,877.14 (with the new-ESA referral)
    # baseline x0.5 (12.5%): 8,535 / (3 - 0.625); x1.5 (37.5%): 8,535 / (3 - 1.875)
    # new-ESA job-outcome fee (U) x0.75 / x1.25: total 8,235 / 8,835 over 1.75
    # new-ESA cap (U) 20 x0.75 = 15 >= 2 payments made: no change
    s = sensitivity(frame(extra_esa=True), outcome="jo", overrides=0.25).set_index("parameter")
    assert s["base_result"].iloc[0] == pytest.approx(8535 / 1.75)
    allb = s.loc["baseline: all groups"]
    assert allb["result_low"] == pytest.approx(8535 / 2.375)
    assert allb["result_high"] == pytest.approx(8535 / 1.125)
    jo = s.loc["tariff esa_new: job_outcome"]
    assert (jo["result_low"], jo["result_high"]) == pytest.approx((8235 / 1.75, 8835 / 1.75))
    assert s.loc["tariff esa_new: sustainment_cap", "swing"] == pytest.approx(0)
    assert "tariff jsa_25_plus: job_outcome" not in s.index  # V values are not swept
    assert s["swing"].is_monotonic_decreasing


def test_sensitivity_marks_scenarios_below_baseline():
    # baseline 40%: x1.5 = 60% of 5 referrals = 3.0 expected outcomes = the 3 observed, so
    # no additional outcome and no ratio (NaN); x0.5 still gives one, so the swing is inf
    s = sensitivity(frame(extra_esa=True), outcome="jo", overrides=0.4).set_index("parameter")
    allb = s.loc["baseline: all groups"]
    assert math.isnan(allb["result_high"]) and allb["swing"] == math.inf


def test_headlines_carry_the_caveat():
    df = frame()
    lines = headlines(
        cost_figures(df, by=()),
        deadweight(df, outcome="jo", by=()),
        expectations=load_baseline().expectations,
    )
    assert lines[0].startswith("The programme paid £6,455 for 4 referrals")
    assert "£1,333 per referral" in " ".join(lines)  # 2.8bn / 2.1m (NAO forecast)
    assert any(CAVEAT in line for line in lines)


def test_cost_figures_with_a_duplicated_index_and_bad_group_column():
    df = frame().set_axis([0, 0, 1, 1])
    t = cost_figures(df, by=()).iloc[0]
    assert t["months_in_work_verified"] == pytest.approx(812 / 30.4375)
    by = cost_figures(df, by=("prime",))
    assert by.loc["A4e", "months_in_work_verified"] == pytest.approx(812 / 30.4375)
    with pytest.raises(ParameterError, match="cannot group by"):
        cost_figures(frame(), by=("nope",))


def test_publish_costs_suppresses_small_cells_unless_synthetic():
    from wpeval.publish.costs import publish_costs

    costs = cost_figures(frame(), by=("prime",))
    st = publish_costs(costs, title="t", synthetic=False)
    pub = st.published.set_index("prime")
    # 2 referrals and 2 / 0 job outcomes per prime: counts 0 < n < 10 are suppressed; the
    # Total row (4 referrals, 2 outcomes) too, amounts and unit costs follow their counts
    assert pd.isna(pub.loc["A4e", "referrals"]) and pd.isna(pub.loc["A4e", "total_paid"])
    assert pd.isna(pub.loc["Total", "paid_per_job_outcome"])
    assert st.values.set_index("prime").loc["Total", "total_paid"] == pytest.approx(6455)
    assert st.values.set_index("prime").loc["Total", "paid_per_job_outcome"] == pytest.approx(
        3227.5
    )
    open_ = publish_costs(costs, title="t", disclosure=False, synthetic=True)
    assert open_.published.set_index("prime").loc["A4e", "total_paid"] == pytest.approx(6055)
    with pytest.raises(ParameterError, match="synthetic"):
        publish_costs(costs, title="t", disclosure=False, synthetic=False)


def test_sensitivity_equals_recomputing_every_scenario():
    # referrals that share a payment cell are priced once per tariff scenario; every result
    # must equal deadweight on payments recomputed for all referrals (discounts included)
    from wpeval.payments import default_tariff_dict, payments
    from wpeval.value.sensitivity import _set, _u_parameters

    df = frame(extra_esa=True)
    df = pd.concat([df, df.assign(person_id=df["person_id"] + 10, prime="A4e")], ignore_index=True)
    tdict = default_tariff_dict()
    tdict["discounts"] = {"default": {"value": 0.05, "status": "V"}, "contracts": {}}
    s = sensitivity(df, outcome="jo", overrides=0.25, tariff=tdict).set_index("parameter")
    for label, path, value in _u_parameters(tdict, payments(df, tdict, warn=False)):
        for f, col in ((0.75, "result_low"), (1.25, "result_high")):
            v = float(max(0, round(value * f))) if path[-1] == "sustainment_cap" else value * f
            pay = payments(df, _set(tdict, path, v), warn=False)
            want = deadweight(df, outcome="jo", overrides=0.25, by=(), pay=pay).tidy()
            assert s.loc[label, col] == want["estimate"].iloc[0]
