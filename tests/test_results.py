"""EffectTable's statsmodels-style accessors agree with tidy() for every kind of estimator, and
conf_int(alpha) at another level is the Wald interval worked from estimate and SE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import wpeval
from wpeval.estimators import randomised as r
from wpeval.estimators.survival import cox

REF = Path(__file__).resolve().parent / "reference"


@pytest.fixture(scope="module")
def results():
    blocked = pd.read_csv(REF / "estimatr_blocked.csv")
    nsw = pd.read_csv(REF / "regression_nsw.csv")
    ties = pd.read_csv(REF / "survival_ties.csv")
    f = "re78 ~ treat + age + educ + black"
    return {
        "regress": wpeval.regress(nsw, f, se_type="HC2"),
        "regress_cr2": wpeval.regress(
            blocked, "y ~ z + x", fixed_effects="b", clusters="cl", se_type="CR2"
        ),
        "logit": wpeval.logit(nsw, "employed78 ~ treat + age + educ"),
        "logit_coef": wpeval.logit(nsw, "employed78 ~ treat + age + educ", effects="coef"),
        "cox": cox(ties, "time", "status", ["x1", "x2"]),
        "lin": r.lin_adjusted(blocked, "y", "z", ["x", "f"]),
        "iv": r.iv_effect(blocked, "y_iv", "z", "d"),
        "dim": r.diff_in_means(blocked, "y", "z", blocks="b"),
    }


HAS_VCOV = {"regress", "regress_cr2", "logit", "logit_coef", "cox", "lin", "iv"}


@pytest.mark.parametrize(
    "name", ["regress", "regress_cr2", "logit", "logit_coef", "cox", "lin", "iv", "dim"]
)
def test_accessors_agree_with_tidy(results, name):
    res = results[name]
    tab = res.tidy()
    terms = list(tab["term"])
    for attr, col in [
        ("params", "estimate"),
        ("bse", "std_error"),
        ("tvalues", "statistic"),
        ("pvalues", "p_value"),
    ]:
        s = getattr(res, attr)
        assert list(s.index) == terms
        np.testing.assert_array_equal(s.to_numpy(), tab[col].to_numpy(dtype=float))
    ci = res.conf_int()
    np.testing.assert_array_equal(ci["lower"], tab["conf_low"])
    np.testing.assert_array_equal(ci["upper"], tab["conf_high"])
    assert res.nobs == int(tab["n"].iloc[0])
    if name in HAS_VCOV:
        V = res.cov_params()
        assert list(V.index) == terms and list(V.columns) == terms
        np.testing.assert_allclose(np.sqrt(np.diag(V)), tab["std_error"], rtol=1e-12)
        np.testing.assert_allclose(V.to_numpy(), V.to_numpy().T, rtol=1e-12, atol=0)
    else:
        with pytest.raises(ValueError, match="covariance"):
            res.cov_params()
    md, tex = res.to_markdown(), res.to_latex()
    for t in terms:
        assert str(t) in md
    assert "\\begin{tabular}" in tex and res.method["se_type"].split(" ")[0] in tex
    assert res.method_line() in md


def test_conf_int_at_another_alpha_is_the_wald_interval(results):
    reg = results["regress"]
    tab = reg.tidy()
    crit = stats.t.ppf(0.95, tab["df"])  # 90% interval, t with the residual df
    ci = reg.conf_int(0.10)
    np.testing.assert_allclose(ci["lower"], tab["estimate"] - crit * tab["std_error"])
    np.testing.assert_allclose(ci["upper"], tab["estimate"] + crit * tab["std_error"])
    lg = results["logit"].tidy()  # normal reference for the logit
    ci = results["logit"].conf_int(0.10)
    np.testing.assert_allclose(ci["upper"], lg["estimate"] + 1.6448536269514722 * lg["std_error"])
    # the stored level returns the stored limits
    np.testing.assert_array_equal(reg.conf_int(0.05)["lower"], tab["conf_low"])


def test_conf_int_refuses_non_wald_intervals_at_another_alpha():
    from wpeval.results import EffectTable

    res = EffectTable(
        pd.DataFrame(
            {
                "term": ["a"],
                "estimate": [0.3],
                "std_error": [0.1],
                "conf_low": [0.2],
                "conf_high": [0.5],
            }
        ),
        {
            "estimator": "rate",
            "se_type": "binomial",
            "ci_method": "Wilson score",
            "design": "none",
            "alpha": 0.05,
        },
    )
    with pytest.raises(ValueError, match="Wilson"):
        res.conf_int(0.1)
