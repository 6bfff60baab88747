"""Newton convergence, aliased terms and near-tied times against R survival's defaults.

Source of every expected value: tests/reference/numerics_reference.R (R survival 3.5.3 at its
default ``coxph.control()``: eps = 1e-9, iter.max = 20, toler.chol = eps^0.75, toler.inf =
sqrt(eps), timefix = TRUE), which writes the data (numerics_*.csv, doubles with 17 significant
digits, read here with pandas' round-trip parser so Python sees exactly R's doubles) and
numerics_reference.json. R is not called here.
"""

from __future__ import annotations

import json
import warnings
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
from wpeval.exceptions import DesignError, StatisticalWarning

REF = Path(__file__).resolve().parents[1] / "reference"


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "numerics_reference.json").read_text())


def _csv(name):
    return pd.read_csv(REF / name, float_precision="round_trip")


@pytest.fixture(scope="module")
def mono():
    return _csv("numerics_monotone.csv")


@pytest.fixture(scope="module")
def aliased():
    return _csv("numerics_aliased.csv")


@pytest.fixture(scope="module")
def neartie():
    return _csv("numerics_neartie.csv")


def arr(x):
    return np.array([np.nan if v is None else v for v in np.atleast_1d(x)], dtype=float)


def fit_recording(fn):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = fn()
    assert not [w for w in rec if not issubclass(w.category, StatisticalWarning)]
    return res, [str(w.message) for w in rec]


# ------------------------------------------------------------------------ monotone likelihood
MONO = {
    "one": {"covariates": ["g"]},
    "two": {"covariates": ["z", "g"]},
    "two_strata": {"covariates": ["z", "g"], "strata": "s"},
    "one_breslow": {"covariates": ["g"], "ties": "breslow"},
}


@pytest.mark.parametrize("case", sorted(MONO))
def test_monotone_likelihood_matches_r_with_warning(case, ref, mono):
    r = ref["monotone"][case]
    res, msgs = fit_recording(lambda: cox(mono, "time", "status", **MONO[case]))
    # R: "Loglik converged before variable k; coefficient may be infinite."
    assert "Loglik converged" in str(r["warnings"])
    # the same log partial likelihood as R (at beta = 0 and at the returned point)
    np.testing.assert_allclose(
        [res.extra["loglik_null"], res.extra["loglik"]], r["loglik"], rtol=0, atol=1e-6
    )
    assert res.extra["converged"] and res.extra["iterations"] == r["iter"]
    # g (no events in g = 1) and only g is flagged, in the warning, extra and method notes
    assert res.extra["may_be_infinite"] == ["g"]
    assert any("['g'] may be infinite" in m for m in msgs)
    assert "may be infinite" in res.method["notes"] and "'g'" in res.method["notes"]
    tab = res.tidy().set_index("term")
    assert np.all(np.isfinite(tab["estimate"])) and tab.loc["g", "estimate"] < -15
    if "z" in tab.index:  # the finite coefficient is R's
        np.testing.assert_allclose(tab.loc["z", "estimate"], r["coef"][0], rtol=1e-6)


def test_monotone_fine_gray_is_warned_not_an_error(mono):
    # competing-risks version of the same data (cause 2 = nobody): g = 1 has no cause-1 events
    res, msgs = fit_recording(lambda: competing_risks(mono, "time", "status", ["z", "g"]))
    assert res.extra["may_be_infinite"] == ["g"]
    assert any("may be infinite" in m for m in msgs)


# ------------------------------------------------------------------------------ aliased terms
ALIASED = {
    "cox": (["x1", "f", "x2", "sx", "h"], "s"),
    "cox_unstratified": (["x1", "f", "x2", "h"], None),
}


def _check_aliased(res, r, msgs):
    tab = res.tidy()
    est, se = tab["estimate"].to_numpy(), tab["std_error"].to_numpy()
    r_coef, r_se = arr(r["coef"]), arr(r["se"])
    np.testing.assert_array_equal(np.isnan(est), np.isnan(r_coef))  # NA in the same places
    np.testing.assert_array_equal(np.isnan(se), np.isnan(r_se))
    keep = ~np.isnan(r_coef)
    np.testing.assert_allclose(est[keep], r_coef[keep], rtol=1e-6)
    np.testing.assert_allclose(se[keep], r_se[keep], rtol=1e-6)
    np.testing.assert_allclose(res.extra["loglik"], r["loglik"][1], rtol=1e-9)
    names = tab["term"].to_numpy()[~keep].tolist()
    assert res.extra["aliased"] == names
    assert any("aliased covariates" in m and all(n in m for n in names) for m in msgs)
    return names


