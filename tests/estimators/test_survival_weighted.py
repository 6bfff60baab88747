"""Weighted and delayed-entry Kaplan-Meier, Nelson-Aalen and G-rho log-rank against R survival.

Expected values: ``tests/reference/survival_weighted.json`` written by
``tests/reference/survival_weighted.R`` (R survival 3.5-3) from the real data sets exported by
``tests/reference/survival_weighted_data.py``; agreement asserted to 1e-6 relative (observed:
about 1e-14, see the README there).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.estimators.survival import (
    CumulativeHazard,
    SurvivalCurves,
    kaplan_meier,
    logrank,
    nelson_aalen,
)
from wpeval.estimators.survival._weighting import fast_blocks
from wpeval.estimators.survival.km import _group_cumprod, _group_cumsum, blocks
from wpeval.exceptions import DataContractError, ParameterError

REF = Path(__file__).resolve().parents[1] / "reference"
RTOL = 1e-6
ATOL = 1e-14


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "survival_weighted.json").read_text())


def _csv(name):
    return pd.read_csv(REF / f"survival_weighted_{name}.csv", float_precision="round_trip")


@pytest.fixture(scope="module")
def vet():
    return _csv("veteran")


@pytest.fixture(scope="module")
def heart():
    return _csv("heart")


@pytest.fixture(scope="module")
def gbsg():
    return _csv("gbsg2")


def _arr(x):
    """R values as floats (jsonlite writes NA / Inf as the strings "NA" / "Inf")."""
    x = x if isinstance(x, list) else [x]
    return np.array([np.nan if v in (None, "NA", "NaN") else float(v) for v in x], dtype=float)


def _label(k: str) -> str:
    """R pads strata labels to equal width ("tgrade=I  , ..."): drop the padding."""
    return re.sub(r"\s+(,|$)", r"\1", k)


def rel_diff(a, b) -> float:
    """Largest relative difference (NaN == NaN; absolute below 1e-14)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    both_nan = np.isnan(a) & np.isnan(b)
    assert not np.any(np.isnan(a) ^ np.isnan(b)), "NaN pattern differs from R"
    a, b = a[~both_nan], b[~both_nan]
    if len(a) == 0:
        return 0.0
    assert np.array_equal(np.isinf(a), np.isinf(b)), "Inf pattern differs from R"
    fin = np.isfinite(b)
    a, b = a[fin], b[fin]
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), ATOL / RTOL), initial=0.0))


def close(a, b):
    d = rel_diff(a, b)
    assert d <= RTOL, f"max relative difference {d:.3g} > {RTOL}"
    return d


def _aligned(tab: pd.DataFrame, r: dict) -> pd.DataFrame:
    """Our table rows in R's order (matched on curve label and time)."""
    labels = np.repeat([_label(k) for k in r["strata"]], r["strata_rows"])
    key = pd.DataFrame({"curve": labels, "time": _arr(r["time"])})
    out = key.merge(tab, on=["curve", "time"], how="left", validate="one_to_one")
    assert len(out) == len(tab), "R and wpeval list different (curve, time) rows"
    return out


def check_km(res: SurvivalCurves, r: dict, weighted: bool):
    t = _aligned(res.tidy(), r)
    close(t["wt_risk" if weighted else "n_risk"], _arr(r["n_risk"]))
    close(t["wt_event" if weighted else "n_event"], _arr(r["n_event"]))
    close(t["wt_censor" if weighted else "n_censor"], _arr(r["n_censor"]))
    close(t["surv"], _arr(r["surv"]))
    se_col = "se_cumhaz" if r["logse"] else "std_err"
    close(t[se_col], _arr(r["std_err"]))
    close(t["conf_low"], _arr(r["lower"]))
    close(t["conf_high"], _arr(r["upper"]))


