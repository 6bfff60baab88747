"""Design: periods, strata, allocation design and balance tests, covariate balance, plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from wpeval.data.balance import allocation_balance, covariate_balance  # noqa: E402
from wpeval.data.design import add_period, allocation_design, stratum_key  # noqa: E402
from wpeval.exceptions import DesignError, ParameterError  # noqa: E402
from wpeval.plots.checks import plot_allocation_balance, plot_covariate_balance  # noqa: E402


def test_add_period_labels():
    df = pd.DataFrame(
        {
            "referral_date": pd.to_datetime(
                ["2011-06-15", "2013-10-01", "2013-12-31", "2012-01-01", None]
            )
        }
    )
    q = add_period(df, "Q")["period"]
    assert q.tolist()[:4] == ["2011Q2", "2013Q4", "2013Q4", "2012Q1"] and pd.isna(q.iloc[4])
    assert add_period(df, "M")["period"].tolist()[:4] == [
        "2011-06",
        "2013-10",
        "2013-12",
        "2012-01",
    ]
    assert add_period(df, "H")["period"].tolist()[:4] == ["2011H1", "2013H2", "2013H2", "2012H1"]
    assert "period" not in df.columns  # input not modified
    with pytest.raises(ParameterError):
        add_period(df, "W")


def test_stratum_key(synthetic_referrals):
    key = stratum_key(synthetic_referrals)
    q = synthetic_referrals["referral_date"].dt.to_period("Q").astype(str)
    pairs = pd.DataFrame({"d": synthetic_referrals["district"].astype(str), "q": q})
    assert len(np.unique(key)) == len(pairs.drop_duplicates())
    # same stratum <-> same key
    joined = pairs.assign(k=key).drop_duplicates()
    assert len(joined) == len(pairs.drop_duplicates())


def test_allocation_design_recorded_probabilities(synthetic_programme):
    df = synthetic_programme.referrals
    des = allocation_design(df)
    sums = des.groupby(["district", "period", "payment_group"])
    assert np.allclose(sums["share"].sum(), 1.0)
    assert np.allclose(sums["allocation_prob"].sum(), 1.0)
    assert des.groupby(["district", "period", "payment_group"])["n"].sum().sum() == len(df)
    # recorded probabilities equal the generator's design table
    truth = synthetic_programme.design
    m = des.merge(
        truth, on=["district", "period", "payment_group", "prime"], suffixes=("", "_true")
    )
    assert len(m) == len(des)
    rec = m["prob_source"] == "recorded"
    assert rec.mean() > 0.5  # 20k rows: many thin strata
    assert np.allclose(m.loc[rec, "allocation_prob"], m.loc[rec, "allocation_prob_true"])
    # a residual probability is exact when only one prime of the stratum is unobserved
    n_missing = (
        (m["n"] == 0).groupby([m["district"], m["period"], m["payment_group"]]).transform("sum")
    )
    one = (m["prob_source"] == "residual") & (n_missing == 1)
    assert one.any()
    assert np.allclose(m.loc[one, "allocation_prob"], m.loc[one, "allocation_prob_true"])
    assert set(des["prob_source"]) <= {"recorded", "residual"}


def test_allocation_design_estimated_without_column(synthetic_referrals):
    des = allocation_design(synthetic_referrals.drop(columns=["allocation_prob"]))
    assert (des["prob_source"] == "estimated").all()
    assert np.allclose(des["allocation_prob"], des["share"])


def test_balance_hand_example():
    """One stratum, two primes with p = 0.5, observed 60 / 40.

    D = 60 - 50 = 10, V = n p (1 - p) = 100 * 0.25 = 25, statistic = D^2 / V = 4 on 1 df,
    p = P(chi2_1 > 4) = 2 * (1 - Phi(2)) = 0.0455. Pearson: 10^2/50 + 10^2/50 = 4 on 1 df.
    """
    df = pd.DataFrame(
        {
            "referral_date": pd.Timestamp("2012-01-10"),
            "cpa": "CPA01",
            "district": "CPA01-D01",
            "payment_group": "jsa_25_plus",
            "prime": ["Prime A"] * 60 + ["Prime B"] * 40,
            "allocation_prob": 0.5,
        }
    )
    res = allocation_balance(df)
    row = res.tests["CPA01"]
    assert row["statistic"] == pytest.approx(4.0)
    assert row["df"] == 1
    assert row["p_value"] == pytest.approx(2 * (1 - stats.norm.cdf(2.0)))
    assert row["pearson_stat"] == pytest.approx(4.0)
    con = res.contracts.set_index("prime")
    assert con.loc["Prime A", "diff"] == pytest.approx(0.10)
    assert con.loc["Prime A", "std_error"] == pytest.approx(0.05)  # sqrt(25) / 100
    # without allocation_prob: equal shares are tested, same numbers here
    res2 = allocation_balance(df.drop(columns="allocation_prob"))
    assert res2.tests["CPA01"]["statistic"] == pytest.approx(4.0)
    assert "equal shares" in res2.tests.method["design"]


def test_balance_large_sample_does_not_reject(large_programme):
    """Observed allocation vs the recorded probabilities on 300k referrals: the design test
    should not reject at 0.001 (overall), nor any CPA at 0.001/18 (Bonferroni)."""
    res = allocation_balance(large_programme.referrals)
    tab = res.tests.tidy().set_index("term")
    assert tab.loc["overall", "p_value"] > 0.001
    assert tab.drop("overall")["p_value"].min() > 0.001 / 18
    assert tab.loc["overall", "df"] == 40 - 18
    # with the generator's design table instead of the recorded column: same cells
    res_d = allocation_balance(large_programme.referrals, large_programme.design)
    assert res_d.tests["overall"]["statistic"] == pytest.approx(tab.loc["overall", "statistic"])


def test_balance_detects_misallocation(large_programme):
    df = large_programme.referrals.copy()
    in_cpa = np.flatnonzero((df["cpa"] == "CPA02").to_numpy())
    rng = np.random.default_rng(1)
    swap = rng.choice(in_cpa, size=int(0.08 * len(in_cpa)), replace=False)
    df.loc[swap, "prime"] = "Prime A"  # 8% of CPA02 moved to one prime, probabilities unchanged
    tab = allocation_balance(df).tests.tidy().set_index("term")
    assert tab.loc["CPA02", "p_value"] < 1e-6
    assert tab.loc["CPA01", "p_value"] > 1e-4


def test_balance_one_prime_cpa_is_a_design_error():
    df = pd.DataFrame(
        {
            "referral_date": pd.Timestamp("2012-01-10"),
            "cpa": "CPA01",
            "district": "CPA01-D01",
            "payment_group": "jsa_25_plus",
            "prime": ["Prime A"] * 5,
            "allocation_prob": 0.5,
        }
    )
    with pytest.raises(DesignError, match="one prime"):
        allocation_balance(df)


def test_covariate_balance_hand_example():
    """One CPA, primes X and Y, two blocks.

    Block A: X x = 1, 3; Y x = 5.   Block B: X x = 10; Y x = 20, 30.
    Raw means: X 14/3 = 4.667, Y 55/3 = 18.333. Variances (divisor n): X 44.667/3 = 14.889,
    Y 316.667/3 = 105.556; s = sqrt((14.889 + 105.556)/2) = sqrt(60.222) = 7.7603.
    smd_raw(X) = (4.667 - 18.333)/7.7603 = -1.7611.
    Block means A = 3, B = 20; deviations X: -2, 0, -10 (mean -4); Y: 2, 0, 10 (mean 4);
    smd_adjusted(X) = (-4 - 4)/7.7603 = -1.0309.
    """
    df = pd.DataFrame(
        {"cpa": "C", "prime": list("XXYXYY"), "blk": list("AAABBB"), "x": [1.0, 3, 5, 10, 20, 30]}
    )
    res = covariate_balance(df, ["x"], blocks=("blk",)).set_index("prime")
    assert res.loc["X", "smd_raw"] == pytest.approx(-1.7611, abs=1e-4)
    assert res.loc["X", "smd_adjusted"] == pytest.approx(-1.0309, abs=1e-4)
    assert res.loc["Y", "smd_adjusted"] == pytest.approx(1.0309, abs=1e-4)
    assert res.loc["X", "n_prime"] == 3 and res.loc["X", "n_rest"] == 3


def test_covariate_balance_randomised_data(large_programme):
    cov = ["age", "sex", "disability", "benefit_duration_days", "assessed_stream"]
    res = covariate_balance(large_programme.referrals, cov)
    assert {"sex=M", "assessed_stream=job_ready", "age"} <= set(res["covariate"])
    assert res["smd_adjusted"].abs().max() < 0.06
    assert len(res) == 40 * (3 + 2 + 3)  # 40 contracts x (3 numeric, 2 sex, 3 streams)


def test_plots_return_axes(synthetic_programme):
    import matplotlib.pyplot as plt

    df = synthetic_programme.referrals
    ax = plot_allocation_balance(allocation_balance(df))
    assert len(ax.get_yticklabels()) == 40
    ax2 = plot_covariate_balance(covariate_balance(df, ["age", "disability"]))
    assert ax2.get_xlabel().startswith("standardised")
    with pytest.raises(ParameterError):
        plot_covariate_balance(pd.DataFrame({"a": [1]}))
    plt.close("all")
