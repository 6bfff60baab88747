"""Case-weighted log-rank test (``logrank(..., weights=)``) against R's robust Cox score test.

Expected values: ``tests/reference/survival_logrank_weighted.json`` written by
``tests/reference/survival_logrank_weighted.R`` (R survival 3.5-3): ``summary(coxph(Surv ~ group
+ strata(s), weights = w, robust = TRUE, ties = "breslow"))$robscore``, with each group's weighted
O - E and the robust covariance of O - E from R's score residuals at beta = 0. Real data sets
exported by ``tests/reference/survival_weighted_data.py``; agreement asserted to 1e-6 relative
(observed: about 3e-13 or better).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.estimators.survival import logrank
from wpeval.exceptions import DataContractError, ParameterError

REF = Path(__file__).resolve().parents[1] / "reference"
RTOL = 1e-6


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "survival_logrank_weighted.json").read_text())


def _csv(name):
    return pd.read_csv(REF / f"survival_weighted_{name}.csv", float_precision="round_trip")


@pytest.fixture(scope="module")
def vet():
    return _csv("veteran").assign(one=1.0)


@pytest.fixture(scope="module")
def gbsg():
    return _csv("gbsg2")


CASES = {
    # key: (data, duration, event, group, strata, weights)
    "vet_trt_w": ("vet", "time", "status", "trt", None, "w"),
    "vet_cell_w": ("vet", "time", "status", "celltype", None, "w"),
    "vet_cell_strat_w": ("vet", "time", "status", "celltype", "trt", "w"),
    "vet_trt_wi": ("vet", "time", "status", "trt", None, "wi"),
    "vet_cell_wi": ("vet", "time", "status", "celltype", None, "wi"),
    "gbsg_horth_w": ("gbsg", "time", "cens", "horTh", None, "w"),
    "gbsg_tgrade_strat_w": ("gbsg", "time", "cens", "tgrade", "horTh", "w"),
    "vet_cell_one": ("vet", "time", "status", "celltype", None, "one"),
}


def _run(key, vet, gbsg):
    which, dur, ev, group, strata, w = CASES[key]
    data = vet if which == "vet" else gbsg
    return logrank(data, dur, ev, group, strata=strata, weights=w)


@pytest.mark.parametrize("key", sorted(CASES))
def test_matches_r_robscore(key, vet, gbsg, ref):
    r = ref[key]
    res = _run(key, vet, gbsg)
    row = res.tidy().iloc[0]
    np.testing.assert_allclose(row["statistic"], r["robscore"], rtol=RTOL)
    np.testing.assert_allclose(row["estimate"], r["robscore"], rtol=RTOL)
    np.testing.assert_allclose(row["p_value"], r["p_value"], rtol=RTOL)
    assert row["df"] == r["df"] == len(r["levels"]) - 1
    assert row["n"] == r["n"]
    groups = pd.DataFrame(res.extra["groups"])
    assert groups["group"].tolist() == [f"{CASES[key][3]}={lev}" for lev in r["levels"]]
    for col in ("observed", "expected", "o_minus_e", "sum_weights"):
        np.testing.assert_allclose(groups[col], r[col], rtol=RTOL, err_msg=col)
    V = np.asarray(r["variance"])
    np.testing.assert_allclose(res.extra["variance"], V, rtol=RTOL, atol=1e-12 * np.abs(V).max())
    np.testing.assert_allclose(groups["var_o_minus_e"], np.diag(V), rtol=RTOL)
    assert res.method["estimator"].startswith(
        "weighted log-rank: robust score test of the Cox model at beta = 0, as R "
        "coxph(weights=, robust=TRUE) robscore"
    )
    assert res.method["ties"] == "breslow"
    assert "weighted log-rank" in row["term"]


def test_stratified_case_names_strata(vet, gbsg):
    res = _run("gbsg_tgrade_strat_w", vet, gbsg)
    assert "horTh" in res.method["design"] and res.extra["n_strata"] == 2
    assert "stratified" in res.tidy()["term"].iloc[0]


def test_unit_weights_are_not_survdiff(vet, ref):
    """With all weights 1 the robust score test keeps survdiff's O - E but not its variance."""
    r = ref["vet_cell_one"]
    w = logrank(vet, "time", "status", "celltype", weights="one")
    u = logrank(vet, "time", "status", "celltype")
    np.testing.assert_allclose(u.estimate, r["survdiff_chisq"], rtol=RTOL)
    np.testing.assert_allclose(w.estimate, r["robscore"], rtol=RTOL)
    assert abs(w.estimate - u.estimate) > 1  # 31.50 against 25.40
    np.testing.assert_allclose(
        [g["o_minus_e"] for g in w.extra["groups"]],
        [g["o_minus_e"] for g in u.extra["groups"]],
        rtol=1e-10,
        atol=1e-10,
    )
    assert w.method["estimator"] != u.method["estimator"]