# ---------------------------------------------------------------------------------------------
# Kaplan-Meier
def test_km_noninteger_weights_ij(vet, ref):
    res = kaplan_meier(vet, "time", "status", group="trt", weights="w")
    r = ref["km_vet_w"]
    assert r["logse"] is False  # R reports the SE of S itself for IJ curves
    check_km(res, r, weighted=True)
    med = res.median()
    close(med["median"], _arr(r["median"]))
    close(med["conf_low"], _arr(r["lcl"]))
    close(med["conf_high"], _arr(r["ucl"]))
    assert res.method["estimator"].startswith("Kaplan-Meier product-limit, case-weighted")
    assert "IJ robust" in res.method["se_type"]
    assert res.method["rows_dropped"] == 0


@pytest.mark.parametrize(
    "conf_type, key", [("log-log", "km_vet_w_loglog"), ("plain", "km_vet_w_plain")]
)
def test_km_weighted_conf_types(vet, ref, conf_type, key):
    res = kaplan_meier(vet, "time", "status", group="trt", weights="w", conf_type=conf_type)
    check_km(res, ref[key], weighted=True)


def test_km_integer_weights_frequency_and_robust(vet, ref):
    freq = kaplan_meier(vet, "time", "status", group="trt", weights="wi", robust=False)
    check_km(freq, ref["km_vet_wi_freq"], weighted=True)
    assert "frequency weights" in freq.method["se_type"]
    ij = kaplan_meier(vet, "time", "status", group="trt", weights="wi")
    check_km(ij, ref["km_vet_wi_robust"], weighted=True)


def test_km_unweighted_robust(vet, ref):
    res = kaplan_meier(vet, "time", "status", group="celltype", robust=True)
    check_km(res, ref["km_vet_robust"], weighted=False)


def test_km_delayed_entry(heart, ref):
    res = kaplan_meier(heart, "stop", "event", entry="start", id_col="id")
    check_km(res, ref["km_heart"], weighted=False)
    r = ref["km_heart"]
    med = res.median()
    close(med["median"], _arr(r["median"]))
    close(med["conf_low"], _arr(r["lcl"]))
    close(med["conf_high"], _arr(r["ucl"]))
    assert "delayed entry" in res.method["estimator"]
    assert res.method["se_type"] == "Greenwood"
    res = kaplan_meier(heart, "stop", "event", group="surgery", entry="start")
    check_km(res, ref["km_heart_surgery"], weighted=False)


def test_km_delayed_entry_weighted(heart, ref):
    res = kaplan_meier(heart, "stop", "event", group="transplant", entry="start", weights="w")
    check_km(res, ref["km_heart_w"], weighted=True)


def test_km_weighted_many_curves(gbsg, ref):
    res = kaplan_meier(gbsg, "time", "cens", group=["horTh", "tgrade"], weights="w")
    r = ref["km_gbsg_w"]
    check_km(res, r, weighted=True)
    close(res.median()["median"], _arr(r["median"]))


def test_km_weights_one_equal_unweighted_counts(vet):
    """Unit weights give the unweighted curve; IJ differs from Greenwood only in the SE."""
    plain = kaplan_meier(vet, "time", "status", group="trt").tidy()
    ones = kaplan_meier(vet.assign(one=1.0), "time", "status", group="trt", weights="one")
    t = ones.tidy()
    np.testing.assert_allclose(t["surv"], plain["surv"], rtol=1e-14)
    np.testing.assert_array_equal(t["n_risk"], plain["n_risk"])
    np.testing.assert_allclose(t["wt_risk"], plain["n_risk"])
    g = kaplan_meier(
        vet.assign(one=1.0), "time", "status", group="trt", weights="one", robust=False
    )
    np.testing.assert_allclose(g.tidy()["std_err"], plain["std_err"], rtol=1e-13)


def test_km_unweighted_unchanged_bitwise(vet):
    """No weights / entry / robust: exactly the original Greenwood path."""
    a = kaplan_meier(vet, "time", "status", group="trt").tidy()
    b = kaplan_meier(vet, "time", "status", group="trt", robust=None).tidy()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert "wt_risk" not in a.columns


# ---------------------------------------------------------------------------------------------
# Nelson-Aalen
def check_na(res: CumulativeHazard, r: dict, weighted: bool):
    t = _aligned(res.tidy(), r)
    close(t["wt_risk" if weighted else "n_risk"], _arr(r["n_risk"]))
    close(t["cumhaz"], _arr(r["cumhaz"]))
    close(t["std_err"], _arr(r["std_chaz"]))
    return t


