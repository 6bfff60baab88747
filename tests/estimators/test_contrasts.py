"""Tests for wpeval.estimators.contrasts.compare_primes.

Expected values: R (tests/reference/estimatr_reference.R): estimatr's blocked
difference_in_means and lm_lin on each pair's rows, and an R implementation of the Hajek
inverse-probability-weighted blocked contrasts built from lm_robust(y ~ 1, weights, HC1)
per stratum x prime; Holm adjustment from statsmodels."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from wpeval.estimators.contrasts import compare_primes
from wpeval.exceptions import DataContractError, ParameterError, StatisticalWarning

REF = Path(__file__).resolve().parents[1] / "reference"
R = json.loads((REF / "estimatr_reference.json").read_text())
A = pd.read_csv(REF / "estimatr_blocked.csv").assign(cpa="CPA98")
W = pd.read_csv(REF / "contrast_weighted.csv")


def test_unweighted_equals_estimatr_blocked_dim_per_pair():
    res = compare_primes(A, "y", blocks=["b"], vs_average=False)
    tab = res.tidy().set_index("term")
    assert list(tab.index) == ["A - B", "A - C", "B - C"]
    for term, key in (("A - B", "contrast_AB"), ("A - C", "contrast_AC"), ("B - C", "contrast_BC")):
        ref = R[key]
        for col in ("estimate", "std_error", "p_value", "conf_low", "conf_high", "df"):
            assert tab.loc[term, col] == pytest.approx(ref[col], rel=1e-6), (term, col)
        assert tab.loc[term, "n"] == ref["n"]
        assert tab.loc[term, "n_strata_used"] == 12
        assert tab.loc[term, "n_dropped"] == 0
    assert not tab["weighted"].any()
    assert res.method["ci_method"] == "t"


def test_weighted_equals_r_hajek_contrasts():
    res = compare_primes(W, "y")  # blocks district x period, allocation_prob present
    tab = res.tidy().set_index("term")
    ref = R["contrast_weighted"]
    assert set(tab.index) == set(ref)
    for term, vals in ref.items():
        assert tab.loc[term, "estimate"] == pytest.approx(vals["estimate"], rel=1e-6)
        assert tab.loc[term, "std_error"] == pytest.approx(vals["std_error"], rel=1e-6)
    assert tab["weighted"].all()
    assert "Hajek" in res.method["estimator"]
    assert res.method["ci_method"] == "normal"
    assert (tab.loc[["P1 - CPA average"], "contrast"] == "vs_cpa_average").all()


def test_lin_method_equals_lm_lin():
    res = compare_primes(A, "y", blocks=["b"], method="lin", covariates=["x"])
    row = res["A - C"]
    ref = R["contrast_lin_AC"]
    for col in ("estimate", "std_error", "df", "p_value"):
        assert row[col] == pytest.approx(ref[col], rel=1e-6)


def test_holm_columns_per_cpa_and_overall():
    two = pd.concat([A, A.assign(cpa="CPA99", y=A["y"] * 1.5 + (A["prime"] == "B"))])
    res = compare_primes(two, "y", blocks=["b"])
    tab = res.tidy()
    for _c, sub in tab.groupby("cpa"):
        expected = multipletests(sub["p_value"], method="holm")[1]
        np.testing.assert_allclose(sub["p_adjusted_cpa"], expected, rtol=1e-12)
    np.testing.assert_allclose(
        tab["p_adjusted"], multipletests(tab["p_value"], method="holm")[1], rtol=1e-12
    )
    assert len(tab) == 12  # per CPA: 3 pairs + 3 primes vs average


def test_dropped_strata_are_counted():
    d = A[~((A["b"] == "B01") & (A["prime"] == "C"))]  # B01 has no C
    d = d[~((d["b"] == "B02") & (d["prime"] == "B"))].copy()  # B02 has no B
    one = d[(d["b"] == "B03") & (d["prime"] == "A")].index[1:]
    d = d.drop(one)  # B03 has a single A
    with pytest.warns(StatisticalWarning, match="single referral"):
        tab = compare_primes(d, "y", blocks=["b"]).tidy().set_index("term")
    assert tab.loc["A - C", "n_dropped"] == 1
    assert tab.loc["A - C", "n_dropped_small"] == 1
    assert tab.loc["A - C", "n_strata_used"] == 10
    assert tab.loc["B - C", "n_dropped"] == 2
    assert tab.loc["B - C", "n_strata_used"] == 10
    assert tab.loc["A - B", "n_dropped"] == 1
    assert tab.loc["A - CPA average", "n_dropped"] == 2
    assert tab.loc["A - CPA average", "n_strata_used"] == 9
    # the pair estimate is estimatr's blocked DiM restricted to the strata used (by hand)
    sub = d[d["prime"].isin(["B", "C"]) & ~d["b"].isin(["B01", "B02"])]
    g = sub.groupby(["b", "prime"])["y"].agg(["mean", "size"]).unstack()
    size = g["size"].sum(axis=1)
    by_hand = float(((g["mean"]["B"] - g["mean"]["C"]) * size / size.sum()).sum())
    assert tab.loc["B - C", "estimate"] == pytest.approx(by_hand, rel=1e-12)


def test_missing_outcome_counted_and_period_derived():
    d = W.drop(columns="period").copy()
    quarters = {"2014Q1": "2014-02-10", "2014Q2": "2014-05-10"}
    d["referral_date"] = pd.to_datetime(W["period"].map(quarters))
    d.loc[d.index[:7], "y"] = np.nan
    res = compare_primes(d, "y")
    assert res.extra["n_missing_outcome"] == 7
    full = compare_primes(W.assign(y=d["y"]).dropna(subset=["y"]), "y")
    np.testing.assert_allclose(res.tidy()["estimate"], full.tidy()["estimate"], rtol=1e-12)


def test_cpa_filter_and_categoricals():
    two = pd.concat([A, A.assign(cpa="CPA99")])
    for c in ("cpa", "prime", "b"):
        two[c] = two[c].astype("category")
    res = compare_primes(two, "ybin", cpa="CPA99", blocks=["b"])
    assert set(res.tidy()["cpa"]) == {"CPA99"}
    with pytest.raises(ParameterError, match="not in the data"):
        compare_primes(two, "ybin", cpa="CPA01", blocks=["b"])


def test_bad_arguments():
    with pytest.raises(ParameterError, match="romano"):
        compare_primes(A, "y", blocks=["b"], adjust="romano-wolf")
    with pytest.raises(ParameterError, match="covariates"):
        compare_primes(A, "y", blocks=["b"], covariates=["x"])
    with pytest.raises(ParameterError, match="method"):
        compare_primes(A, "y", blocks=["b"], method="ipw")
    bad = W.copy()
    bad.loc[bad.index[0], "allocation_prob"] = 0.0
    with pytest.raises(DataContractError, match="allocation probabilities"):
        compare_primes(bad, "y")
    with pytest.raises(DataContractError, match="not found"):
        compare_primes(A, "y", blocks=["district"])


def test_no_warning_on_complete_design():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare_primes(A, "y", blocks=["b"])


def test_forest_plot():
    import matplotlib

    matplotlib.use("Agg")
    from wpeval.plots import plot_contrasts

    res = compare_primes(W, "y")
    ax = plot_contrasts(res)
    assert len(ax.get_yticks()) == len(res.tidy())
    assert ax.get_yticklabels()[0].get_text() == "CPA99: P1 - P2"
    ax = plot_contrasts(res, contrast="pairwise")
    assert len(ax.get_yticks()) == 3
    with pytest.raises(ParameterError, match="nothing to plot"):
        plot_contrasts(res, cpa="CPA01")