@pytest.mark.parametrize("case", sorted(ALIASED))
def test_aliased_terms_are_na_as_r(case, ref, aliased):
    covs, strata = ALIASED[case]
    res, msgs = fit_recording(lambda: cox(aliased, "time", "status", covs, strata=strata))
    names = _check_aliased(res, ref["aliased"][case], msgs)
    expected = ["x2", "sx", "h[T.q]"] if strata else ["x2", "h[T.q]"]
    assert names == expected
    with pytest.raises(DesignError, match="aliased covariates"):
        cox(aliased, "time", "status", covs, strata=strata, singular="error")


def test_aliased_terms_fine_gray_as_r(ref, aliased):
    res, msgs = fit_recording(
        lambda: competing_risks(aliased, "time", "cause", ["x1", "f", "x2", "h"])
    )
    assert _check_aliased(res, ref["aliased"]["finegray"], msgs) == ["x2", "h[T.q]"]


# ---------------------------------------------------------------------------- near-tied times
def test_data_contain_near_ties(ref, neartie):
    # e.g. sqrt(2)^2 = 2.0000000000000004 next to 2: more distinct raw values than days
    raw = neartie["time"].to_numpy()
    assert len(np.unique(raw)) == ref["neartie"]["n_distinct_raw"]
    assert len(np.unique(np.round(raw))) == ref["neartie"]["n_distinct_fixed"]
    assert ref["neartie"]["n_distinct_raw"] > ref["neartie"]["n_distinct_fixed"]


@pytest.mark.parametrize("timefix, key", [(True, "km"), (False, "km_timefix_false")])
def test_km_near_ties_equal_r(timefix, key, ref, neartie):
    r = ref["neartie"][key]
    tab = kaplan_meier(neartie, "time", "status", group="grp", timefix=timefix).tidy()
    assert tab["curve"].tolist() == r["curve"]
    np.testing.assert_array_equal(tab["time"], np.array(r["time"], dtype=float))  # exact
    np.testing.assert_array_equal(tab["n_risk"], r["n_risk"])
    np.testing.assert_array_equal(tab["n_event"], r["n_event"])
    for ours, theirs in [
        ("surv", "surv"),
        ("se_cumhaz", "std_err"),
        ("conf_low", "lower"),
        ("conf_high", "upper"),
    ]:
        np.testing.assert_allclose(tab[ours], arr(r[theirs]), rtol=1e-9)


@pytest.mark.parametrize("ties, key", [("efron", "cox"), ("breslow", "cox_breslow")])
def test_cox_near_ties_equal_r(ties, key, ref, neartie):
    r = ref["neartie"][key]
    res = cox(neartie, "time", "status", ["x", "grp"], ties=ties)
    tab = res.tidy()
    np.testing.assert_allclose(tab["estimate"], r["coef"], rtol=1e-9)
    np.testing.assert_allclose(tab["std_error"], r["se"], rtol=1e-9)
    np.testing.assert_allclose(
        [res.extra["loglik_null"], res.extra["loglik"]], r["loglik"], rtol=1e-9
    )
    assert res.extra["n_timefix"] > 0
    # without timefix the tie groups differ, and so does the Efron/Breslow likelihood
    raw = cox(neartie, "time", "status", ["x", "grp"], ties=ties, timefix=False)
    assert abs(raw.extra["loglik_null"] - r["loglik"][0]) > 1e-6


def test_other_estimators_near_ties_equal_r(ref, neartie):
    r = ref["neartie"]
    lr = logrank(neartie, "time", "status", "grp")
    np.testing.assert_allclose(lr.tidy()["statistic"].iloc[0], r["logrank"]["chisq"], rtol=1e-9)
    rm = rmst(neartie, "time", "status", "grp", tau=30).tidy()
    np.testing.assert_allclose(rm["estimate"].iloc[:2], r["rmst"]["rmean"], rtol=1e-9)
    np.testing.assert_allclose(rm["std_error"].iloc[:2], r["rmst"]["se"], rtol=1e-9)
    ci = cumulative_incidence(neartie, "time", "cause").tidy()
    c1 = ci[ci["cause"] == 1]
    np.testing.assert_array_equal(c1["time"], np.array(r["cif"]["time"], dtype=float))
    np.testing.assert_allclose(c1["cif"], r["cif"]["p1"], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(c1["std_err"], r["cif"]["se1"], rtol=1e-9, atol=1e-15)
    fg = competing_risks(neartie, "time", "cause", ["x", "grp"]).tidy()
    np.testing.assert_allclose(fg["estimate"], r["finegray"]["coef"], rtol=1e-6)
    np.testing.assert_allclose(fg["std_error"], r["finegray"]["se"], rtol=1e-6)