def test_na_unweighted(vet, ref):
    r = ref["na_vet"]
    res = nelson_aalen(vet, "time", "status", group="trt")
    t = check_na(res, r, weighted=False)
    close(t["conf_low"], _arr(r["log_lower"]))
    close(t["conf_high"], _arr(r["log_upper"]))
    plain = _aligned(nelson_aalen(vet, "time", "status", group="trt", conf_type="plain").tidy(), r)
    close(plain["conf_low"], _arr(r["plain_lower"]))
    close(plain["conf_high"], _arr(r["plain_upper"]))
    # the same limits R gives for exp(-H) (stype = 2, log CI)
    close(plain["conf_high"], _arr(r["minus_log_lower"]))
    close(plain["conf_low"], np.abs(_arr(r["minus_log_upper"])))
    assert res.method["estimator"] == "Nelson-Aalen cumulative hazard"
    assert res.method["se_type"].startswith("Aalen")


def test_na_weighted_ij(vet, ref):
    r = ref["na_vet_w"]
    t = check_na(nelson_aalen(vet, "time", "status", group="trt", weights="w"), r, weighted=True)
    close(t["conf_low"], _arr(r["log_lower"]))
    close(t["conf_high"], _arr(r["log_upper"]))


def test_na_integer_weights_frequency(vet, ref):
    res = nelson_aalen(vet, "time", "status", group="trt", weights="wi", robust=False)
    check_na(res, ref["na_vet_wi_freq"], weighted=True)


def test_na_delayed_entry(heart, ref):
    r = ref["na_heart"]
    t = check_na(nelson_aalen(heart, "stop", "event", entry="start"), r, weighted=False)
    close(t["conf_low"], _arr(r["log_lower"]))
    res = nelson_aalen(heart, "stop", "event", group="transplant", entry="start", weights="w")
    check_na(res, ref["na_heart_w"], weighted=True)


def test_na_weighted_many_curves(gbsg, ref):
    res = nelson_aalen(gbsg, "time", "cens", group=["horTh", "tgrade"], weights="w")
    check_na(res, ref["na_gbsg_w"], weighted=True)
    at = res.cumhaz_at([0.0, 500.0, 1e5])
    assert (at.loc[at["time"] == 0.0, "cumhaz"] == 0).all()
    assert "cumhaz_at_last_time" in res.summary()


# ---------------------------------------------------------------------------------------------
# log-rank and G-rho
def check_sd(res, r):
    close([res.estimate], [r["chisq"]])
    g = pd.DataFrame(res.extra["groups"])
    close(g["observed"], _arr(r["obs"]))
    close(g["expected"], _arr(r["exp"]))
    k = len(g)
    close(np.asarray(res.extra["variance"]).ravel(), _arr(r["var"]).reshape(k, k).T.ravel())
    assert int(res.tidy()["df"].iloc[0]) == r["df"]


@pytest.mark.parametrize(
    "key, kwargs",
    [
        ("sd_vet_rho0", dict(group="trt")),
        ("sd_vet_rho1", dict(group="trt", rho=1)),
        ("sd_vet_cell_rho1", dict(group="celltype", rho=1)),
        ("sd_gbsg_rho0", dict(group="horTh", strata="tgrade", data="gbsg")),
        ("sd_gbsg_rho1", dict(group="horTh", strata="tgrade", rho=1, data="gbsg")),
        ("sd_gbsg_rho05", dict(group="tgrade", rho=0.5, data="gbsg")),
    ],
)
def test_survdiff_rho(vet, gbsg, ref, key, kwargs):
    kwargs = dict(kwargs)
    which = kwargs.pop("data", "vet")
    data, dur, ev = (vet, "time", "status") if which == "vet" else (gbsg, "time", "cens")
    res = logrank(data, dur, ev, **kwargs)
    check_sd(res, ref[key])
    if kwargs.get("rho", 0) == 1:
        assert "Peto-Peto" in res.method["estimator"]


def test_logrank_rho0_unchanged(vet):
    a = logrank(vet, "time", "status", "trt")
    b = logrank(vet, "time", "status", "trt", rho=0)
    assert a.estimate == b.estimate
    assert a.method["estimator"] == "k-group log-rank test"


