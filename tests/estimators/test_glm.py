"""wpeval.logit against R glm + sandwich with hand-worked average marginal effects (frozen in
tests/reference/regression_reference.json by regression_reference.R; see the header of
tests/estimators/test_regression.py for the data). Agreement required: 1e-6 relative."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.estimators.glm import binary_sensitivity, logit
from wpeval.exceptions import DataContractError, DesignError

REF = Path(__file__).resolve().parents[1] / "reference"
F_NSW = "employed78 ~ treat + age + educ + black + hisp + marr + nodegree + re74 + re75"
F_STAR = "read_hi ~ classk + freelunk + race + sex + totexpk"


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "regression_reference.json").read_text())


@pytest.fixture(scope="module")
def nsw():
    return pd.read_csv(REF / "regression_nsw.csv")


@pytest.fixture(scope="module")
def star():
    d = pd.read_csv(REF / "regression_star.csv")
    return d[d["school"] != 2].reset_index(drop=True)  # school 2: outcome constant (see R)


def _check(res, expected):
    got = res.tidy().set_index("term").loc[expected["term"]]
    np.testing.assert_allclose(got["estimate"], expected["estimate"], rtol=1e-6)
    np.testing.assert_allclose(got["std_error"], expected["std_error"], rtol=1e-6)


def test_nsw_coefficients_and_marginal_effects(ref, nsw):
    _check(logit(nsw, F_NSW, effects="coef"), ref["nsw_logit"])
    ame = logit(nsw, F_NSW)
    _check(ame, ref["nsw_logit_ame"])
    kinds = ame.tidy().set_index("term")["kind"]
    assert kinds["treat"] == "discrete change" and kinds["age"] == "derivative"


def test_star_school_dummies_and_clusters(ref, star):
    _check(
        logit(star, F_STAR, fixed_effects="school", clusters="school", effects="coef"),
        ref["star_logit_fe_cl"],
    )
    res = logit(star, F_STAR, fixed_effects="school", clusters="school")
    _check(res, ref["star_logit_fe_cl_ame"])
    assert not any(t.startswith("C(school)") for t in res.tidy()["term"])


def test_derivative_effects_equal_statsmodels_get_margeff(nsw):
    import statsmodels.formula.api as smf

    fit = smf.logit(F_NSW, nsw).fit(disp=0, method="newton", tol=1e-12)
    mf = fit.get_margeff(at="overall", method="dydx").summary_frame()
    ours = logit(nsw, F_NSW)
    for v in ("age", "educ", "re74", "re75"):
        np.testing.assert_allclose(ours[v]["estimate"], mf.loc[v, "dy/dx"], rtol=1e-7)
        np.testing.assert_allclose(ours[v]["std_error"], mf.loc[v, "Std. Err."], rtol=1e-5)


def test_separated_stratum_and_non_binary_outcome_are_refused(nsw):
    full = pd.read_csv(REF / "regression_star.csv")
    with pytest.raises(DesignError, match="constant within 1 level"):
        logit(full, F_STAR, fixed_effects="school")
    with pytest.raises(DataContractError, match="0/1"):
        logit(nsw, "re78 ~ treat")


def test_binary_sensitivity_rows_match_their_estimators(star):
    """Each row is the named estimator run on its own (the lpm row is regress with absorbed
    schools; the design-based row is the blocked difference in means)."""
    from wpeval.estimators.randomised import diff_in_means
    from wpeval.estimators.regression import regress

    d = star[star["classk"] != "regular.with.aide"].copy()
    both = d.groupby("school")["classk"].transform("nunique") == 2
    d = d[both].copy()
    res = binary_sensitivity(d, "read_hi", "classk", covariates=["freelunk"], blocks="school")
    tab = res.tidy().set_index("term")
    dim = diff_in_means(d, "read_hi", "classk", blocks="school")
    assert tab.loc["design-based difference in means", "estimate"] == pytest.approx(dim.estimate)
    d["small"] = (d["classk"] == "small.class").astype(float)
    lpm = regress(d, "read_hi ~ small + freelunk", fixed_effects="school")
    assert tab.loc["linear probability model", "estimate"] == pytest.approx(
        lpm["small"]["estimate"], rel=1e-10
    )
    assert tab.loc["linear probability model", "std_error"] == pytest.approx(
        lpm["small"]["std_error"], rel=1e-10
    )
    assert (tab["condition2"] == "small.class").all()
    # three estimates of one contrast: close for a randomised experiment
    assert np.ptp(tab["estimate"]) < 2 * tab["std_error"].min()
