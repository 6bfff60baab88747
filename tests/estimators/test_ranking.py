"""Tests for wpeval.estimators.ranking (league tables) and wpeval.plots.ranking.

Where the expected numbers come from:
- closed forms worked by hand in the comments below (EB posterior, DerSimonian-Laird,
  block-adjusted contrasts and their covariance, funnel limits, rank sets with Holm);
- R metafor 3.8-1 (rma DL/REML + blup) and estimatr 1.0.0 (blocked difference in means):
  script tests/reference/ranking_reference.R, frozen values ranking_metafor.json,
  ranking_estimatr.json and data ranking_two_prime.csv beside it;
- scipy.stats.binom for exact tail probabilities of the funnel limits;
- simulation with known truth for rank-set coverage (200 replications, a few seconds).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from wpeval.estimators import ranking as rk
from wpeval.exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning

REF = Path(__file__).resolve().parents[1] / "reference"


def _sim(seed=0, n=6000, effects=None):
    """Three CPAs (2, 3, 2 primes), 3 districts each, referrals over 2 years; binary outcome."""
    rng = np.random.default_rng(seed)
    effects = effects or {
        "C1": {"A": 0.0, "B": 0.0},
        "C2": {"D": -0.02, "E": 0.0, "F": 0.02},
        "C3": {"G": 0.01, "H": -0.01},
    }
    frames = []
    pid = 0
    for cpa, prim in effects.items():
        names = list(prim)
        date = pd.Timestamp("2012-01-01") + pd.to_timedelta(rng.integers(0, 730, n), unit="D")
        district = np.array([f"{cpa}-D{d}" for d in rng.integers(0, 3, n)])
        prime = rng.choice(names, n)
        base = 0.25 + 0.05 * (np.char.endswith(district, "D1"))
        p = base + np.array([prim[x] for x in prime])
        frames.append(
            pd.DataFrame(
                {
                    "person_id": np.arange(pid, pid + n),
                    "cpa": cpa,
                    "district": district,
                    "referral_date": date,
                    "prime": prime,
                    "y": (rng.random(n) < p).astype(float),
                }
            )
        )
        pid += n
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------ contract effects
def _three_prime_stratum(stratum="S1"):
    # A: 1,0,1,1  B: 0,0,1  C: 0,1
    y = [1, 0, 1, 1, 0, 0, 1, 0, 1]
    prime = list("AAAABBBCC")
    return pd.DataFrame(
        {"cpa": "C", "district": stratum, "prime": prime, "y": y, "person_id": range(9)}
    )


def test_contract_effect_closed_form_three_primes():
    # One stratum, n_s = 9. Means: A 3/4, B 1/3, C 1/2; sample variances (ddof 1): A 1/4,
    # B 1/3, C 1/2; so u = var/n = 1/16, 1/9, 1/4.  Stratum mean 5/9; a = 4/9, 3/9, 2/9.
    # theta_A = 3/4 - 5/9 = 7/36;  theta_A = (5/9) m_A - (3/9) m_B - (2/9) m_C, so
    # Var = 25/81/16 + 9/81/9 + 4/81/4 = 25/1296 + 16/1296 + 16/1296 = 57/1296 = 19/432.
    # theta_B = -(4/9) m_A + (6/9) m_B - (2/9) m_C:
    # Cov(A, B) = (5/9)(-4/9)/16 + (-3/9)(6/9)/9 + (-2/9)(-2/9)/4 = (-20 - 32 + 16)/1296 = -1/36.
    # With reference="equal": theta_A = 3/4 - (3/4 + 1/3 + 1/2)/3 = 3/4 - 19/36 = 2/9,
    # Var = (2/3)^2/16 + (1/3)^2/9 + (1/3)^2/4 = 1/36 + 1/81 + 1/36 = (9 + 2)/162 = 11/162.
    df = _three_prime_stratum()
    res = rk.contract_effects(df, "y", blocks=("district",))
    a = res["C: A"]
    assert a["estimate"] == pytest.approx(7 / 36)
    assert a["std_error"] == pytest.approx(np.sqrt(19 / 432))
    cov = np.asarray(res.extra["covariance"]["C"]["matrix"])
    assert res.extra["covariance"]["C"]["primes"] == ["A", "B", "C"]
    assert cov[0, 1] == pytest.approx(-1 / 36)
    # effects weighted by the shares sum to zero within the stratum
    assert np.dot([4, 3, 2], res.tidy()["estimate"]) == pytest.approx(0, abs=1e-12)
    eq = rk.contract_effects(df, "y", blocks=("district",), reference="equal")
    assert eq["C: A"]["estimate"] == pytest.approx(2 / 9)
    assert eq["C: A"]["std_error"] == pytest.approx(np.sqrt(11 / 162))
    # two identical strata: same estimate, weights 1/2 each -> variance halves
    two = pd.concat([df, _three_prime_stratum("S2")], ignore_index=True)
    r2 = rk.contract_effects(two, "y", blocks=("district",))
    assert r2["C: A"]["estimate"] == pytest.approx(7 / 36)
    assert r2["C: A"]["std_error"] == pytest.approx(np.sqrt(19 / 864))
    assert r2["C: A"]["n_strata"] == 2


def test_contract_effects_match_estimatr_blocked_difference():
    ref = json.loads((REF / "ranking_estimatr.json").read_text())
    df = pd.read_csv(REF / "ranking_two_prime.csv").assign(cpa="C1")
    df = df.rename(columns={"stratum": "district"})
    for reference in ("stratum", "equal"):
        res = rk.contract_effects(df, "y", blocks=("district",), reference=reference)
        tab = res.tidy()
        V = np.asarray(res.extra["covariance"]["C1"]["matrix"])
        diff = tab["estimate"].iloc[0] - tab["estimate"].iloc[1]
        se = np.sqrt(V[0, 0] + V[1, 1] - 2 * V[0, 1])
        # the CPA reference cancels in A - B: the blocked difference in means
        assert diff == pytest.approx(ref["estimate"], rel=1e-10)
        assert se == pytest.approx(ref["std_error"], rel=1e-10)
    # equal reference, two primes: theta_A = (m_A - m_B) / 2 in every stratum
    assert tab["estimate"].iloc[0] == pytest.approx(ref["estimate"] / 2, rel=1e-10)
    assert tab["std_error"].iloc[0] == pytest.approx(ref["std_error"] / 2, rel=1e-10)
    assert tab["n"].sum() == ref["n"]


def test_period_derived_from_referral_date_and_categoricals():
    df = _sim(1)
    explicit = df.assign(period=df["referral_date"].dt.to_period("Q").astype(str))
    a = rk.contract_effects(df, "y").tidy()
    b = rk.contract_effects(explicit, "y").tidy()
    pd.testing.assert_frame_equal(a, b)
    cat = df.astype({"cpa": "category", "prime": "category", "district": "category"})
    c = rk.contract_effects(cat, "y").tidy()
    pd.testing.assert_frame_equal(a, c)


def test_missing_outcome_dropped_and_counted():
    df = _sim(2)
    df.loc[df.index[:500], "y"] = np.nan
    res = rk.contract_effects(df, "y")
    assert res.extra["n_dropped_missing_outcome"] == 500
    assert res.tidy()["n"].sum() == len(df) - 500


def test_bad_input_errors():
    df = _sim(3)
    with pytest.raises(DataContractError, match="district"):
        rk.league_table(df.drop(columns="district"), "y")
    with pytest.raises(DataContractError, match="nope"):
        rk.league_table(df, "nope")
    bad = df.copy()
    bad.loc[5, "prime"] = None
    with pytest.raises(DataContractError) as err:
        rk.contract_effects(bad, "y")
    assert err.value.examples == [5]
    with pytest.raises(ParameterError):
        rk.league_table(df, "y", alpha=1.5)
    with pytest.raises(ParameterError):
        rk.league_table(df, "y", rank_ci="guess")
    with pytest.raises(ParameterError):
        rk.contract_effects(df, "y", reference="median")
    # a CPA with one prime cannot be compared within
    solo = df[df["prime"] != "B"]
    with pytest.raises(DesignError, match="C1"), pytest.warns(StatisticalWarning):
        rk.contract_effects(solo, "y")
    const = df.assign(y=1.0)
    with pytest.raises(DesignError, match="zero"):
        rk.contract_effects(const, "y")


def test_singleton_cells_dropped_with_warning():
    df = _three_prime_stratum()
    extra = pd.DataFrame(
        {
            "cpa": "C",
            "district": "S2",
            "prime": ["A", "A", "B"],
            "y": [1, 0, 1],
            "person_id": [20, 21, 22],
        }
    )
    with pytest.warns(StatisticalWarning, match="dropped 1 referrals"):
        res = rk.contract_effects(pd.concat([df, extra]), "y", blocks=("district",))
    assert res.extra["n_dropped_singleton_cells"] == 1
    assert res.extra["n_dropped_single_prime_strata"] == 2
    assert res["C: A"]["estimate"] == pytest.approx(7 / 36)


# ------------------------------------------------------------------- empirical Bayes
def test_eb_known_tau2_and_mu_closed_form():
    # y = (0, 2, 6), se^2 = (1, 1, 4), tau^2 = 1, mu = 2: B = tau2/(tau2+v) = (1/2, 1/2, 1/5)
    # posterior mean = B y + (1-B) mu = (1, 2, 6/5 + 8/5 = 14/5); posterior var = B v =
    # (1/2, 1/2, 4/5).
    sh = rk.eb_shrink([0, 2, 6], [1, 1, 2], tau2=1.0, mu=2.0)
    np.testing.assert_allclose(sh.posterior_mean, [1, 2, 2.8])
    np.testing.assert_allclose(sh.posterior_sd**2, [0.5, 0.5, 0.8])


def test_eb_dersimonian_laird_closed_form():
    # w = 1/v = (1, 1, 1/4); ybar = (0 + 2 + 6/4) / (9/4) = 14/9.
    # Q = (14/9)^2 + (4/9)^2 + (1/4)(40/9)^2 = 196/81 + 16/81 + 400/81 = 612/81 = 68/9.
    # C = sum w - sum w^2 / sum w = 9/4 - (33/16)/(9/4) = 9/4 - 11/12 = 4/3.
    # tau^2 = (Q - (k-1)) / C = (68/9 - 2) * 3/4 = 25/6.
    # With tau^2 = 25/6: w* = 1/(v + 25/6) = (6/31, 6/31, 6/49);
    # mu = (2*6/31 + 6*6/49) / (12/31 + 6/49) = (1704/1519) / (774/1519) = 1704/774,
    # Var(mu) = 1519/774. For y3: B = (25/6)/(25/6 + 4) = 25/49,
    # posterior mean = (25/49) 6 + (24/49) mu, var = (25/49) 4 + (24/49)^2 Var(mu).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sh = rk.eb_shrink([0, 2, 6], [1, 1, 2], tau2_method="dl")
    assert sh.Q == pytest.approx(68 / 9)
    assert sh.tau2 == pytest.approx(25 / 6)
    mu = 1704 / 774
    assert sh.mu == pytest.approx(mu)
    assert sh.mu_se**2 == pytest.approx(1519 / 774)
    assert sh.posterior_mean[2] == pytest.approx(25 / 49 * 6 + 24 / 49 * mu)
    assert sh.posterior_sd[2] ** 2 == pytest.approx(100 / 49 + (24 / 49) ** 2 * 1519 / 774)


@pytest.mark.parametrize("case", ["bcg", "contracts"])
@pytest.mark.parametrize("method", ["DL", "REML"])
def test_eb_matches_metafor(case, method):
    ref = json.loads((REF / "ranking_metafor.json").read_text())[case]
    r = ref[method]
    sh = rk.eb_shrink(ref["yi"], np.sqrt(ref["vi"]), tau2_method=method.lower())
    assert sh.tau2 == pytest.approx(r["tau2"], rel=1e-7, abs=1e-14)
    assert sh.mu == pytest.approx(r["mu"], rel=1e-7, abs=1e-12)
    assert sh.mu_se == pytest.approx(r["se_mu"], rel=1e-7)
    assert sh.Q == pytest.approx(r["QE"], rel=1e-10)
    np.testing.assert_allclose(sh.posterior_mean, r["pred"], rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(sh.posterior_sd, r["se_pred"], rtol=1e-7)


def test_eb_zero_tau2_warns_and_shrinks_fully():
    # Q = 1.889 < k - 1 = 2 for y = (1, 2, 4), v = (1, 1, 4): DL tau^2 = 0
    with pytest.warns(StatisticalWarning, match="tau"):
        sh = rk.eb_shrink([1, 2, 4], [1, 1, 2], tau2_method="dl")
    assert sh.tau2 == 0
    np.testing.assert_allclose(sh.posterior_mean, sh.mu)
    with pytest.raises(ParameterError):
        rk.eb_shrink([1, 2], [1, 0])


# ------------------------------------------------------------------------- rank sets
def test_rank_sets_holm_hand_worked():
    # est = (0, 0.5, 3), se 0.2 each, independent: SE of a difference = 0.2*sqrt(2) = 0.2828.
    # Unit 1: t(3 vs 1) = 10.61, t(2 vs 1) = 1.768. Holm over 4 one-sided hypotheses:
    # 10.61 > z(1 - .05/4) = 2.241 -> "3 better than 1"; then 1.768 < z(1 - .05/3) = 2.128 stop.
    # N- = 1, N+ = 0 -> [2, 3]. Unit 2: t(3 vs 2) = 8.84 rejected, 1.768 not -> [2, 3].
    # Unit 3: both others significantly worse -> [1, 1].
    out = rk.rank_confidence_sets([0, 0.5, 3], [0.04] * 3, critical="holm")
    assert out["rank"].tolist() == [3, 2, 1]
    assert out["rank_low"].tolist() == [2, 2, 1]
    assert out["rank_high"].tolist() == [3, 3, 1]
    # lower is better flips the order
    low = rk.rank_confidence_sets([0, 0.5, 3], [0.04] * 3, critical="holm", higher_is_better=False)
    assert low["rank"].tolist() == [1, 2, 3]
    assert low["rank_low"].tolist() == [1, 1, 3] and low["rank_high"].tolist() == [2, 2, 3]


@pytest.mark.parametrize(
    "method,critical", [("mrsw", "holm"), ("mrsw", "maxt"), ("bootstrap", "maxt")]
)
def test_rank_sets_extremes(method, critical):
    est = np.array([5.0, 1.0, 3.0, -2.0, 10.0])
    sep = rk.rank_confidence_sets(est, np.full(5, 0.01), method=method, critical=critical, seed=1)
    assert sep["rank"].tolist() == [2, 4, 3, 5, 1]
    assert (sep["rank_low"] == sep["rank"]).all() and (sep["rank_high"] == sep["rank"]).all()
    same = rk.rank_confidence_sets(
        np.zeros(5), np.full(5, 100.0), method=method, critical=critical, seed=1
    )
    assert same["rank"].tolist() == [1] * 5
    if method == "mrsw":
        assert same["rank_low"].tolist() == [1] * 5 and same["rank_high"].tolist() == [5] * 5
    else:  # bootstrap: the quantiles of the rank of a unit among 5 exchangeable draws
        assert (same["rank_low"] <= 2).all() and (same["rank_high"] >= 4).all()


def test_rank_sets_within_groups_use_covariance():
    # two units that are exact mirror images (theta_2 = -theta_1, as for a 2-prime CPA with
    # equal shares): Var(theta_1 - theta_2) = 4 Var(theta_1), not 2 Var(theta_1).
    V = np.array([[1.0, -1.0], [-1.0, 1.0]])
    # Holm over the 2 one-sided hypotheses of one pair: first critical value z(1 - .05/2) = 1.96.
    est = np.array([2.9, -2.9])  # t = 5.8 / sqrt(4) = 2.9 > 1.96: separated
    out = rk.rank_confidence_sets(est, V, critical="holm")
    assert out["rank_low"].tolist() == [1, 2] and out["rank_high"].tolist() == [1, 2]
    # t = 3.8 / 2 = 1.9 < 1.96: not separated (treating them as independent would give
    # t = 3.8 / sqrt(2) = 2.69 and a spurious ordering)
    est = np.array([1.9, -1.9])
    out = rk.rank_confidence_sets(est, V, critical="holm")
    assert out["rank_low"].tolist() == [1, 1] and out["rank_high"].tolist() == [2, 2]
    g = rk.rank_confidence_sets(
        [1, 2, 3, 4], [1e-4] * 4, groups=["a", "b", "a", "b"], critical="holm"
    )
    assert g["rank"].tolist() == [2, 2, 1, 1] and g["n_ranked"].tolist() == [2] * 4


@pytest.mark.parametrize("theta", [[0.0, 0.0, 0.2, 0.25, 1.0], [0.0] * 6])
def test_rank_sets_coverage_simulation(theta):
    # Known truth with near-ties, and all units tied (true rank 1 for all: a set covers only
    # if none of the 2(p-1) one-sided tests rejects, so unadjusted pairwise tests at 5% would
    # undercover badly). MRSW marginal coverage must be >= 95%; with 200 replications the
    # binomial SD at 0.95 is 0.015, so we require >= 0.90 for every unit. Power check: the unit
    # at 1.0 (0.75 above the next, SE of a difference 0.21) is ranked first alone most times.
    rng = np.random.default_rng(11)
    theta = np.asarray(theta)
    p = len(theta)
    true_rank = 1 + (theta[None, :] > theta[:, None]).sum(axis=1)
    se = 0.15
    hits = {"holm": np.zeros(p), "maxt": np.zeros(p)}
    top = {"holm": 0, "maxt": 0}
    reps = 200
    for _ in range(reps):
        est = theta + rng.normal(0, se, p)
        for crit in hits:
            out = rk.rank_confidence_sets(
                est, np.full(p, se**2), critical=crit, draws=400, seed=rng
            )
            hits[crit] += (out["rank_low"] <= true_rank) & (true_rank <= out["rank_high"])
            top[crit] += int(out["rank_high"].iloc[-1] == 1)
    for crit, h in hits.items():
        assert (h / reps >= 0.90).all(), (crit, h / reps)
        if theta[-1] == 1.0:
            assert top[crit] / reps >= 0.7, (crit, top[crit] / reps)


# --------------------------------------------------------------------------- funnel
def test_funnel_limits_hand_worked():
    # n = 10, p0 = 0.5, 95%: q = 0.025. F(1) = 11/1024, F(2) = 56/1024 -> r = 2,
    # a = (56/1024 - 0.025) / (45/1024) = (56 - 25.6)/45 = 30.4/45; lower = (2 - 30.4/45)/10.
    # Upper: F(7) = 968/1024, F(8) = 1013/1024 >= 0.975 -> r' = 8,
    # a' = (1013 - 998.4)/45 = 14.6/45; upper = (8 + 1 - 14.6/45)/10 = 1 - lower (symmetric).
    lo, hi = rk.funnel_limits(0.5, 10, 0.95)
    assert float(lo) == pytest.approx((2 - 30.4 / 45) / 10)
    assert float(hi) == pytest.approx((9 - 14.6 / 45) / 10)
    assert float(lo) + float(hi) == pytest.approx(1.0)


@pytest.mark.parametrize("p0", [0.05, 0.3, 0.62])
@pytest.mark.parametrize("level", [0.95, 0.998])
def test_funnel_limits_against_binomial_quantiles(p0, level):
    n = np.arange(1, 400)
    q = (1 - level) / 2
    lo, hi = rk.funnel_limits(p0, n, level)
    r = stats.binom.ppf(q, n, p0)
    r2 = stats.binom.ppf(1 - q, n, p0)
    # interpolation stays between consecutive attainable proportions around the quantile
    assert np.all(lo <= r / n + 1e-12) and np.all(lo >= np.maximum(r - 1, 0) / n - 1e-12)
    assert np.all(hi >= r2 / n - 1e-12) and np.all(hi <= (r2 + 1) / n + 1e-12)
    # exact tail probabilities never exceed the nominal q
    p_below = stats.binom.cdf(np.ceil(lo * n - 1e-9) - 1, n, p0)  # P(Y < n lo)
    p_above = stats.binom.sf(np.floor(hi * n + 1e-9), n, p0)  # P(Y > n hi)
    assert np.all(p_below <= q + 1e-12) and np.all(p_above <= q + 1e-12)
    # and approach the normal limits for large n
    big = 100_000
    lo_b, hi_b = rk.funnel_limits(p0, big, level)
    z = stats.norm.isf(q) * np.sqrt(p0 * (1 - p0) / big)
    assert float(lo_b) == pytest.approx(p0 - z, abs=2e-4)
    assert float(hi_b) == pytest.approx(p0 + z, abs=2e-4)


def test_funnel_data_flags_hand_worked():
    # National target 20/40 = 0.5. A: 0/10. The 99.8% lower limit at n=10: q = .001,
    # F(0) = 1/1024 < .001 <= F(1) = 11/1024 -> r = 1, a = (11 - 1.024)/10 = 0.9976,
    # limit = 0.00024 > 0 -> "low_alarm".  C: 15/20 = 0.75. 95% upper at n=20:
    # P(Y >= 15) = 21700/2^20 = .0207 -> F(14) = .9793 >= .975 > F(13) = .9423, r' = 14,
    # a' = (F(14) - .975)/f(14) = .004305/.036964 = .1165, upper = (15 - .1165)/20 = .7442
    # < 0.75 -> outside. 99.8%: P(Y >= 17) = 1351/2^20 = .0013 -> r' = 17, upper > 0.85:
    # inside -> "high_alert".  B: 5/10 inside.
    rows = [("A", 10, 0), ("B", 10, 5), ("C", 20, 15)]
    df = pd.DataFrame(
        [
            {"cpa": "X", "prime": p, "y": float(i < e), "person_id": 0}
            for p, n, e in rows
            for i in range(n)
        ]
    )
    res = rk.funnel_data(df, "y", target="national").tidy()
    assert res["target"].tolist() == [0.5] * 3
    assert res["flag"].tolist() == ["low_alarm", "", "high_alert"]
    assert res.loc[2, "upper_95"] == pytest.approx(0.7442, abs=1e-4)
    assert res.loc[0, "lower_998"] == pytest.approx(0.00024, abs=1e-6)
    with pytest.raises(DataContractError, match="0/1"):
        rk.funnel_data(df.assign(y=df["y"] * 2), "y")


def test_funnel_cpa_target():
    df = _sim(4)
    res = rk.funnel_data(df, "y").tidy()
    for cpa, sub in df.groupby("cpa"):
        assert np.allclose(res.loc[res["cpa"] == cpa, "target"], sub["y"].mean())
    assert (res["lower_95"] < res["target"]).all() and (res["upper_998"] > res["upper_95"]).all()


# --------------------------------------------------------------------- league table
def test_league_table_separated_effects_and_columns():
    eff = {"C1": {"A": -0.1, "B": 0.1}, "C2": {"D": -0.15, "E": 0.0, "F": 0.15}}
    df = _sim(5, n=8000, effects=eff)
    res = rk.league_table(df, "y", seed=3)
    tab = res.tidy()
    for col in (
        "cpa",
        "prime",
        "raw_effect",
        "shrunk_effect",
        "posterior_sd",
        "rank",
        "rank_low",
        "rank_high",
        "n",
        "rank_national_low",
        "rank_national_high",
    ):
        assert col in tab.columns
    assert tab.set_index("prime")["rank"].to_dict() == {"A": 2, "B": 1, "D": 3, "E": 2, "F": 1}
    assert (tab["rank_low"] == tab["rank"]).all() and (tab["rank_high"] == tab["rank"]).all()
    assert (tab["rank_national_low"] <= tab["rank_national"]).all()
    assert (tab["rank_national"] <= tab["rank_national_high"]).all()
    assert "confidence set" in res.method["notes"] and "REML" in res.method["estimator"]
    json.dumps(res.to_dict())
    # shrinkage pulls towards mu and never past it
    d_raw = (tab["raw_effect"] - res.extra["mu"]).abs()
    d_shr = (tab["shrunk_effect"] - res.extra["mu"]).abs()
    assert (d_shr <= d_raw + 1e-15).all()


def test_league_table_invariant_to_row_order():
    df = _sim(6)
    a = rk.league_table(df, "y", seed=9).tidy()
    b = rk.league_table(df.sample(frac=1, random_state=1), "y", seed=9).tidy()
    pd.testing.assert_frame_equal(a, b, rtol=1e-10)


def test_league_table_null_effects_give_wide_rank_sets():
    df = _sim(7, effects={"C1": {"A": 0.0, "B": 0.0, "C": 0.0}, "C2": {"D": 0.0, "E": 0.0}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        res = rk.league_table(df, "y", seed=2, rank_ci="bootstrap", shrinkage=None)
    tab = res.tidy()
    assert "approximate" in res.method["estimator"]
    assert tab["shrunk_effect"].isna().all()
    assert ((tab["rank_high"] - tab["rank_low"]) >= 1).mean() >= 0.6


# ---------------------------------------------------------------------------- plots
def test_plots_return_axes():
    from wpeval.plots.ranking import plot_funnel, plot_league

    df = _sim(8)
    res = rk.league_table(df, "y", seed=1)
    ax = plot_league(res)
    assert len(ax.get_yticklabels()) == len(res.tidy())
    ax = plot_league(res, cpa="C2", national=True)
    assert len(ax.get_yticklabels()) == 3
    fun = rk.funnel_data(df, "y")
    assert plot_funnel(fun).get_xlabel().startswith("referrals")
    assert plot_funnel(rk.funnel_data(df, "y", target="national")).get_ylabel() == "outcome rate"
    with pytest.raises(ParameterError):
        plot_league(res, cpa="nowhere")