def test_ties_check_recorded(ref):
    """R: survdiff = coxph model score test only with ties = "exact" (the script asserts it)."""
    t = ref["ties_check"]
    np.testing.assert_allclose(t["score_exact"], t["survdiff"], rtol=1e-10)
    assert abs(t["score_breslow"] - t["survdiff"]) > 1e-3


def test_group_order_does_not_matter(vet):
    """The test does not depend on which group is left out (reference level)."""
    a = logrank(vet, "time", "status", "celltype", weights="w")
    flipped = vet.assign(celltype=vet["celltype"].map(lambda s: {"adeno": "zz"}.get(s, s)))
    b = logrank(flipped, "time", "status", "celltype", weights="w")
    np.testing.assert_allclose(a.estimate, b.estimate, rtol=1e-10)


def test_integer_weights_equal_row_copies_in_o_and_e(vet):
    """Integer weights give the same O and E as copying rows (the variance differs: robust)."""
    a = logrank(vet, "time", "status", "trt", weights="wi")
    rep = vet.loc[vet.index.repeat(vet["wi"])]
    b = logrank(rep, "time", "status", "trt")
    for ga, gb in zip(a.extra["groups"], b.extra["groups"]):
        np.testing.assert_allclose(ga["observed"], gb["observed"], rtol=1e-12)
        np.testing.assert_allclose(ga["expected"], gb["expected"], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# bad input
def test_negative_weights_name_column_and_rows(vet):
    bad = vet.assign(w=vet["w"].where(~vet["person_id"].isin([3, 7]), -1.0))
    with pytest.raises(DataContractError, match="negative") as e:
        logrank(bad, "time", "status", "trt", weights="w")
    assert e.value.column == "w" and e.value.examples == [3, 7]
    assert "'w'" in str(e.value) and "[3, 7]" in str(e.value)


def test_missing_weights_name_column_and_rows(vet):
    bad = vet.assign(w=vet["w"].where(vet["person_id"] != 5))
    with pytest.raises(DataContractError, match="missing") as e:
        logrank(bad, "time", "status", "trt", weights="w")
    assert e.value.column == "w" and e.value.examples == [5]


def test_zero_and_infinite_weights_refused(vet):
    bad = vet.assign(w=vet["w"].where(vet["person_id"] != 2, 0.0))
    with pytest.raises(DataContractError, match="zero") as e:
        logrank(bad, "time", "status", "trt", weights="w")
    assert e.value.column == "w" and e.value.examples == [2]
    bad = vet.assign(w=vet["w"].where(vet["person_id"] != 4, np.inf))
    with pytest.raises(DataContractError, match="infinite") as e:
        logrank(bad, "time", "status", "trt", weights="w")
    assert e.value.examples == [4]


def test_weights_with_rho_refused(vet):
    for rho in (1, 0.5):
        with pytest.raises(ParameterError, match="only with rho = 0"):
            logrank(vet, "time", "status", "trt", weights="w", rho=rho)


def test_weights_column_checks(vet):
    with pytest.raises(ParameterError, match="column name"):
        logrank(vet, "time", "status", "trt", weights=["w"])
    with pytest.raises(DataContractError, match="nope"):
        logrank(vet, "time", "status", "trt", weights="nope")
    with pytest.raises(DataContractError, match="numeric"):
        logrank(vet, "time", "status", "trt", weights="celltype")
