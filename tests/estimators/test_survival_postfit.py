"""After a Cox fit: baseline hazard, predicted / adjusted curves, residuals and the PH test
against R survival 3.5 (tests/reference/survival_postfit.R on real data sets exported by
tests/reference/survival_postfit_data.py).

Tolerance: every array agrees with R to ``rtol = 1e-6`` elementwise, with an absolute floor of
``1e-9`` times the array's largest value (residuals that are zero up to rounding); observed
agreement is ~1e-11 or better.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.estimators.survival import (
    adjusted_survival,
    baseline_hazard,
    cox,
    cox_residuals,
    kaplan_meier,
    ph_test,
    predict_survival,
)
from wpeval.estimators.survival.ph import ph_residuals
from wpeval.exceptions import DataContractError, ParameterError

REF = Path(__file__).parents[1] / "reference"
RTOL = 1e-6


@pytest.fixture(scope="module")
def R():
    return json.loads((REF / "survival_postfit.json").read_text())


@pytest.fixture(scope="module")
def data():
    return {k: pd.read_csv(REF / f"postfit_{k}.csv") for k in ("lung", "veteran", "rossi", "heart")}


@pytest.fixture(scope="module")
def fits(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lung: rows with missing covariates dropped (as R)
        return {
            "lung": cox(
                data["lung"], "time", "status", ["age", "ph_ecog", "wt_loss"], strata="sex"
            ),
            "veteran": cox(
                data["veteran"],
                "time",
                "status",
                ["celltype", "karno", "age", "trt"],
                ties="breslow",
            ),
            # R coxph makes the variance robust for non-integer weights: ask for it here
            "rossi": cox(
                data["rossi"],
                "week",
                "arrest",
                ["fin", "age", "prio"],
                strata="wexp",
                weights="wt",
                robust=True,
            ),
            "heart": cox(
                data["heart"], "stop", "event", ["age", "surgery", "transplant"], entry="start"
            ),
            "heart2": cox(
                data["heart"],
                "stop",
                "event",
                ["age", "transplant"],
                entry="start",
                strata=["grp", "k"],
                cluster="id",
                ties="breslow",
            ),
        }


NEWDATA = {
    "lung": pd.DataFrame({"age": [60, 70], "ph_ecog": [1, 2], "wt_loss": [5, 20], "sex": [1, 2]}),
    "veteran": pd.DataFrame(
        {"celltype": ["adeno", "squamous"], "karno": [60, 80], "age": [60, 65], "trt": [1, 2]}
    ),
    "rossi": pd.DataFrame({"fin": [0, 1], "age": [20, 30], "prio": [3, 0], "wexp": [0, 1]}),
    "heart": pd.DataFrame({"age": [-5, 5], "surgery": [0, 1], "transplant": [1, 0]}),
    "heart2": pd.DataFrame({"age": [0, 3], "transplant": [1, 0], "grp": ["a", "b"], "k": [1, 0]}),
}
MODELS = list(NEWDATA)


def close(got, want, rtol=RTOL):
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    assert got.shape == want.shape
    floor = 1e-9 * np.nanmax(np.abs(want)) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=floor)


@pytest.mark.parametrize("model", MODELS)
def test_coefficients_are_those_of_R(fits, R, model):
    close(fits[model].params.to_numpy(), R[model]["coef"], 1e-9)


@pytest.mark.parametrize("model", MODELS)
def test_baseline_hazard_matches_basehaz(fits, R, model):
    bh = baseline_hazard(fits[model])
    ref = R[model]["basehaz"]
    close(bh["time"], ref["time"])
    close(bh["cumhaz"], ref["hazard"])
    if ref["strata"] is not None:
        cols = bh.columns[: list(bh.columns).index("time")]
        labels = bh[cols[0]].astype(str).radd(f"{cols[0]}=")
        for c in cols[1:]:
            labels = labels + ", " + bh[c].astype(str).radd(f"{c}=")
        assert labels.tolist() == ref["strata"]
    assert "basehaz" in bh.attrs["method"]


def test_baseline_hazard_centered_is_the_hazard_at_the_means(fits, data):
    fit = fits["heart"]
    cen = baseline_hazard(fit, centered=True)
    zero = baseline_hazard(fit)
    h = data["heart"]
    m = h[["age", "surgery", "transplant"]].mean().to_numpy()
    close(cen["cumhaz"], zero["cumhaz"] * np.exp(m @ fit.params.to_numpy()), 1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_predicted_survival_matches_survfit_newdata(fits, R, model):
    pred = predict_survival(fits[model], NEWDATA[model]).tidy()
    for i, (_, sub) in enumerate(pred.groupby("curve", sort=False)):
        ref = R[model]["predict"][i]
        close(sub["time"], ref["time"])
        close(sub["surv"], ref["surv"])
        close(sub["cumhaz"], ref["cumhaz"])
        close(sub["se_cumhaz"], ref["std_err"])
        close(sub["conf_low"], ref["lower"])
        close(sub["conf_high"], ref["upper"])
        close(sub["std_err"], sub["surv"] * sub["se_cumhaz"], 1e-12)


RESIDUALS = ["martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta", "dfbetas"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("rtype", RESIDUALS)
def test_residuals_match_residuals_coxph(fits, R, model, rtype):
    res = cox_residuals(fits[model], rtype)
    ref = R[model]["residuals"]
    names = list(fits[model].params.index)
    if isinstance(res, pd.Series):
        close(res.to_numpy(), ref[rtype][0])
    else:
        for k, name in enumerate(names):
            close(res[name].to_numpy(), ref[rtype][k])
    if rtype in ("schoenfeld", "scaledsch"):
        close(res["time"], ref["schoenfeld_time"])
    assert "residuals.coxph" in res.attrs["method"]


def test_residuals_collapse_within_person(fits, R):
    ref = R["heart_collapse"]
    mg = cox_residuals(fits["heart"], "martingale", collapse="id")
    assert mg.index.tolist() == ref["id"]
    close(mg, ref["martingale"])
    close(cox_residuals(fits["heart"], "deviance", collapse="id"), ref["deviance"])
    dfb = cox_residuals(fits["heart"], "dfbeta", collapse="id")
    for k, name in enumerate(["age", "surgery", "transplant"]):
        close(dfb[name], ref["dfbeta"][k])


def test_residual_identities(fits):
    fit = fits["rossi"]
    mg = cox_residuals(fit, "martingale", weighted=True)
    assert abs(mg.sum()) < 1e-10  # weighted martingale residuals sum to 0 within strata
    score = cox_residuals(fit, "score", weighted=True)
    # the total score is 0 at the MLE (up to the Newton tolerance)
    np.testing.assert_allclose(score.sum().to_numpy(), 0, atol=1e-5)


@pytest.mark.parametrize("model", MODELS)
def test_ph_test_matches_cox_zph(fits, R, model):
    z = R[model]["zph"]
    res = ph_test(fits[model])
    tab = res.tidy()
    assert tab["term"].tolist() == z["terms"]
    close(tab["statistic"], z["chisq"])
    close(tab["df"], z["df"])
    close(tab["p_value"], z["p"])
    r = ph_residuals(res)
    close(r["transformed_time"], z["x"])
    close(r["time"], z["time"])
    for k, term in enumerate(z["terms"][:-1]):
        close(r[term], z["y"][k])
    if z["strata"] is not None:
        assert r["stratum"].tolist() == z["strata"]
    json.dumps(res.to_dict(), allow_nan=False)


@pytest.mark.parametrize("model", MODELS)
def test_ph_test_identity_transform_per_column(fits, R, model):
    z = R[model]["zph_identity"]
    tab = ph_test(fits[model], "identity", terms=False).tidy()
    assert tab["term"].tolist()[:-1] == list(fits[model].params.index)
    close(tab["statistic"], z["chisq"])
    close(tab["p_value"], z["p"])


def test_adjusted_curves_match_averaged_survfit(fits, R):
    adj = adjusted_survival(fits["veteran"], "celltype").tidy()
    for ref in R["adjusted_veteran"]:
        sub = adj[adj["curve"] == f"celltype={ref['level']}"]
        close(sub["time"], ref["time"])
        close(sub["surv"], ref["surv"])


def test_adjusted_curve_of_one_row_is_its_predicted_curve(fits, data):
    fit = fits["lung"]
    row = data["lung"].dropna().iloc[[7]]
    one = adjusted_survival(fit, "ph_ecog", data=row, levels=[2]).tidy()
    pred = predict_survival(fit, row.assign(ph_ecog=2)).tidy()
    close(one["surv"], pred["surv"], 1e-12)
    close(one["std_err"], pred["std_err"], 1e-10)
    close(one["conf_low"], pred["conf_low"], 1e-10)


def _breslow_mean_surv(df, beta, covs, times, ref):
    """Brute force: Breslow baseline hazard by looping over event times, averaged curve."""
    X = df[covs].to_numpy(float)
    t, d = df["time"].to_numpy(float), df["status"].to_numpy()
    et = np.unique(t[d == 1])
    H0 = np.array([sum((t == u) & (d == 1)) / np.exp(X[t >= u] @ beta).sum() for u in et])
    V0 = np.array([sum((t == u) & (d == 1)) / np.exp(X[t >= u] @ beta).sum() ** 2 for u in et])
    cum = np.array([H0[et <= s].sum() for s in times])
    cv = np.array([V0[et <= s].sum() for s in times])
    r = np.exp(ref @ beta)
    S = np.exp(-np.outer(cum, r))
    return S.mean(axis=1), cv, (S * r).mean(axis=1)


def test_adjusted_variance_by_numerical_delta_method(data):
    """The coefficient part of the adjusted-curve variance equals g' V g with g the numerical
    gradient of the averaged curve (baseline hazard re-estimated at each beta); the baseline
    part is the Breslow variance times (mean S r)^2."""
    vet = data["veteran"].assign(smallcell=lambda d: (d["celltype"] == "smallcell") * 1.0)
    covs = ["smallcell", "karno", "age"]
    fit = cox(vet, "time", "status", covs, ties="breslow")
    beta = fit.params.to_numpy()
    V = fit.cov_params().to_numpy()
    ref = vet[covs].to_numpy(float).copy()
    ref[:, 0] = 1.0
    times = np.array([30.0, 100.0, 250.0])
    S0, cv, sr = _breslow_mean_surv(vet, beta, covs, times, ref)
    g = np.zeros((len(times), 3))
    for k in range(3):
        h = 1e-6 * max(1.0, abs(beta[k]))
        up, dn = beta.copy(), beta.copy()
        up[k] += h
        dn[k] -= h
        g[:, k] = (
            _breslow_mean_surv(vet, up, covs, times, ref)[0]
            - _breslow_mean_surv(vet, dn, covs, times, ref)[0]
        ) / (2 * h)
    want = np.sqrt(np.einsum("tj,jk,tk->t", g, V, g) + cv * sr**2)
    adj = adjusted_survival(fit, "smallcell", levels=[1.0]).survival_at(times)
    close(adj["surv"], S0, 1e-10)
    close(adj["std_err"], want, 1e-5)


def test_adjusted_by_a_stratum_uses_each_stratum_baseline(fits, data):
    fit = fits["lung"]
    adj = adjusted_survival(fit, "sex")
    assert adj.curve_labels == ["sex=1", "sex=2"]
    tab = adj.tidy()
    assert (tab.groupby("curve")["surv"].apply(lambda s: s.is_monotonic_decreasing)).all()
    assert "reference-population sampling variability not included" in adj.method["se_type"]


def test_postfit_functions_refuse_other_results(data):
    km = kaplan_meier(data["veteran"], "time", "status")
    for fn in (baseline_hazard, lambda r: cox_residuals(r), ph_test):
        with pytest.raises(ParameterError, match="wpeval.cox"):
            fn(km)


def test_bad_inputs_name_the_problem(fits):
    fit = fits["veteran"]
    with pytest.raises(DataContractError, match="karno"):
        predict_survival(fit, NEWDATA["veteran"].drop(columns="karno"))
    with pytest.raises(DataContractError, match="levels not in the fitted data") as err:
        predict_survival(fit, NEWDATA["veteran"].assign(celltype=["adeno", "oat"]))
    assert err.value.rule == "known_level" and err.value.examples == [1]
    with pytest.raises(DataContractError, match="strata column 'sex'"):
        predict_survival(fits["lung"], NEWDATA["lung"].drop(columns="sex"))
    with pytest.raises(DataContractError, match="strata not in the fitted data"):
        predict_survival(fits["lung"], NEWDATA["lung"].assign(sex=[1, 3]))
    with pytest.raises(ParameterError, match="type must be one of"):
        cox_residuals(fit, "pearson")
    with pytest.raises(ParameterError, match="collapse is not defined"):
        cox_residuals(fit, "schoenfeld", collapse="trt")
    with pytest.raises(DataContractError, match="collapse column"):
        cox_residuals(fit, "score", collapse="nope")
    with pytest.raises(ParameterError, match="transform"):
        ph_test(fit, "sqrt")
    with pytest.raises(ParameterError, match="neither a covariate"):
        adjusted_survival(fit, "prior")
    with pytest.raises(ParameterError, match="alpha"):
        predict_survival(fit, NEWDATA["veteran"], alpha=2)


def test_cox_result_stays_json_ready(fits):
    for fit in fits.values():
        json.dumps(fit.to_dict(), allow_nan=False)
        assert "_cox_data" not in fit.to_dict()["extra"]


def test_ph_plot_draws_residuals_smooth_and_reference(fits):
    pytest.importorskip("matplotlib")
    from wpeval.plots import plot_ph_residuals

    res = ph_test(fits["veteran"])
    ax = plot_ph_residuals(res, "karno")
    assert len(ax.collections) >= 2  # points and band
    ref = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert ref and np.allclose(ref[0].get_ydata(), fits["veteran"]["karno"]["estimate"])
    assert "karno" in ax.get_title()
    with pytest.raises(ParameterError, match="unknown term"):
        plot_ph_residuals(res, "GLOBAL")
    with pytest.raises(ParameterError, match="ph_test"):
        plot_ph_residuals(fits["veteran"])
    ax = plot_ph_residuals(res, "celltype", band=False, points=False)  # a factor: level 1
    assert np.allclose([ln for ln in ax.lines if ln.get_linestyle() == "--"][0].get_ydata(), 1)


def test_collapse_accepts_values_one_per_row(fits, data):
    by_name = cox_residuals(fits["heart"], "score", collapse="id")
    by_values = cox_residuals(fits["heart"], "score", collapse=data["heart"]["id"].to_numpy())
    pd.testing.assert_frame_equal(by_name, by_values, check_names=False)
    with pytest.raises(ParameterError, match="one per fitted row"):
        cox_residuals(fits["heart"], "score", collapse=[1, 2, 3])


def test_refuses_data_changed_in_place_after_the_fit(data):
    df = data["veteran"].copy()
    fit = cox(df, "time", "status", ["karno", "age"])
    baseline_hazard(fit)  # unchanged: fine
    df.loc[df.index[0], "karno"] = 5.0
    with pytest.raises(DataContractError, match="changed after the fit") as err:
        cox_residuals(fit, "score")
    assert err.value.rule == "data_unchanged_since_fit"


def test_aliased_covariate_is_left_out_as_R(data):
    df = data["veteran"].assign(karno2=lambda d: 2 * d["karno"])
    with pytest.warns(Warning, match="aliased"):
        fit = cox(df, "time", "status", ["karno", "age", "karno2"])
    ref = cox(df, "time", "status", ["karno", "age"])
    got = cox_residuals(fit, "dfbeta")
    assert list(got.columns) == ["karno", "age"]
    close(got.to_numpy(), cox_residuals(ref, "dfbeta").to_numpy(), 1e-10)
    assert ph_test(fit).tidy()["term"].tolist() == ["karno", "age", "GLOBAL"]
    close(
        predict_survival(fit, df.iloc[:2]).tidy()["surv"],
        predict_survival(ref, df.iloc[:2]).tidy()["surv"],
        1e-10,
    )


def test_adjusted_weights_equal_repeated_rows(fits, data):
    fit = fits["veteran"]
    ref = data["veteran"].iloc[:12].assign(k=[1, 2, 3] * 4)
    weighted = adjusted_survival(fit, "celltype", data=ref, weights="k").tidy()
    repeated = adjusted_survival(fit, "celltype", data=ref.loc[ref.index.repeat(ref["k"])]).tidy()
    for col in ("surv", "std_err", "conf_low"):
        close(weighted[col], repeated[col], 1e-12)
    with pytest.raises(DataContractError, match="non-negative"):
        adjusted_survival(fit, "celltype", data=ref.assign(k=-1), weights="k")
