"""Payment-group differences: interaction test (reference, power, size), rates, creaming."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.estimators.heterogeneity import creaming_and_parking, group_differences, group_rates
from wpeval.exceptions import DesignError, ParameterError, StatisticalWarning

REF = Path(__file__).resolve().parents[1] / "reference"


def make_blocked(
    rng,
    *,
    n_cell=40,
    districts=3,
    periods=2,
    groups=("jsa_18_24", "jsa_25_plus"),
    primes=("A", "B"),
    base=(0.30, 0.20),
    effect=(0.0, 0.0),
    cpa="CPA01",
):
    """Blocked random allocation: in every district x period x group cell exactly n_cell /
    len(primes) referrals go to each prime (random order); binary outcome with success
    probability base[g] + effect[g] * 1[prime == primes[1]] + a district shift."""
    parts = []
    for d in range(districts):
        for t in range(periods):
            for gi, g in enumerate(groups):
                prime = rng.permutation(np.resize(np.array(primes), n_cell))
                p = base[gi] + effect[gi] * (prime == primes[1]) + 0.04 * d
                parts.append(
                    pd.DataFrame(
                        {
                            "cpa": cpa,
                            "district": f"{cpa}-D{d}",
                            "period": f"2012Q{t + 1}",
                            "payment_group": g,
                            "prime": prime,
                            "y": (rng.random(n_cell) < p).astype(float),
                        }
                    )
                )
    return pd.concat(parts, ignore_index=True)


def test_matches_r_estimatr_hc2_reference():
    """Three primes, three groups: estimates, HC2 SEs and the Wald test equal R's
    estimatr::lm_robust with explicit cell dummies (tests/reference/heterogeneity_hc2.R)."""
    ref = json.loads((REF / "heterogeneity_hc2.json").read_text())
    df = pd.read_csv(REF / "heterogeneity_hc2_data.csv")
    res = group_differences(df, "y")
    eff = res.prime_effects.tidy().set_index("term").loc[ref["terms"]]
    np.testing.assert_allclose(eff["estimate"], ref["estimate"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(eff["std_error"], ref["std_error"], rtol=1e-9)
    row = res.interaction["CPA17"]
    assert row["statistic"] == pytest.approx(ref["wald"], rel=1e-9)
    assert row["df"] == ref["df"]
    assert row["p_value"] == pytest.approx(ref["p_value"], rel=1e-8)
    assert row["n"] == ref["n"]
    assert res.interaction.method["se_type"] == "HC2"


def test_detects_planted_interaction():
    rng = np.random.default_rng(20110601)
    df = make_blocked(rng, n_cell=200, effect=(0.15, 0.0))
    res = group_differences(df, "y")
    assert res.interaction["CPA01"]["p_value"] < 0.001
    eff = res.prime_effects.tidy().set_index("group")
    # planted: +0.15 in jsa_18_24, 0 in jsa_25_plus; each SE is about 0.03
    assert abs(eff.loc["jsa_18_24", "estimate"] - 0.15) < 3 * eff.loc["jsa_18_24", "std_error"]
    assert abs(eff.loc["jsa_25_plus", "estimate"]) < 3 * eff.loc["jsa_25_plus", "std_error"]


def test_size_under_null():
    """200 null replications (common prime effect 0.05 in both groups): the 5% test rejects
    in 2%-9% of them (binomial 95% range around 5% for 200 draws is about 2%-8%)."""
    rng = np.random.default_rng(7)
    rejections = 0
    for _ in range(200):
        df = make_blocked(rng, n_cell=30, effect=(0.05, 0.05))
        rejections += group_differences(df, "y").interaction["CPA01"]["p_value"] < 0.05
    assert 0.02 <= rejections / 200 <= 0.09


def test_several_cpas_and_multiplicity():
    rng = np.random.default_rng(11)
    df = pd.concat(
        [
            make_blocked(
                rng, cpa=f"CPA0{i}", n_cell=60, effect=(0.2, 0.0) if i == 1 else (0.0, 0.0)
            )
            for i in (1, 2, 3)
        ],
        ignore_index=True,
    )
    res = group_differences(df, "y", adjust="holm")
    t = res.interaction.tidy().set_index("term")
    p = t["p_value"].to_numpy()
    # Holm by hand: sorted p_(i) x (m - i + 1), running maximum, capped at 1
    order = np.argsort(p)
    adj = np.minimum(1, np.maximum.accumulate(p[order] * (3 - np.arange(3))))
    expected = np.empty(3)
    expected[order] = adj
    np.testing.assert_allclose(t["p_adjusted"].to_numpy(), expected)
    bh = group_differences(df, "y", adjust="bh").interaction.tidy()["p_adjusted"].to_numpy()
    # BH by hand: p_(i) x m / i, running minimum from the top
    ranked = p[order] * 3 / np.arange(1, 4)
    bh_exp = np.empty(3)
    bh_exp[order] = np.minimum(1, np.minimum.accumulate(ranked[::-1])[::-1])
    np.testing.assert_allclose(bh, bh_exp)


def test_single_prime_cells_dropped_and_counted():
    rng = np.random.default_rng(3)
    df = make_blocked(rng, n_cell=40)
    extra = pd.DataFrame(
        {
            "cpa": "CPA01",
            "district": "CPA01-D9",
            "period": "2012Q1",
            "payment_group": "jsa_18_24",
            "prime": "A",
            "y": [1.0, 0.0, 1.0],
        }
    )
    with pytest.warns(StatisticalWarning, match="3 rows"):
        res = group_differences(pd.concat([df, extra], ignore_index=True), "y")
    chk = res.checks.set_index("cpa").loc["CPA01"]
    assert chk["rows_dropped"] == 3 and chk["cells_dropped"] == 1 and chk["tested"]


def test_design_errors_and_parameters():
    rng = np.random.default_rng(5)
    one_group = make_blocked(rng, groups=("jsa_18_24",), base=(0.3,))
    with pytest.raises(DesignError, match="interaction"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)
            group_differences(one_group, "y")
    df = make_blocked(rng)
    with pytest.raises(ParameterError):
        group_differences(df, "y", adjust="sidak-ish")
    with pytest.raises(ParameterError):
        group_differences(df, "y", alpha=1.5)


def test_group_rates_wilson_by_hand():
    # 30 successes of 100: Wilson 95% interval, z = 1.959964, z^2 = 3.841459:
    # centre = (0.3 + z^2/200) / (1 + z^2/100) = 0.3192073 / 1.0384146 = 0.307399
    # half = z sqrt(0.21/100 + z^2/40000) / 1.0384146
    #      = 1.959964 x sqrt(0.00219604) / 1.0384146 = 1.959964 x 0.0468619 / 1.0384146
    #      = 0.088450  -> [0.21895, 0.39585]
    df = pd.DataFrame({"payment_group": ["g"] * 100, "y": [1.0] * 30 + [0.0] * 70})
    r = group_rates(df, "y")["g"]
    assert r["estimate"] == pytest.approx(0.3)
    assert r["conf_low"] == pytest.approx(0.21895, abs=1e-5)
    assert r["conf_high"] == pytest.approx(0.39585, abs=1e-5)
    assert r["std_error"] == pytest.approx(np.sqrt(0.21 / 100))


def test_period_derived_from_referral_date():
    rng = np.random.default_rng(9)
    df = make_blocked(rng, periods=1).drop(columns="period")
    df["referral_date"] = pd.Timestamp("2012-02-01")
    res = group_differences(df, "y")
    assert "quarter" in res.interaction.method["notes"]


def test_creaming_and_parking_by_hand():
    d = pd.DataFrame(
        {
            "person_id": range(1, 7),
            "assessed_stream": [
                "job_ready",
                "job_ready",
                "job_ready",
                "furthest_from_work",
                "furthest_from_work",
                "job_ready",
            ],
            "prime": ["A", "A", "A", "A", "A", "B"],
            "job_outcome_24m": [1.0, 0.0, np.nan, 0.0, 0.0, 1.0],
            "job_start_date": pd.to_datetime(
                ["2012-01-01", "2012-02-01", None, None, None, "2012-01-05"]
            ),
            "job_outcome_date": pd.to_datetime(
                ["2012-07-01", None, None, None, None, "2012-07-05"]
            ),
        }
    )
    paid = np.array([1600.0, 400.0, 400.0, 400.0, 0.0, 1600.0])
    t = creaming_and_parking(d, paid=paid).tidy().set_index("term")
    jr = t.loc["job_ready | A"]
    # A / job_ready: 3 referrals, outcome observed for 2 with 1 success -> 0.5;
    # job entry 2 of 3; paid (1600 + 400 + 400) / 3 = 800; per outcome 2400 / 1
    assert (jr["referrals"], jr["n"], jr["estimate"]) == (3, 2, 0.5)
    assert jr["job_entry_rate"] == pytest.approx(2 / 3)
    assert jr["paid_per_participant"] == pytest.approx(800.0)
    assert jr["paid_per_job_outcome"] == pytest.approx(2400.0)
    assert jr["share_of_prime"] == pytest.approx(3 / 5)
    ff = t.loc["furthest_from_work | A"]
    assert ff["estimate"] == 0.0 and ff["paid_per_participant"] == pytest.approx(200.0)
    assert np.isnan(ff["paid_per_job_outcome"])
    assert t.loc["job_ready | B", "share_of_prime"] == 1.0
