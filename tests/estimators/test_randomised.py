"""Tests for wpeval.estimators.randomised against R estimatr 1.0.0 (frozen values from
tests/reference/estimatr_reference.R), linearmodels, and closed forms worked by hand."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.estimators import randomised as r
from wpeval.estimators import se as se_mod
from wpeval.exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning

REF = Path(__file__).resolve().parents[1] / "reference"
R = json.loads((REF / "estimatr_reference.json").read_text())
A = pd.read_csv(REF / "estimatr_blocked.csv")
P = pd.read_csv(REF / "estimatr_pairs.csv")
PC = pd.read_csv(REF / "estimatr_pairs_clustered.csv")
M = pd.read_csv(REF / "estimatr_mixed_pairs.csv")
RTOL = 1e-6

# case name in the JSON -> wpeval call (same method as estimatr; agreement to 1e-6 relative)
CASES = {
    "dim_standard": lambda: r.diff_in_means(A, "y", "z"),
    "dim_blocked": lambda: r.diff_in_means(A, "y", "z", blocks="b"),
    "dim_blocked_binary": lambda: r.diff_in_means(A, "ybin", "z", blocks="b"),
    "dim_blocked_conditions": lambda: r.diff_in_means(
        A, "y", "prime", blocks="b", condition1="C", condition2="A"
    ),
    "dim_clustered": lambda: r.diff_in_means(A, "y", "zc", clusters="cl"),
    "dim_block_clustered": lambda: r.diff_in_means(A, "y", "zc", clusters="cl", blocks="b"),
    "dim_pairs": lambda: r.diff_in_means(P, "y", "z", blocks="pair"),
    "dim_pairs_clustered": lambda: r.diff_in_means(PC, "y", "z", blocks="pair", clusters="cl"),
    "lm_lin_covariates": lambda: r.lin_adjusted(A, "y", "z", ["x", "f"]),
    "lm_lin_covariates_hc1": lambda: r.lin_adjusted(A, "y", "z", ["x", "f"], se_type="HC1"),
    "lm_lin_covariates_hc3": lambda: r.lin_adjusted(A, "y", "z", ["x", "f"], se_type="HC3"),
    "lm_lin_blocks": lambda: r.lin_adjusted(A, "y", "z", ["x"], blocks="b"),
    "lm_lin_blocks_only": lambda: r.lin_adjusted(A, "y", "z", [], blocks="b"),
    "ht_simple_estimated": lambda: r.horvitz_thompson(A, "y", "z"),
    "ht_simple_probs": lambda: r.horvitz_thompson(A, "y", "z", condition_prob="p_recv"),
    "ht_simple_constant": lambda: r.horvitz_thompson(
        A, "y", "z", condition_prob="p_recv", se_type="constant"
    ),
    "ht_complete": lambda: r.horvitz_thompson(A, "y", "z", simple=False),
    "ht_blocked_probs": lambda: r.horvitz_thompson(
        A, "y", "z", blocks="b", condition_prob="p_recv"
    ),
    "ht_blocked_estimated": lambda: r.horvitz_thompson(A, "y", "z", blocks="b"),
    "iv": lambda: r.iv_effect(A, "y_iv", "z", "d"),
    "iv_covariates": lambda: r.iv_effect(A, "y_iv", "z", "d", covariates=["x", "f"]),
    "iv_hc0": lambda: r.iv_effect(A, "y_iv", "z", "d", covariates=["x"], se_type="HC0"),
    "iv_hc1": lambda: r.iv_effect(A, "y_iv", "z", "d", covariates=["x"], se_type="HC1"),
    "iv_fixed_effects": lambda: r.iv_effect(A, "y_iv", "z", "d", covariates=["x"], blocks="b"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_estimatr(case):
    row = CASES[case]().tidy().iloc[0]
    ref = R[case]
    for col in ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"):
        assert row[col] == pytest.approx(ref[col], rel=RTOL), col
    if ref["df"] is None:  # Horvitz-Thompson: estimatr uses normal inference
        assert np.isnan(row["df"])
    else:
        assert row["df"] == pytest.approx(ref["df"], rel=RTOL)
    assert row["n"] == ref["n"]


def test_mixed_pairs_warns_and_matches_estimatr():
    # estimatr warns and uses the matched-pairs variance for every block
    with pytest.warns(StatisticalWarning, match="matched-pairs"):
        res = r.diff_in_means(M, "y", "z", blocks="pair")
    assert res.estimate == pytest.approx(R["dim_mixed_pairs"]["estimate"], rel=RTOL)
    assert res.std_error == pytest.approx(R["dim_mixed_pairs"]["std_error"], rel=RTOL)
    assert res.method["design"] == "Matched-pair"


def test_unblocked_by_hand():
    # treated 1,2,3 (mean 2, s^2 = 1); control 0,0,2,2 (mean 1, s^2 = 4/3)
    # se = sqrt(1/3 + (4/3)/4) = sqrt(2/3); df = (2/3)^2 / ((1/3)^2/2 + (1/3)^2/3) = 4.8
    d = pd.DataFrame({"y": [1, 2, 3, 0, 0, 2, 2], "t": [1, 1, 1, 0, 0, 0, 0]})
    row = r.diff_in_means(d, "y", "t").tidy().iloc[0]
    assert row["estimate"] == pytest.approx(1.0)
    assert row["std_error"] == pytest.approx(np.sqrt(2 / 3))
    assert row["df"] == pytest.approx(4.8)
    assert row["term"] == "t"


def test_condition_orientation_and_string_treatment():
    d = pd.DataFrame({"y": [1.0, 2, 3, 0, 0, 2, 2], "arm": list("BBBAAAA")})
    ab = r.diff_in_means(d, "y", "arm")  # default: condition2 = "B" (sorted)
    ba = r.diff_in_means(d, "y", "arm", condition1="B", condition2="A")
    assert ab.estimate == pytest.approx(1.0)
    assert ba.estimate == pytest.approx(-1.0)
    assert ab.tidy()["term"][0] == "arm: B - A"


def test_categorical_columns_and_missing_outcome_counted():
    d = A.copy()
    d["b"] = d["b"].astype("category")
    d.loc[[0, 5], "y"] = np.nan
    res = r.diff_in_means(d, "y", "z", blocks="b")
    assert res.extra["dropped"] == {"missing_outcome": 2}
    assert res.tidy()["n"][0] == len(A) - 2


def test_method_names_everything():
    res = r.diff_in_means(A, "y", "z", blocks="b")
    for key in ("estimator", "se_type", "ci_method", "design"):
        assert res.method[key]
    assert res.method["design"] == "Blocked"


def test_design_errors():
    d = A[["y", "z", "b"]].copy()
    one_arm = d[~((d["b"] == "B01") & (d["z"] == 1))]
    with pytest.raises(DesignError, match="lack one of the two conditions"):
        r.diff_in_means(one_arm, "y", "z", blocks="b")
    with pytest.warns(StatisticalWarning, match="dropped 1 block"):
        res = r.diff_in_means(one_arm, "y", "z", blocks="b", drop_incomplete_blocks=True)
    assert res.extra["dropped"]["incomplete_blocks"] == 1
    assert res.tidy()["n_blocks"][0] == 11
    # an arm with a single unit in a block of more than two units (not pair-matched)
    single = d[~((d["b"] == "B01") & (d["z"] == 1))].copy()
    single = pd.concat([single, d[(d["b"] == "B01") & (d["z"] == 1)].head(1)])
    with pytest.raises(DesignError, match="at least two treated and two control"):
        r.diff_in_means(single, "y", "z", blocks="b")
    # a block with one unit
    lone = pd.concat([d, pd.DataFrame({"y": [1.0], "z": [1], "b": ["B99"]})])
    with pytest.raises(DesignError, match="multiple units"):
        r.diff_in_means(lone, "y", "z", blocks="b")
    with pytest.raises(DesignError, match="same treatment condition"):
        r.diff_in_means(A, "y", "z", clusters="cl")
    with pytest.raises(ParameterError, match="alpha"):
        r.diff_in_means(A, "y", "z", alpha=1.5)
    with pytest.raises(ParameterError, match="condition1 and condition2"):
        r.diff_in_means(A, "y", "prime")
    with pytest.raises(DataContractError, match="not found"):
        r.diff_in_means(A, "nope", "z")
    with pytest.raises(DataContractError, match="numeric"):
        r.diff_in_means(A, "f", "z")


def test_clusters_must_nest_in_blocks():
    d = A.copy()
    d.loc[d.index[0], "b"] = "B02"  # cluster B01-C01 now spans two blocks
    with pytest.raises(DesignError, match="contained within blocks"):
        r.diff_in_means(d, "y", "zc", blocks="b", clusters="cl")


def test_condition_prob_constant_keeps_dim_varying_switches_to_ht():
    # p_recv is constant within block x arm: blocked difference in means is unbiased
    res = r.diff_in_means(A, "y", "z", blocks="b", condition_prob="p_recv")
    assert res.estimate == pytest.approx(R["dim_blocked"]["estimate"], rel=RTOL)
    # unblocked, probabilities vary across blocks -> Horvitz-Thompson (simple), as estimatr
    res = r.diff_in_means(A, "y", "z", condition_prob="p_recv")
    assert res.method["estimator"] == "Horvitz-Thompson"
    assert "switched" in res.method["notes"]
    assert res.estimate == pytest.approx(R["ht_simple_probs"]["estimate"], rel=RTOL)
    assert res.std_error == pytest.approx(R["ht_simple_probs"]["std_error"], rel=RTOL)


def test_ht_errors_and_within_block_variation():
    d = A.copy()
    d.loc[d.index[0], "p_recv"] = 1.0
    with pytest.raises(DataContractError, match="strictly between 0 and 1"):
        r.horvitz_thompson(d, "y", "z", condition_prob="p_recv")
    d = A.copy()
    d["p_recv"] = np.where(d["x"] > 40, 0.3, 0.7)  # varies inside blocks
    with pytest.raises(DesignError, match="fixed within blocks"):
        r.horvitz_thompson(d, "y", "z", blocks="b", condition_prob="p_recv")
    res = r.horvitz_thompson(d, "y", "z", blocks="b", condition_prob="p_recv", simple=True)
    # Bernoulli bound within blocks, by hand: sqrt(sum_b (n_b/N)^2 (sum Y1^2 + sum Y0^2)/n_b^2)
    p2 = np.where(d["z"] == 1, d["p_recv"], 1 - d["p_recv"])
    Y = np.where(d["z"] == 1, d["y"] / p2, d["y"] / (1 - p2))
    g = pd.DataFrame({"b": d["b"], "Y2": Y**2, "sY": np.where(d["z"] == 1, Y, -Y)})
    agg = g.groupby("b").agg(n=("Y2", "size"), q=("Y2", "sum"), s=("sY", "sum"))
    w = agg["n"] / agg["n"].sum()
    assert res.estimate == pytest.approx(float((w * agg["s"] / agg["n"]).sum()))
    assert res.std_error == pytest.approx(float(np.sqrt((w**2 * agg["q"] / agg["n"] ** 2).sum())))
    with pytest.raises(ParameterError, match="constant"):
        r.horvitz_thompson(A, "y", "z", blocks="b", se_type="constant")


def test_ht_complete_closed_form_equals_matrix_form():
    # the O(1) complete-randomisation variance equals the explicit double sums over the
    # N x N joint-probability matrix (estimatr's C++ loops), on a small block
    rng = np.random.default_rng(3)
    n, pr = 9, 0.4  # pr * n = 3.6: estimatr randomises the fractional unit
    z = np.zeros(n, int)
    z[:4] = 1
    y = rng.normal(size=n)
    p11, p10, p00 = se_mod.joint_pr_complete(pr, n)
    Y1, Y0 = y[z == 1] / pr, y[z == 0] / (1 - pr)
    v = np.sum(Y1**2) + np.sum(Y0**2)
    for i in range(len(Y1)):
        for j in range(len(Y1)):
            if i != j:
                v += Y1[i] * Y1[j] * (p11 - pr * pr) / p11
    for i in range(len(Y0)):
        for j in range(len(Y0)):
            if i != j:
                v += Y0[i] * Y0[j] * (p00 - (1 - pr) ** 2) / p00
    for i in range(len(Y1)):
        for j in range(len(Y0)):
            v -= 2 * Y1[i] * Y0[j] * (p10 - pr * (1 - pr)) / p10
    closed = se_mod.ht_youngs_complete(
        Y1.sum(), (Y1**2).sum(), 4, Y0.sum(), (Y0**2).sum(), 5, pr, n
    )
    assert closed == pytest.approx(v, rel=1e-12)


def test_lin_equals_dense_hc2():
    # Lin with block dummies via Frisch-Waugh equals HC2 from the explicit dense design
    d = A.copy()
    res = r.lin_adjusted(d, "y", "z", ["x"], blocks="b").tidy().iloc[0]
    D = pd.get_dummies(d["b"], drop_first=True, dtype=float).to_numpy()
    C = np.column_stack([d["x"].to_numpy(), D])
    C = C - C.mean(axis=0)
    z = d["z"].to_numpy(float)
    X = np.column_stack([np.ones(len(d)), z, C, C * z[:, None]])
    XtXi = np.linalg.inv(X.T @ X)
    beta = XtXi @ X.T @ d["y"].to_numpy()
    e = d["y"].to_numpy() - X @ beta
    V = se_mod.hc_vcov(X, e, XtXi, "HC2")
    assert res["estimate"] == pytest.approx(beta[1], rel=1e-10)
    assert res["std_error"] == pytest.approx(np.sqrt(V[1, 1]), rel=1e-10)


def test_iv_matches_linearmodels_hc0_hc1():
    from linearmodels.iv import IV2SLS

    d = A.copy()
    exog = pd.DataFrame({"const": 1.0, "x": d["x"]})
    fit0 = IV2SLS(d["y_iv"], exog, d[["d"]], d[["z"]]).fit(cov_type="robust", debiased=False)
    fit1 = IV2SLS(d["y_iv"], exog, d[["d"]], d[["z"]]).fit(cov_type="robust", debiased=True)
    ours0 = r.iv_effect(d, "y_iv", "z", "d", covariates=["x"], se_type="HC0")
    ours1 = r.iv_effect(d, "y_iv", "z", "d", covariates=["x"], se_type="HC1")
    assert ours0.estimate == pytest.approx(fit0.params["d"], rel=1e-10)
    assert ours0.std_error == pytest.approx(fit0.std_errors["d"], rel=1e-8)
    assert ours1.std_error == pytest.approx(fit1.std_errors["d"], rel=1e-8)


def test_iv_weak_instrument_warns():
    rng = np.random.default_rng(0)
    d = pd.DataFrame({"z": rng.integers(0, 2, 300), "y": rng.normal(size=300)})
    d["d"] = (rng.random(300) < 0.5).astype(int)  # receipt unrelated to allocation
    with pytest.warns(StatisticalWarning, match="weak instrument"):
        r.iv_effect(d, "y", "z", "d")


def test_se_registry_names():
    for name in (
        "welch",
        "neyman",
        "matched_pair",
        "matched_pair_clustered",
        "CR2",
        "HC",
        "youngs",
        "youngs_complete",
        "constant",
        "hajek",
    ):
        fn = se_mod.get_se(name)
        assert fn.__doc__ and len(fn.__doc__) > 50
    with pytest.raises(KeyError, match="known"):
        se_mod.get_se("HC9")


def test_no_warning_for_plain_blocked():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r.diff_in_means(A, "y", "z", blocks="b")


def test_zero_standard_error_warns():
    d = pd.DataFrame({"y": [1.0] * 6, "t": [0, 0, 0, 1, 1, 1]})
    with pytest.warns(StatisticalWarning, match="standard error"):
        res = r.diff_in_means(d, "y", "t")
    assert res.estimate == 0.0
