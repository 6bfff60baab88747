"""Survival estimators: published table, closed forms worked by hand, identities, errors.

Expected values here come from a published table (Klein & Moeschberger), closed forms worked
in the comments, or exact identities between two different computations. The comparisons
against R are in test_survival_reference.py.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from wpeval.estimators.survival import (
    CumulativeIncidence,
    SurvivalCurves,
    competing_risks,
    cox,
    cumulative_incidence,
    kaplan_meier,
    logrank,
    rmst,
)
from wpeval.exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning

# --------------------------------------------------------------------------------------------
# Classic data: Freireich et al. (1963) 6-MP arm (remission weeks, + = censored), the example
# of Klein & Moeschberger (2003) section 4.2. Expected values worked by hand (n = 21):
#   t=6:  Y=21 d=3  S = 18/21                      Greenwood sum 3/(21*18)
#   t=7:  Y=17 d=1  S = 18/21*16/17                + 1/(17*16)
#   t=10: Y=15 d=1  S *= 14/15                     + 1/(15*14)
#   t=13: Y=12 d=1  S *= 11/12                     + 1/(12*11)
#   t=16: Y=11 d=1  S *= 10/11                     + 1/(11*10)
#   t=22: Y=7  d=1  S *= 6/7                       + 1/(7*6)
#   t=23: Y=6  d=1  S *= 5/6                       + 1/(6*5)
# giving S = .8571, .8067, .7529, .6902, .6275, .5378, .4482 and SE = S*sqrt(sum) =
# .0764, .0869, .0963, .1068, .1141, .1282, .1346.
SIX_MP_TIMES = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
HAND_STEPS = [(6, 21, 3), (7, 17, 1), (10, 15, 1), (13, 12, 1), (16, 11, 1), (22, 7, 1), (23, 6, 1)]


def test_kaplan_meier_six_mp_worked_by_hand():
    df = pd.DataFrame({"t": SIX_MP_TIMES, "d": SIX_MP_EVENT})
    km = kaplan_meier(df, "t", "d")
    at = km.survival_at([t for t, _, _ in HAND_STEPS])
    s, gw = 1.0, 0.0
    for (_t, y, d), (_, row) in zip(HAND_STEPS, at.iterrows()):
        s *= (y - d) / y
        gw += d / (y * (y - d))
        assert row["n_risk"] == y
        assert row["surv"] == pytest.approx(s, rel=1e-12)
        assert row["std_err"] == pytest.approx(s * math.sqrt(gw), rel=1e-12)
    # rounded values as printed in the comment above
    assert at["surv"].round(4).tolist() == [0.8571, 0.8067, 0.7529, 0.6902, 0.6275, 0.5378, 0.4482]
    assert at["std_err"].round(4).tolist() == [
        0.0764,
        0.0869,
        0.0963,
        0.1068,
        0.1141,
        0.1282,
        0.1346,
    ]
    med = km.median().iloc[0]
    assert med["median"] == 23  # first time S <= 0.5


# --------------------------------------------------------------------------------------------
# Closed forms
def test_cox_closed_form_no_ties():
    # times 1, 2, 3 all events, x = (0, 1, 0): L(b) = 1/(2 + e^b) * e^b/(e^b + 1).
    # Score 0 <=> u^2 = 2 (u = e^b), so b = log(2)/2; information = 6 sqrt(2) - 8.
    df = pd.DataFrame({"t": [1, 2, 3], "d": [1, 1, 1], "x": [0.0, 1.0, 0.0]})
    res = cox(df, "t", "d", "x")
    assert res.estimate == pytest.approx(math.log(2) / 2, rel=1e-9)
    assert res.std_error == pytest.approx(1 / math.sqrt(6 * math.sqrt(2) - 8), rel=1e-9)


def test_cox_closed_form_efron_and_breslow_ties():
    # times (1, 1, 2) all events, x = (1, 0, 0). Efron at t=1: denominators u + 2 and
    # (u + 2) - (u + 1)/2 = (u + 3)/2, so the score 1 - u/(u+2) - u/(u+3) = 0 gives u^2 = 6;
    # information 2u/(u+2)^2 + 3u/(u+3)^2. Breslow: 1 - 2u/(u+2) = 0 gives u = 2,
    # information 2 * 2u/(u+2)^2 = 1/2.
    df = pd.DataFrame({"t": [1, 1, 2], "d": [1, 1, 1], "x": [1.0, 0.0, 0.0]})
    efron = cox(df, "t", "d", "x", ties="efron")
    u = math.sqrt(6)
    assert efron.estimate == pytest.approx(math.log(6) / 2, rel=1e-9)
    info = 2 * u / (u + 2) ** 2 + 3 * u / (u + 3) ** 2
    assert efron.std_error == pytest.approx(1 / math.sqrt(info), rel=1e-9)
    breslow = cox(df, "t", "d", "x", ties="breslow")
    assert breslow.estimate == pytest.approx(math.log(2), rel=1e-9)
    assert breslow.std_error == pytest.approx(math.sqrt(2), rel=1e-9)


def test_logrank_two_groups_by_hand():
    # A: times 1, 3 (events); B: times 2 (event), 4 (censored).
    # t=1: Y=4, Y_A=2: E_A=1/2, V=1*3/3*(1/2)(1/2)=1/4; t=2: Y=3, Y_A=1: E_A=1/3, V=2/9;
    # t=3: Y=2, Y_A=1: E_A=1/2, V=1/4.  O_A=2, E_A=4/3, V=13/18, chi2=(2/3)^2/(13/18)=8/13.
    df = pd.DataFrame({"t": [1, 3, 2, 4], "d": [1, 1, 1, 0], "g": ["A", "A", "B", "B"]})
    res = logrank(df, "t", "d", "g")
    assert res.estimate == pytest.approx(8 / 13, rel=1e-12)
    assert res.tidy()["df"].iloc[0] == 1
    groups = pd.DataFrame(res.extra["groups"]).set_index("group")
    assert groups.loc["g=A", "expected"] == pytest.approx(4 / 3, rel=1e-12)
    assert res.tidy()["p_value"].iloc[0] == pytest.approx(math.erfc(math.sqrt(8 / 13 / 2)))


def test_km_without_censoring_is_empirical_and_greenwood_binomial():
    # no censoring: S(t) = #{T > t}/n and Greenwood variance = S(1 - S)/n exactly
    t = np.array([1, 1, 2, 3, 3, 3, 5, 8, 8, 9], dtype=float)
    km = kaplan_meier(pd.DataFrame({"t": t, "d": 1}), "t", "d")
    at = km.survival_at([1, 3, 7])
    s = np.array([(t > x).mean() for x in (1, 3, 7)])
    np.testing.assert_allclose(at["surv"], s, rtol=1e-12)
    np.testing.assert_allclose(at["std_err"], np.sqrt(s * (1 - s) / len(t)), rtol=1e-12)


def test_cif_without_censoring_is_empirical_and_ij_binomial():
    # no censoring: F_k(t) = #{T <= t, cause k}/n; IJ variance = F(1 - F)/n
    t = np.array([1, 2, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9], dtype=float)
    k = np.array([1, 2, 1, 1, 2, 2, 1, 1, 2, 1, 1, 2])
    res = cumulative_incidence(pd.DataFrame({"t": t, "k": k}), "t", "k")
    at = res.cif_at([2, 4, 7], cause=1)
    f = np.array([((t <= x) & (k == 1)).mean() for x in (2, 4, 7)])
    np.testing.assert_allclose(at["cif"], f, rtol=1e-12)
    np.testing.assert_allclose(at["std_err"], np.sqrt(f * (1 - f) / len(t)), rtol=1e-10)


def test_rmst_without_censoring_is_mean_of_truncated_times():
    t = np.array([2, 3, 3, 5, 8, 13, 21, 34], dtype=float)
    res = rmst(pd.DataFrame({"t": t, "d": 1, "g": "a"}), "t", "d", "g", tau=10)
    assert res.estimate == pytest.approx(np.minimum(t, 10).mean(), rel=1e-12)


# --------------------------------------------------------------------------------------------
# Identities
@pytest.fixture(scope="module")
def sim():
    rng = np.random.default_rng(7)
    n = 1500
    df = pd.DataFrame(
        {
            "person_id": np.arange(n) + 1000,
            "x": rng.normal(size=n),
            "b": rng.integers(0, 2, n).astype(bool),
            "g": rng.choice(["p1", "p2", "p3"], n),
            "s": rng.choice(["d1", "d2", "d3", "d4", "d5"], n),
        }
    )
    lin = 0.5 * df["x"] - 0.4 * df["b"] + (df["g"] == "p2") * 0.3
    t = rng.exponential(40 / np.exp(lin))
    c = rng.uniform(5, 120, n)
    k = np.where(rng.random(n) < 0.7, 1, 2)
    df["time"] = np.ceil(np.minimum(t, c))
    df["event"] = (t <= c).astype(int)
    df["cause"] = np.where(df["event"] == 1, k, 0)
    return df


def test_cox_invariant_to_row_order_and_scaling(sim):
    base = cox(sim, "time", "event", ["x", "b", "g"], strata="s", cluster="person_id")
    shuffled = sim.sample(frac=1, random_state=3)
    res = cox(shuffled, "time", "event", ["x", "b", "g"], strata="s", cluster="person_id")
    pd.testing.assert_frame_equal(base.tidy(), res.tidy(), rtol=1e-9)
    scaled = cox(sim.assign(x=sim["x"] * 2), "time", "event", ["x", "b", "g"], strata="s")
    assert scaled["x"]["estimate"] == pytest.approx(base["x"]["estimate"] / 2, rel=1e-9)


def test_cox_split_intervals_equal_unsplit(sim):
    # splitting each (0, t] into (0, c] and (c, t] with the same covariates leaves the partial
    # likelihood unchanged; the cluster-robust SE by person equals the per-row robust SE
    unsplit = cox(sim, "time", "event", ["x", "b"], strata="s", robust=True)
    long = sim[sim["time"] > 1].copy()
    cut = np.floor(long["time"] / 2)
    first = long.assign(start=0.0, time=cut, event=0)
    second = long.assign(start=cut)
    rest = sim[sim["time"] <= 1].assign(start=0.0)
    split = pd.concat([first, second, rest], ignore_index=True)
    res = cox(split, "time", "event", ["x", "b"], strata="s", entry="start", cluster="person_id")
    np.testing.assert_allclose(res.tidy()["estimate"], unsplit.tidy()["estimate"], rtol=1e-9)
    np.testing.assert_allclose(
        res.tidy()["model_std_error"], unsplit.tidy()["model_std_error"], rtol=1e-9
    )
    np.testing.assert_allclose(res.tidy()["std_error"], unsplit.tidy()["std_error"], rtol=1e-9)


def test_fine_gray_without_competing_events_is_cox(sim):
    one = sim.assign(cause=sim["event"])  # only cause 1 and censoring
    fg = competing_risks(one, "time", "cause", ["x", "b"], strata="s")
    cx = cox(one, "time", "event", ["x", "b"], strata="s", robust=True)
    np.testing.assert_allclose(fg.tidy()["estimate"], cx.tidy()["estimate"], rtol=1e-9)
    np.testing.assert_allclose(fg.tidy()["std_error"], cx.tidy()["std_error"], rtol=1e-9)


def test_stratified_logrank_with_one_stratum_equals_unstratified(sim):
    a = logrank(sim, "time", "event", "g")
    b = logrank(sim.assign(one="all"), "time", "event", "g", strata="one")
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)


def test_categorical_and_string_inputs_agree(sim):
    cat = sim.assign(g=pd.Categorical(sim["g"]), s=pd.Categorical(sim["s"]))
    a = cox(sim, "time", "event", ["x", "g"], strata="s")
    b = cox(cat, "time", "event", ["x", "g"], strata="s")
    pd.testing.assert_frame_equal(a.tidy(), b.tidy())
    km_a = kaplan_meier(sim, "time", "event", group="g").tidy()
    km_b = kaplan_meier(cat, "time", "event", group="g").tidy()
    np.testing.assert_allclose(km_a["surv"], km_b["surv"])


def test_inputs_not_mutated(sim):
    before = sim.copy()
    cox(sim, "time", "event", ["x", "g"], strata="s", cluster="person_id")
    kaplan_meier(sim, "time", "event", group="g", strata="s")
    competing_risks(sim, "time", "cause", ["x"])
    pd.testing.assert_frame_equal(sim, before)


# --------------------------------------------------------------------------------------------
# Result objects
def test_curve_result_api(sim):
    km = kaplan_meier(sim, "time", "event", group="g", conf_type="log-log")
    assert isinstance(km, SurvivalCurves)
    assert km.curve_labels == ["g=p1", "g=p2", "g=p3"]
    at = km.survival_at([0])
    assert (at["surv"] == 1).all() and (
        at["n_risk"] == sim["g"].value_counts().sort_index().to_numpy()
    ).all()
    risk = km.at_risk([0, 30, 60])
    assert list(risk.columns) == ["curve", "time", "n_risk", "n_event_cum", "n_censor_cum"]
    assert risk["n_risk"].is_monotonic_decreasing is False  # three curves stacked
    assert (risk.groupby("curve")["n_risk"].diff().dropna() <= 0).all()
    json.dumps(km.to_dict())
    assert "Kaplan-Meier" in km._repr_html_()
    assert "Greenwood" in km.summary()
    with pytest.raises(AttributeError):
        km.table = None  # frozen dataclass


def test_effect_tables_name_their_method(sim):
    res = cox(sim, "time", "event", ["x"], strata=["s"], cluster="g")
    assert "cluster-robust" in res.method["se_type"] and "3 clusters" in res.method["se_type"]
    assert "stratified" in res.method["design"]
    assert res["x"]["hazard_ratio"] == pytest.approx(math.exp(res["x"]["estimate"]))
    json.dumps(res.to_dict())
    cif = cumulative_incidence(sim, "time", "cause", group="g")
    assert isinstance(cif, CumulativeIncidence)
    assert "jackknife" in cif.method["se_type"]
    json.dumps(cif.to_dict())
    r = rmst(sim, "time", "event", "g", 60, reference="g=p2")
    assert "g=p1 - g=p2" in list(r.tidy()["term"])


# --------------------------------------------------------------------------------------------
# Errors and warnings
def test_missing_column_and_bad_values(sim):
    with pytest.raises(DataContractError, match="not in the data"):
        kaplan_meier(sim, "nope", "event")
    bad = sim.assign(time=sim["time"] - 200)
    with pytest.raises(DataContractError) as err:
        cox(bad, "time", "event", ["x"])
    assert err.value.rule == "duration_nonnegative_finite" and err.value.examples[0] >= 1000
    with pytest.raises(DataContractError, match="event must be 0"):
        kaplan_meier(sim, "time", "cause")
    with pytest.raises(DataContractError, match="entry >= duration"):
        cox(sim.assign(start=sim["time"]), "time", "event", ["x"], entry="start")


def test_design_errors(sim):
    # aliased covariates (x2 = 3x + 1 is collinear with x; sx is constant within every
    # stratum): strict mode raises, naming them; the default (as R coxph) reports NaN and
    # warns, and the other coefficient is the fit without the aliased column
    collinear = sim.assign(x2=sim["x"] * 3 + 1)
    by_stratum = sim.assign(
        sx=sim["s"].map({"d1": 1.0, "d2": 2.0, "d3": 0.5, "d4": 0.0, "d5": 7.0})
    )
    with pytest.raises(DesignError, match=r"collinear.*\['x2'\]|\['x2'\].*collinear"):
        cox(collinear, "time", "event", ["x", "x2"], singular="error")
    with pytest.raises(DesignError, match="constant within every stratum"):
        cox(by_stratum, "time", "event", ["x", "sx"], strata="s", singular="error")
    for frame, covs, strata, bad in [
        (collinear, ["x", "x2"], None, "x2"),
        (by_stratum, ["x", "sx"], "s", "sx"),
    ]:
        with pytest.warns(StatisticalWarning, match=f"aliased covariates.*{bad}"):
            res = cox(frame, "time", "event", covs, strata=strata).tidy().set_index("term")
        alone = cox(frame, "time", "event", ["x"], strata=strata).tidy().set_index("term")
        assert np.isnan(res.loc[bad, "estimate"]) and np.isnan(res.loc[bad, "std_error"])
        np.testing.assert_allclose(
            res.loc["x", ["estimate", "std_error"]].to_numpy(float),
            alone.loc["x", ["estimate", "std_error"]].to_numpy(float),
            rtol=1e-9,
        )
    with pytest.raises(DesignError, match="no events"):
        cox(sim.assign(event=0), "time", "event", ["x"])
    with pytest.raises(DesignError, match="at least two groups"):
        logrank(sim.assign(g="one"), "time", "event", "g")
    with pytest.raises(DesignError, match="no events of cause 3"):
        competing_risks(sim, "time", "cause", ["x"], cause=3)


def test_parameter_errors(sim):
    with pytest.raises(ParameterError):
        kaplan_meier(sim, "time", "event", conf_type="logit")
    with pytest.raises(ParameterError):
        cox(sim, "time", "event", ["x"], ties="exact")
    with pytest.raises(ParameterError):
        kaplan_meier(sim, "time", "event", alpha=1.5)
    with pytest.raises(ParameterError):
        competing_risks(sim, "time", "cause", ["x"], model="crr")
    with pytest.raises(ParameterError):
        rmst(sim, "time", "event", "g", tau=-1)


def test_missing_values_dropped_and_counted(sim):
    holes = sim.copy()
    holes.loc[holes.index[:7], "x"] = np.nan
    with pytest.warns(StatisticalWarning, match="dropped 7 of 1500"):
        res = cox(holes, "time", "event", ["x"])
    assert res.extra["n_dropped"] == 7 and res.tidy()["n"].iloc[0] == 1493


def test_rmst_warns_beyond_follow_up(sim):
    with pytest.warns(StatisticalWarning, match="beyond the last follow-up"):
        rmst(sim, "time", "event", "g", tau=10_000)


def test_no_warning_on_clean_data(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kaplan_meier(sim, "time", "event", group="g")
        logrank(sim, "time", "event", "g", strata="s")
        cox(sim, "time", "event", ["x", "b"], strata="s")