def test_logrank_weights_refused(vet):
    # weights are supported with rho = 0 only (test_survival_logrank_weighted.py)
    with pytest.raises(ParameterError, match="only with rho = 0"):
        logrank(vet, "time", "status", "trt", weights="w", rho=1)
    with pytest.raises(ParameterError, match="rho"):
        logrank(vet, "time", "status", "trt", rho=float("nan"))


# ---------------------------------------------------------------------------------------------
# bad input
@pytest.mark.parametrize("fn", [kaplan_meier, nelson_aalen])
def test_bad_weights_and_entry(vet, heart, fn):
    bad = vet.copy()
    bad.loc[[3, 7], "w"] = -1.0
    with pytest.raises(DataContractError) as e:
        fn(bad, "time", "status", weights="w")
    assert e.value.column == "w" and e.value.rule == "weights_nonnegative"
    assert e.value.examples == [4, 8]
    bad = vet.copy()
    bad.loc[5, "w"] = np.nan
    with pytest.raises(DataContractError) as e:
        fn(bad, "time", "status", weights="w")
    assert e.value.rule == "weights_not_missing" and e.value.examples == [6]
    bad = vet.copy()
    bad.loc[5, "w"] = np.inf
    with pytest.raises(DataContractError, match="infinite"):
        fn(bad, "time", "status", weights="w")
    with pytest.raises(DataContractError) as e:
        fn(vet.assign(w=0.0), "time", "status", weights="w")
    assert e.value.rule == "weights_positive_sum"
    bad = heart.copy()
    bad.loc[2, "start"] = bad.loc[2, "stop"]
    with pytest.raises(DataContractError) as e:
        fn(bad, "stop", "event", entry="start")
    assert e.value.column == "start" and e.value.rule == "entry_before_exit"
    assert e.value.examples == [3]
    bad = heart.copy()
    bad.loc[4, "start"] = np.nan
    with pytest.raises(DataContractError) as e:
        fn(bad, "stop", "event", entry="start")
    assert e.value.rule == "entry_not_missing" and e.value.examples == [5]
    with pytest.raises(DataContractError, match="numeric"):
        fn(vet.assign(w="a"), "time", "status", weights="w")
    with pytest.raises(ParameterError, match="robust"):
        fn(vet, "time", "status", weights="w", robust="yes")


def test_rows_dropped_counted(vet):
    d = vet.copy()
    d.loc[[0, 1], "time"] = np.nan
    with pytest.warns(Warning, match="dropped 2"):
        res = kaplan_meier(d, "time", "status", weights="w")
    assert res.method["rows_dropped"] == 2
    with pytest.warns(Warning, match="dropped 2"):
        na = nelson_aalen(d, "time", "status", weights="w")
    assert na.method["rows_dropped"] == 2 and na.curves["n"].iloc[0] == len(d) - 2


def test_nelson_aalen_bad_conf_type(vet):
    with pytest.raises(ParameterError, match="conf_type"):
        nelson_aalen(vet, "time", "status", conf_type="log-log")


@pytest.mark.parametrize("kind", ["days", "fractional", "wide"])
def test_fast_blocks_equal_blocks(kind):
    """The sort-free blocks of the weighted path equal the shared ``blocks`` (``_blocks``,
    still importable from ``km`` with ``_group_cumprod`` / ``_group_cumsum``)."""
    assert callable(_group_cumprod) and callable(_group_cumsum)
    rng = np.random.default_rng(7)
    n = 5000
    code = rng.integers(0, 7, n)
    if kind == "days":
        t = rng.integers(0, 300, n).astype(float)
    elif kind == "fractional":
        t = np.round(rng.exponential(50, n), 1)
    else:  # many distinct times x many codes: the np.unique fallback
        t, code = rng.exponential(50, n), rng.integers(0, 3000, n)
    ev = (rng.random(n) < 0.6).astype(float)
    a, b = blocks(t, ev, code), fast_blocks(t, ev, code)
    for k in ("code", "time", "n_at", "n_risk", "row_block", "n_event"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
