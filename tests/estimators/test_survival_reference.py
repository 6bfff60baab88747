"""Survival estimators against R survival (frozen values; R is not called here).

Source of every expected value: tests/reference/survival_reference.R (R survival 3.5.3), which
writes survival_ties.csv / survival_counting.csv (deterministic data with heavy ties: integer
days, and integer weeks for very large tie groups) and survival_reference.json.
Agreement required: 1e-6 relative (coefficients, SEs, curves); observed agreement is ~1e-12.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.estimators.survival import (
    competing_risks,
    cox,
    cumulative_incidence,
    kaplan_meier,
    logrank,
    rmst,
)

REF = Path(__file__).resolve().parents[1] / "reference"
RTOL = 1e-6


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "survival_reference.json").read_text())


@pytest.fixture(scope="module")
def ties():
    return pd.read_csv(REF / "survival_ties.csv")


@pytest.fixture(scope="module")
def counting():
    return pd.read_csv(REF / "survival_counting.csv")


def arr(x):
    return np.array([np.nan if v is None else v for v in np.atleast_1d(x)], dtype=float)


def close(actual, expected, rtol=RTOL, atol=0.0):
    actual = np.atleast_1d(np.asarray(actual, dtype=float))
    expected = arr(expected)
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    m = ~np.isnan(expected)
    np.testing.assert_allclose(actual[m], expected[m], rtol=rtol, atol=atol)


COVS = ["x1", "x2", "x3", "grp"]
COX_CASES = {
    "efron": dict(covariates=COVS),
    "breslow": dict(covariates=COVS, ties="breslow"),
    "efron_strata": dict(covariates=COVS, strata="stratum"),
    "breslow_strata": dict(covariates=COVS, strata="stratum", ties="breslow"),
    "efron_strata_cluster": dict(covariates=COVS, strata="stratum", cluster="clu"),
    "breslow_strata_cluster": dict(
        covariates=COVS, strata="stratum", cluster="clu", ties="breslow"
    ),
    "efron_robust": dict(covariates=COVS, robust=True),
    "efron_week_strata_cluster": dict(
        covariates=COVS, strata="stratum", cluster="clu", duration="week"
    ),
    "efron_many_strata": dict(covariates=["x1", "x2", "x3"], strata="stratum2", cluster="clu"),
    "efron_weighted_cluster": dict(covariates=COVS, strata="stratum", cluster="clu", weights="w"),
}


@pytest.mark.parametrize("case", sorted(COX_CASES))
def test_cox_matches_r_coxph(case, ref, ties):
    kw = dict(COX_CASES[case])
    duration = kw.pop("duration", "time")
    res = cox(ties, duration, "status", **kw)
    r = ref["cox"][case]
    tab = res.tidy()
    assert list(tab["term"]) == [
        n.replace("grpB", "grp[T.B]").replace("grpC", "grp[T.C]") for n in r["names"]
    ]
    close(tab["estimate"], r["coef"])
    close(tab["model_std_error"], r["se"])
    if r.get("robust_se") is not None:
        close(tab["std_error"], r["robust_se"])
        assert "sandwich" in res.method["se_type"]
    else:
        close(tab["std_error"], r["se"])
    close([res.extra["loglik_null"], res.extra["loglik"]], r["loglik"])
    close(np.array(res.extra["vcov"]).ravel(), np.array(r["var"]).ravel(), atol=1e-12)
    assert res.extra["n_events"] == r["nevent"]


@pytest.mark.parametrize(
    "case,kw",
    [
        ("counting_efron", dict(strata="stratum", cluster="id")),
        ("counting_breslow", dict(cluster="id", ties="breslow")),
    ],
)
def test_cox_counting_process_matches_r(case, kw, ref, counting):
    res = cox(counting, "stop", "status", ["x", "z"], entry="start", id_col="id", **kw)
    r = ref["cox"][case]
    close(res.tidy()["estimate"], r["coef"])
    close(res.tidy()["model_std_error"], r["se"])
    close(res.tidy()["std_error"], r["robust_se"])
    close([res.extra["loglik_null"], res.extra["loglik"]], r["loglik"])
    assert "counting process" in res.method["design"]


KM_CASES = {
    "log": dict(group="grp"),
    "loglog": dict(group="grp", conf_type="log-log"),
    "plain": dict(group="grp", conf_type="plain"),
    "week_log": dict(duration="week"),
    "week_loglog": dict(duration="week", conf_type="log-log"),
    "alpha10": dict(group="grp", alpha=0.10),
    "grp_stratum": dict(group="grp", strata="stratum"),
}


@pytest.mark.parametrize("case", sorted(KM_CASES))
def test_kaplan_meier_matches_r_survfit(case, ref, ties):
    kw = dict(KM_CASES[case])
    duration = kw.pop("duration", "time")
    km = kaplan_meier(ties, duration, "status", **kw)
    r = ref["km"][case]
    tab = km.tidy()
    assert list(tab["curve"]) == r["curve"]
    close(tab["time"], r["time"])
    np.testing.assert_array_equal(tab["n_risk"], r["n_risk"])
    np.testing.assert_array_equal(tab["n_event"], r["n_event"])
    np.testing.assert_array_equal(tab["n_censor"], r["n_censor"])
    close(tab["surv"], r["surv"])
    se = tab["se_cumhaz"].to_numpy()
    rse = arr(r["std_err_cumhaz"])
    finite = np.isfinite(rse)
    np.testing.assert_array_equal(np.isinf(se), ~finite & ~np.isnan(rse))
    close(se[finite], rse[finite])
    close(tab["conf_low"], r["lower"])
    close(tab["conf_high"], r["upper"])
    med = km.median()
    assert list(med["curve"]) == list(np.atleast_1d(r["median_curve"]))
    close(med["median"], r["median"])
    close(med["conf_low"], r["median_lower"])
    close(med["conf_high"], r["median_upper"])


def test_survival_at_matches_r_summary_times(ref, ties):
    km = kaplan_meier(ties, "time", "status", group="grp")
    r = ref["km_at"]
    at = km.survival_at([0, 10, 30, 45.5, 79, 80])
    assert list(at["curve"]) == r["curve"]
    close(at["time"], r["time"])
    np.testing.assert_array_equal(at["n_risk"], r["n_risk"])
    close(at["surv"], r["surv"])
    close(at["std_err"], r["std_err"], atol=1e-15)
    close(at["conf_low"], r["lower"])
    close(at["conf_high"], r["upper"])


LR_CASES = {
    "plain": dict(group="grp"),
    "strata": dict(group="grp", strata="stratum"),
    "strata_many": dict(group="grp", strata="stratum2"),
    "two_week_strata": dict(group="x2", strata="stratum", duration="week"),
}


@pytest.mark.parametrize("case", sorted(LR_CASES))
def test_logrank_matches_r_survdiff(case, ref, ties):
    kw = dict(LR_CASES[case])
    duration = kw.pop("duration", "time")
    res = logrank(ties, duration, "status", **kw)
    r = ref["logrank"][case]
    row = res.tidy().iloc[0]
    close(row["statistic"], r["chisq"])
    assert row["df"] == r["df"]
    close(row["p_value"], r["p"])
    groups = pd.DataFrame(res.extra["groups"])
    close(groups["observed"], r["obs"])
    close(groups["expected"], r["exp"])
    close(np.array(res.extra["variance"]).ravel(), np.array(r["var"]).ravel(), atol=1e-12)


@pytest.mark.parametrize(
    "case,tau", [("tau30", 30), ("tau60", 60), ("tau45_5", 45.5), ("tau80", 80)]
)
def test_rmst_matches_r_print_survfit_rmean(case, tau, ref, ties):
    res = rmst(ties, "time", "status", "grp", tau)
    r = ref["rmst"][case]
    tab = res.tidy()
    per_group = tab[tab["term"].str.startswith("RMST[")]
    assert list(per_group["term"]) == [f"RMST[{c}]" for c in r["curve"]]
    close(per_group["estimate"], r["rmean"])
    close(per_group["std_error"], r["se"])
    # difference: independent groups
    diff = tab.set_index("term").loc["grp=B - grp=A"]
    close(diff["estimate"], r["rmean"][1] - r["rmean"][0])
    close(diff["std_error"], np.hypot(r["se"][1], r["se"][0]))


def test_rmst_klein_formula_equals_survfit(ref):
    # the R script computes the Klein-Moeschberger variance by hand; it equals survfit's
    for k, (m, se) in ref["rmst"]["klein_tau30"].items():
        i = ref["rmst"]["tau30"]["curve"].index(f"grp={k}")
        close(m, ref["rmst"]["tau30"]["rmean"][i], rtol=1e-12)
        close(se, ref["rmst"]["tau30"]["se"][i], rtol=1e-12)


def test_rmst_weeks_matches_r(ref, ties):
    res = rmst(ties, "week", "status", "x2", 8)
    r = ref["rmst"]["week_tau8"]
    tab = res.tidy().iloc[:2]
    close(tab["estimate"], r["rmean"])
    close(tab["std_error"], r["se"])


@pytest.mark.parametrize(
    "case,kw", [("all", {}), ("grp", dict(group="grp")), ("week", dict(duration="week"))]
)
def test_cumulative_incidence_matches_r_multistate_survfit(case, kw, ref, ties):
    kw = dict(kw)
    duration = kw.pop("duration", "time")
    res = cumulative_incidence(ties, duration, "cause", **kw)
    r = ref["cif"][case]
    tab = res.tidy()
    for k in (1, 2):
        t = tab[tab["cause"] == k]
        assert list(t["curve"]) == r["curve"]
        close(t["time"], r["time"])
        np.testing.assert_array_equal(t["n_risk"], r["n_risk"])
        close(t["cif"], r[f"p{k}"], atol=1e-15)
        close(t["std_err"], r[f"se{k}"], atol=1e-15)
        close(t["conf_low"], r[f"lower{k}"])
        close(t["conf_high"], r[f"upper{k}"])


@pytest.mark.parametrize(
    "case,kw",
    [
        ("cause1", dict(cause=1)),
        ("cause2", dict(cause=2)),
        ("cause1_strata", dict(cause=1, strata="stratum")),
        ("cause1_week", dict(cause=1, duration="week")),
    ],
)
def test_fine_gray_matches_r_finegray_coxph(case, kw, ref, ties):
    kw = dict(kw)
    duration = kw.pop("duration", "time")
    res = competing_risks(ties, duration, "cause", COVS, model="fine-gray", **kw)
    r = ref["finegray"][case]
    tab = res.tidy()
    close(tab["estimate"], r["coef"])
    close(tab["model_std_error"], r["se"])
    close(tab["std_error"], r["robust_se"])
    close([res.extra["loglik_null"], res.extra["loglik"]], r["loglik"])


def test_cause_specific_matches_r_coxph_other_causes_censored(ref, ties):
    res = competing_risks(ties, "time", "cause", COVS, cause=2, model="cause-specific")
    r = ref["cox"]["cause_specific_2"]
    close(res.tidy()["estimate"], r["coef"])
    close(res.tidy()["std_error"], r["se"])


def test_reference_file_records_provenance(ref):
    assert ref["meta"]["survival"].startswith("3.")
    assert (REF / "survival_reference.R").read_text().count("coxph(") >= 10
