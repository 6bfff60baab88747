"""Blocked (within-stratum) Kaplan-Meier contrasts between primes: compare_primes_survival,
blocked_curves and the diagnosis registration.

Independent check: tests/reference/survival_blocked.R (R survival 3.5.3) runs survfit within
each stratum x prime of survival::lung (sex as two "primes", an artificial stratum column),
reads S(h), its Greenwood SE, rmean and se(rmean) at h = 180 and 365 days, and combines them
with the design weights by hand; survival_blocked.json holds the frozen values. Agreement
required: 1e-8 relative.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from wpeval.estimators.survival import kaplan_meier, rmst
from wpeval.estimators.survival._blocked_cells import _CellCurves
from wpeval.estimators.survival._blocked_randomisation import _PairPermutation
from wpeval.estimators.survival.blocked import (
    blocked_curves,
    blocked_km_arrays,
    compare_primes_survival,
)
from wpeval.exceptions import DataContractError, ParameterError, StatisticalWarning

REF = Path(__file__).resolve().parents[1] / "reference"
RTOL = 1e-8


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "survival_blocked.json").read_text())


@pytest.fixture(scope="module")
def lung():
    df = pd.read_csv(REF / "survival_blocked_lung.csv")
    df["cpa"] = "LUNG"
    return df.rename(columns={"id": "person_id"})


def _get(tab, quantity, h):
    r = tab[(tab["quantity"] == quantity) & (tab["horizon"] == h)]
    assert len(r) == 1
    return r.iloc[0]


# ------------------------------------------------------------------------------ (a) R
def test_matches_r_weighted_combination(lung, ref):
    res = compare_primes_survival(lung, "time", "event", blocks="stratum", horizons=(180, 365))
    tab = res.tidy()
    assert len(tab) == 4
    for r in ref["combined"]:
        row = _get(tab, r["quantity"], r["horizon"])
        np.testing.assert_allclose(row["estimate"], r["estimate"], rtol=RTOL)
        np.testing.assert_allclose(row["std_error"], r["std_error"], rtol=RTOL)
        assert row["n_strata_used"] == 3
        assert row["cpa"] == "LUNG" and row["prime_a"] == "A" and row["prime_b"] == "B"


def test_cells_match_r_survfit(lung, ref):
    """Within-stratum S(h), Greenwood SE, rmean and se(rmean) against R, cell by cell."""
    st = pd.factorize(lung["stratum"], sort=True)[0]
    pr = (lung["prime"] == "B").to_numpy().astype(int)
    cc = _CellCurves(lung["time"].to_numpy(float), lung["event"].to_numpy(float), st * 2 + pr, 6)
    for r in ref["cells"]:
        k = (int(r["stratum"][1]) - 1) * 2 + (r["prime"] == "B")
        q = cc.at(r["horizon"])
        np.testing.assert_allclose(q["surv"][k], r["surv"], rtol=RTOL)
        np.testing.assert_allclose(np.sqrt(q["var_surv"][k]), r["std_err"], rtol=RTOL)
        np.testing.assert_allclose(q["rmst"][k], r["rmean"], rtol=RTOL)
        np.testing.assert_allclose(np.sqrt(q["var_rmst"][k]), r["se_rmean"], rtol=1e-7)


def test_one_stratum_is_plain_km_difference(lung, ref):
    """One stratum: the plain KM difference with Greenwood variance (R and wpeval.kaplan_meier
    / wpeval.rmst with independent groups)."""
    one = lung.assign(stratum="all")
    tab = compare_primes_survival(one, "time", "event", blocks="stratum", horizons=(180, 365))
    tab = tab.tidy()
    for r in ref["one_stratum"]:
        row = _get(tab, r["quantity"], r["horizon"])
        np.testing.assert_allclose(row["estimate"], r["estimate"], rtol=RTOL)
        np.testing.assert_allclose(row["std_error"], r["std_error"], rtol=RTOL)
    km = kaplan_meier(one, "time", "event", group="prime").survival_at([180, 365])
    for h in (180, 365):
        a = km[(km["curve"] == "prime=A") & (km["time"] == h)].iloc[0]
        b = km[(km["curve"] == "prime=B") & (km["time"] == h)].iloc[0]
        row = _get(tab, "survival", h)
        np.testing.assert_allclose(row["estimate"], a["surv"] - b["surv"], rtol=1e-12)
        np.testing.assert_allclose(
            row["std_error"], np.hypot(a["std_err"], b["std_err"]), rtol=1e-12
        )
        rm = rmst(one, "time", "event", "prime", h, reference="prime=B")
        d = rm["prime=A - prime=B"]
        row = _get(tab, "rmst", h)
        np.testing.assert_allclose(row["estimate"], d["estimate"], rtol=1e-10)
        np.testing.assert_allclose(row["std_error"], d["std_error"], rtol=1e-8)


# ------------------------------------------------------------------------------ (b) by hand
def _tiny():
    rows = [
        # stratum s1: A (1,1) (2,1) (3,0) (4,0); B (1,0) (2,1) (5,0)
        ("s1", "A", 1, 1),
        ("s1", "A", 2, 1),
        ("s1", "A", 3, 0),
        ("s1", "A", 4, 0),
        ("s1", "B", 1, 0),
        ("s1", "B", 2, 1),
        ("s1", "B", 5, 0),
        # stratum s2: A (1,0) (3,1) (6,0) (7,0); B (2,1) (4,0)
        ("s2", "A", 1, 0),
        ("s2", "A", 3, 1),
        ("s2", "A", 6, 0),
        ("s2", "A", 7, 0),
        ("s2", "B", 2, 1),
        ("s2", "B", 4, 0),
    ]
    df = pd.DataFrame(rows, columns=["district", "prime", "t", "e"])
    df["cpa"] = "C1"
    df["period"] = "2012Q1"
    return df


def test_hand_worked_two_strata():
    tab = compare_primes_survival(_tiny(), "t", "e", horizons=[3], id_col=None).tidy()
    w1, w2 = 7 / 13, 6 / 13
    # S(3): s1 A 1/2 (Greenwood var 1/16), B 1/2 (1/8); s2 A 2/3 (2/27), B 1/2 (1/8)
    s = _get(tab, "survival", 3)
    assert s["estimate"] == pytest.approx(w2 * (2 / 3 - 1 / 2), rel=1e-12)
    v = w1**2 * (1 / 16 + 1 / 8) + w2**2 * (2 / 27 + 1 / 8)
    assert s["std_error"] == pytest.approx(np.sqrt(v), rel=1e-12)
    assert s["estimate_a"] == pytest.approx(w1 / 2 + w2 * 2 / 3, rel=1e-12)
    # RMST(3): s1 A 2.25 (var 1.25^2/12 + 0.5^2/6), B 2.5 (0.5^2/2); s2 A 3 (0), B 2.5 (0.125)
    r = _get(tab, "rmst", 3)
    assert r["estimate"] == pytest.approx(w1 * (2.25 - 2.5) + w2 * (3 - 2.5), rel=1e-12)
    v = w1**2 * (1.25**2 / 12 + 0.25 / 6 + 0.125) + w2**2 * 0.125
    assert r["std_error"] == pytest.approx(np.sqrt(v), rel=1e-12)
    z = stats.norm.ppf(0.975)
    assert r["conf_low"] == pytest.approx(r["estimate"] - z * r["std_error"], rel=1e-12)
    assert r["p_value"] == pytest.approx(
        2 * stats.norm.sf(abs(r["estimate"] / r["std_error"])), rel=1e-12
    )
    assert (tab["n_strata_used"] == 2).all() and (tab["n"] == 13).all()


def test_array_version_agrees():
    df = _tiny()
    res = blocked_km_arrays(
        df["t"].to_numpy(float),
        df["e"].to_numpy(float),
        pd.factorize(df["district"])[0],
        (df["prime"] == "A").to_numpy(),
        horizons=[3],
    )
    tab = compare_primes_survival(df, "t", "e", horizons=[3], id_col=None).tidy()
    for kind, q in (("surv", "survival"), ("rmst", "rmst")):
        assert res[(kind, 3.0)]["estimate"] == pytest.approx(_get(tab, q, 3)["estimate"])
        assert res[(kind, 3.0)]["std_error"] == pytest.approx(_get(tab, q, 3)["std_error"])


def test_strata_rules_dropped_and_counted():
    df = _tiny()
    extra = pd.DataFrame(
        {
            "district": ["s3", "s3", "s4", "s5", "s5", "s5", "s5"],
            "prime": ["A", "A", "A", "A", "B", "A", "B"],
            "t": [1, 2, 3, 1, 2, 1, 2],
            "e": [1, 0, 1, 1, 1, 0, 0],
        }
    ).assign(cpa="C1", period="2012Q1")
    df = pd.concat([df, extra], ignore_index=True)
    tab = compare_primes_survival(df, "t", "e", horizons=[3], id_col=None).tidy()
    # s3, s4 lack B; s5 has both with 2 each but nobody followed to 3 -> horizon drop
    assert (tab["n_dropped"] == 2).all()
    assert (tab["n_dropped_small"] == 0).all()
    assert (tab["n_dropped_horizon"] == 1).all()
    assert (tab["n_strata_used"] == 2).all()
    ref = compare_primes_survival(_tiny(), "t", "e", horizons=[3], id_col=None).tidy()
    np.testing.assert_allclose(tab["estimate"], ref["estimate"], rtol=1e-12)
    # one referral of B in a stratum: dropped as small with min_n=2
    one_b = pd.concat(
        [
            _tiny(),
            pd.DataFrame(
                {"district": ["s6"] * 3, "prime": ["A", "A", "B"], "t": [5, 6, 7], "e": [0, 0, 0]}
            ).assign(cpa="C1", period="2012Q1"),
        ],
        ignore_index=True,
    )
    with pytest.warns(StatisticalWarning, match="fewer than 2 referrals"):
        tab = compare_primes_survival(one_b, "t", "e", horizons=[3], id_col=None).tidy()
    assert (tab["n_dropped_small"] == 1).all()


def test_curve_extended_flat_is_counted():
    df = _tiny()
    # s2's B curve ends censored at 4 < horizon 6 while A is still followed: carried flat
    with pytest.warns(StatisticalWarning, match="carried flat"):
        tab = compare_primes_survival(df, "t", "e", horizons=[6], id_col=None).tidy()
    assert (tab["n_extended"] == 1).all()
    # s1: nobody of the pair followed to 6 (A ends at 4, B at 5): dropped for that horizon
    assert (tab["n_dropped_horizon"] == 1).all()
    s = _get(tab, "survival", 6)
    assert s["estimate"] == pytest.approx(2 / 3 - 1 / 2)  # s2 only, B carried at 1/2


def test_three_primes_pairs_and_holm():
    rng = np.random.default_rng(4)
    n = 900
    df = pd.DataFrame(
        {
            "cpa": rng.choice(["C1", "C2"], n),
            "district": rng.choice(["d1", "d2", "d3"], n),
            "period": rng.choice(["2012Q1", "2012Q2"], n),
            "prime": rng.choice(["P1", "P2", "P3"], n),
            "t": np.ceil(rng.exponential(300, n)),
        }
    )
    df["e"] = (df["t"] < 750).astype(int)
    df["t"] = np.minimum(df["t"], 750)
    res = compare_primes_survival(df, "t", "e")
    tab = res.tidy()
    assert len(tab) == 2 * 3 * 4
    assert res.method["estimator"].startswith("blocked Kaplan-Meier difference")
    for _cpa, sub in tab.groupby("cpa"):
        np.testing.assert_allclose(
            sub["p_adjusted_cpa"],
            np.minimum(
                1,
                np.maximum.accumulate(np.sort(sub["p_value"]) * (len(sub) - np.arange(len(sub))))[
                    np.argsort(np.argsort(sub["p_value"]))
                ],
            ),
        )
    assert tab["p_randomisation"].isna().all()
    assert len(res.extra["strata"]) == 6


# ------------------------------------------------------------------------------ (c) randomisation
def test_permutation_statistic_equals_estimate():
    rng = np.random.default_rng(11)
    n = 600
    df = pd.DataFrame(
        {
            "cpa": "C1",
            "district": rng.integers(0, 8, n),
            "period": 0,
            "prime": rng.choice(["A", "B"], n),
            "t": np.ceil(rng.exponential(200, n)),
            "e": rng.integers(0, 2, n),
        }
    )
    tab = compare_primes_survival(df, "t", "e", horizons=(100, 300), id_col=None).tidy()
    H = np.array([100.0, 300.0])
    st = df["district"].to_numpy()
    n_s = np.bincount(st)
    perm = _PairPermutation(
        df["t"].to_numpy(float),
        df["e"].to_numpy(float),
        st,
        (df["prime"] == "A").to_numpy(),
        H,
        np.vstack([n_s / n_s.sum()] * 2),
    )
    obs = perm.stats(perm.a_obs[None, :])[0]
    expect = [_get(tab, q, h)["estimate"] for q in ("survival", "rmst") for h in H]
    np.testing.assert_allclose(obs, expect, rtol=1e-10)
    # every draw keeps the number of A referrals in each stratum
    rs = np.random.default_rng(1)
    keys = perm.key_hi[None, :] | rs.integers(0, 1 << 40, size=(5, len(perm.t)))
    order = np.argsort(keys, axis=1)
    flag = (perm.pos < perm.m_a[perm.st]).astype(float)
    lab = np.empty((5, len(perm.t)))
    np.put_along_axis(lab, order, np.broadcast_to(flag, lab.shape), axis=1)
    for d in range(5):
        np.testing.assert_array_equal(np.bincount(perm.st, weights=lab[d]), perm.m_a)


def _null_data(rng, n_strata=12):
    sizes = rng.integers(8, 30, n_strata)
    st = np.repeat(np.arange(n_strata), sizes)
    prime = np.concatenate([rng.permutation(np.arange(s) % 2) for s in sizes])
    rate = np.exp(rng.normal(0, 0.5, n_strata))[st] / 200.0
    t = np.ceil(rng.exponential(1.0, len(st)) / rate)
    c = np.ceil(rng.uniform(50, 600, len(st)))
    return pd.DataFrame(
        {
            "cpa": "C1",
            "district": st,
            "period": 0,
            "prime": np.where(prime == 1, "A", "B"),
            "t": np.minimum(t, c),
            "e": (t <= c).astype(int),
        }
    )


def test_randomisation_pvalue_uniform_under_null():
    """Under the sharp null the randomisation p-values are (discretely) uniform: KS test and
    the rejection rate at 10%, on 200 small data sets (a test that can fail)."""
    p = []
    for ss in np.random.SeedSequence(2026).spawn(200):
        rng = np.random.default_rng(ss)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)
            tab = compare_primes_survival(
                _null_data(rng), "t", "e", horizons=(180,), draws=99, seed=ss, id_col=None
            ).tidy()
        p.append(tab["p_randomisation"].to_numpy())
    p = np.array(p)
    for j in range(p.shape[1]):
        assert stats.kstest(p[:, j], "uniform").pvalue > 0.001
        assert 0.04 <= np.mean(p[:, j] <= 0.10) <= 0.17


def test_randomisation_pvalue_power_and_seed():
    rng = np.random.default_rng(5)
    df = _null_data(rng, 20)
    df.loc[df["prime"] == "A", "t"] = np.ceil(df.loc[df["prime"] == "A", "t"] * 3)
    a = compare_primes_survival(df, "t", "e", horizons=(180,), draws=199, seed=7).tidy()
    b = compare_primes_survival(df, "t", "e", horizons=(180,), draws=199, seed=7).tidy()
    np.testing.assert_array_equal(a["p_randomisation"], b["p_randomisation"])
    assert (a["p_randomisation"] <= 0.01).all()
    assert (a["p_randomisation"] >= 1 / 200).all()


# ------------------------------------------------------------------------------ curves
def test_blocked_curves_one_stratum_is_km(lung):
    one = lung.assign(stratum="all")
    bc = blocked_curves(one, "time", "event", blocks="stratum", times=[0, 100, 180, 365])
    km = kaplan_meier(one, "time", "event", group="prime").survival_at([0, 100, 180, 365])
    for p in ("A", "B"):
        got = bc.tidy().query("prime == @p")
        exp = km[km["curve"] == f"prime={p}"]
        np.testing.assert_allclose(got["surv"], exp["surv"], rtol=1e-12)
        np.testing.assert_allclose(got["std_err"], exp["std_err"], rtol=1e-12, atol=1e-15)


def test_blocked_curves_weighted_by_cpa_shares():
    df = _tiny()
    bc = blocked_curves(df, "t", "e", times=[3])
    tab = bc.tidy().set_index("prime")
    # CPA stratum shares 7/13 and 6/13 for both primes
    assert tab.loc["A", "surv"] == pytest.approx(7 / 13 * 0.5 + 6 / 13 * 2 / 3)
    assert tab.loc["B", "surv"] == pytest.approx(0.5)
    assert tab.loc["A", "std_err"] == pytest.approx(
        np.sqrt((7 / 13) ** 2 / 16 + (6 / 13) ** 2 * 2 / 27)
    )
    assert set(bc.curves["n_strata"]) == {2}
    assert bc.median().shape[0] == 2


# ------------------------------------------------------------------------------ (d) errors
@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"horizons": [-1]}, ParameterError, "horizons"),
        ({"horizons": []}, ParameterError, "horizons"),
        ({"draws": -5}, ParameterError, "draws"),
        ({"min_n": 1}, ParameterError, "min_n"),
        ({"adjust": "romano"}, ParameterError, "adjust"),
        ({"alpha": 1.5}, ParameterError, "alpha"),
        ({"seed": "x", "draws": 5}, ParameterError, "seed"),
        ({"cpa": "NOPE"}, ParameterError, "not in the data"),
        ({"blocks": []}, ParameterError, "blocks"),
        ({"blocks": ["region"]}, DataContractError, "region"),
    ],
)
def test_bad_parameters(kwargs, err, match):
    with pytest.raises(err, match=match):
        compare_primes_survival(_tiny(), "t", "e", **kwargs)


def test_bad_data():
    df = _tiny()
    with pytest.raises(DataContractError, match="not in the data"):
        compare_primes_survival(df, "time", "e")
    with pytest.raises(DataContractError, match="event must be 0"):
        compare_primes_survival(df.assign(e=2), "t", "e")
    with pytest.raises(DataContractError, match="negative"):
        compare_primes_survival(df.assign(t=-df["t"]), "t", "e")
    with pytest.raises(DataContractError, match="no contrast"):
        compare_primes_survival(
            df.assign(district=np.where(df["prime"] == "A", "x", "y")), "t", "e"
        )
    with pytest.raises(DataContractError, match="referral_date"):
        compare_primes_survival(df.drop(columns="period"), "t", "e")
    with pytest.raises(ParameterError, match="DataFrame"):
        compare_primes_survival(df.to_dict(), "t", "e")


def test_period_derived_and_probability_warning():
    df = _tiny().drop(columns="period")
    df["referral_date"] = pd.Timestamp("2012-02-01")
    tab = compare_primes_survival(df, "t", "e", horizons=[3], id_col=None).tidy()
    ref = compare_primes_survival(_tiny(), "t", "e", horizons=[3], id_col=None).tidy()
    np.testing.assert_allclose(tab["estimate"], ref["estimate"])
    df["allocation_prob"] = np.where(np.arange(len(df)) % 2 == 0, 0.5, 0.6)
    with pytest.warns(StatisticalWarning, match="payment_group"):
        compare_primes_survival(df, "t", "e", horizons=[3], id_col=None)


def test_missing_rows_dropped_and_counted():
    df = _tiny()
    df.loc[0, "t"] = np.nan
    with pytest.warns(StatisticalWarning, match="dropped 1"):
        res = compare_primes_survival(df, "t", "e", horizons=[3], id_col=None)
    assert res.extra["n_dropped_rows"] == 1


# ------------------------------------------------------------------------------ diagnosis
def test_registered_in_diagnosis(monkeypatch):
    from wpeval.inference import replicate as rep
    from wpeval.inference.diagnosis import complete_follow_up

    monkeypatch.setattr(rep, "TRUTH_N", 60_000)
    monkeypatch.setattr(rep, "TRUTH_REPS", 2)
    monkeypatch.setattr(rep, "_TRUTH_CACHE", {})
    names = ["blocked_surv_52w", "blocked_surv_104w", "blocked_rmst_52w", "blocked_rmst"]
    assert all(n in rep.ESTIMATORS for n in names)
    spec = {
        "n": 30_000,
        "structure_seed": 20110601,
        "config": complete_follow_up(None),
        "estimators": names,
        "contrasts": [("CPA05", "Prime A", "Prime B")],
        "alpha": 0.05,
    }
    out = rep.run_replicate(spec, np.random.SeedSequence(3))
    assert out.shape == (4, 1, 6)
    assert np.isfinite(out).all()
    est, se, lo, hi = out[:, 0, 0], out[:, 0, 1], out[:, 0, 2], out[:, 0, 3]
    np.testing.assert_allclose(hi - lo, 2 * stats.norm.ppf(0.975) * se)
    assert abs(out[3, 0, 5]) < 60  # RMST truth in days
    truth = rep.survival_truth(spec)[("CPA05", "Prime A", "Prime B")]
    assert out[3, 0, 5] == truth["diff_rmst_104w"]
    assert np.all(np.abs(est[:2]) < 0.2)
