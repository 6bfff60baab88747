"""Tests for wpeval.inference.randomisation.

Expected values: exact p-values from R brute-force enumeration (combn, in
tests/reference/estimatr_reference.R), estimatr's blocked t statistic, and closed forms
(variance of the randomisation distribution of a blocked difference in means)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.exceptions import DesignError, ParameterError
from wpeval.inference.multiplicity import romano_wolf
from wpeval.inference.randomisation import randomisation_test

REF = Path(__file__).resolve().parents[1] / "reference"
R = json.loads((REF / "estimatr_reference.json").read_text())
RI = pd.read_csv(REF / "ri_exact.csv")
A = pd.read_csv(REF / "estimatr_blocked.csv")


@pytest.mark.parametrize(
    "alternative,key", [("two-sided", "p_two_sided"), ("greater", "p_greater"), ("less", "p_less")]
)
def test_exact_enumeration_matches_r(alternative, key):
    ref = R["ri_exact"]
    for i, tau0 in enumerate(ref["tau0"]):
        res = randomisation_test(
            RI, "y", "z", blocks="blk", null_value=tau0, alternative=alternative, ci=False
        )
        assert res.extra["exact"] and res.extra["n_assignments"] == ref["n_assignments"]
        assert res.tidy()["p_value"][0] == pytest.approx(ref[key][i], abs=1e-12)
        assert res.tidy()["statistic"][0] == pytest.approx(ref["observed"][i], rel=1e-10)
        assert res.extra["mc_se"][0] == 0


def test_exact_ci_is_the_inverted_test():
    res = randomisation_test(RI, "y", "z", blocks="blk", alpha=0.05)
    lo, hi = res.tidy()[["conf_low", "conf_high"]].iloc[0]
    assert lo < res.tidy()["estimate"][0] < hi

    def p(t):
        return randomisation_test(RI, "y", "z", blocks="blk", null_value=t, ci=False).tidy()[
            "p_value"
        ][0]

    eps = 1e-6
    assert p(lo + eps) > 0.05 and p(lo - eps) <= 0.05
    assert p(hi - eps) > 0.05 and p(hi + eps) <= 0.05
    # R's p at tau0 = 1 is 0.027 (rejected) and at 1.5 is 0.33 (kept): 1 < lo < 1.5
    assert 1.0 < lo < 1.5


def _small_design(binary: bool):
    rng = np.random.default_rng(11)
    blk = np.repeat(["a", "b", "c"], [6, 6, 7])
    z = np.concatenate([[1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0]])
    y = (rng.random(19) < 0.4).astype(float) if binary else rng.normal(size=19).round(3)
    return pd.DataFrame({"blk": blk, "z": z, "y": y + 0.5 * z})


@pytest.mark.parametrize("binary", [True, False])
def test_monte_carlo_samplers_match_exact_distribution(binary):
    d = _small_design(binary)
    exact = randomisation_test(d, "y", "z", blocks="blk", ci=False, exact=True)
    mc = randomisation_test(d, "y", "z", blocks="blk", ci=False, exact=False, draws=40000, seed=5)
    assert mc.extra["sampler"].startswith("multivariate" if binary else "uniform")
    ex_null = exact.extra["null_stats"][:, 0]
    mc_null = mc.extra["null_stats"][:, 0]
    # every tail probability of the exact distribution is reproduced within 4.5 MC SEs
    for q in np.quantile(ex_null, [0.05, 0.25, 0.5, 0.75, 0.95]):
        pe = np.mean(ex_null >= q - 1e-12)
        pm = np.mean(mc_null >= q - 1e-12)
        assert abs(pm - pe) < 4.5 * np.sqrt(pe * (1 - pe) / len(mc_null))
    assert abs(mc.tidy()["p_value"][0] - exact.tidy()["p_value"][0]) < 0.01


def test_null_variance_matches_closed_form():
    # Var of the blocked difference in means over complete randomisation within blocks:
    # sum_b w_b^2 S_b^2 (1/m_b + 1/(n_b - m_b)), S_b^2 the block variance (n_b - 1 denominator)
    res = randomisation_test(A, "y", "z", blocks="b", draws=20000, seed=1, ci=False)
    g = A.groupby("b").agg(n=("y", "size"), m=("z", "sum"), s2=("y", "var"))
    w = g["n"] / g["n"].sum()
    v = float((w**2 * g["s2"] * (1 / g["m"] + 1 / (g["n"] - g["m"]))).sum())
    sd = res.tidy()["std_error"][0]
    assert sd == pytest.approx(np.sqrt(v), rel=0.02)  # MC error of an SD at 20k draws ~0.5%
    assert abs(res.extra["null_summary"]["y"]["mean"]) < 4 * np.sqrt(v / 20000)


def test_plus_one_pvalue_and_mc_se():
    res = randomisation_test(A, "y", "z", blocks="b", draws=999, seed=2, ci=False)
    p = res.tidy()["p_value"][0]
    assert p >= 1 / 1000
    count = round(p * 1000) - 1
    assert p == pytest.approx((1 + count) / 1000)
    assert res.extra["mc_se"][0] == pytest.approx(np.sqrt(count / 999 * (1 - count / 999) / 999))
    again = randomisation_test(A, "y", "z", blocks="b", draws=999, seed=2, ci=False)
    assert again.tidy()["p_value"][0] == p  # reproducible with a seed


def test_studentised_statistic_is_estimatr_t():
    res = randomisation_test(A, "y", "z", blocks="b", statistic="t", draws=200, seed=1, ci=False)
    assert res.tidy()["statistic"][0] == pytest.approx(R["dim_blocked"]["statistic"], rel=1e-9)
    assert res.tidy()["estimate"][0] == pytest.approx(R["dim_blocked"]["estimate"], rel=1e-9)


def test_studentised_ci_contains_estimate():
    res = randomisation_test(A, "y", "z", blocks="b", statistic="t", draws=500, seed=3)
    row = res.tidy().iloc[0]
    assert row["conf_low"] < row["estimate"] < row["conf_high"]


def test_several_outcomes_share_draws_for_romano_wolf():
    res = randomisation_test(
        A, ["y", "ybin", "x"], "z", blocks="b", statistic="t", draws=500, seed=4, ci=False
    )
    tab = res.tidy()
    assert list(tab["term"]) == ["y", "ybin", "x"]
    null = res.extra["null_stats"]
    assert null.shape == (500, 3)
    np.testing.assert_allclose(
        tab["p_romano_wolf"], romano_wolf(res.extra["observed_stats"], null), rtol=1e-12
    )
    assert (tab["p_romano_wolf"] >= tab["p_value"] - 1e-12).all()
    # each column is the single-outcome test with the same draws
    single = randomisation_test(A, "y", "z", blocks="b", statistic="t", draws=500, seed=4, ci=False)
    assert single.tidy()["statistic"][0] == pytest.approx(tab["statistic"][0])


def test_errors():
    with pytest.raises(ParameterError, match="statistic"):
        randomisation_test(A, "y", "z", statistic="ks")
    with pytest.raises(ParameterError, match="draws"):
        randomisation_test(A, "y", "z", draws=0)
    d = A[~((A["b"] == "B01") & (A["z"] == 1))]
    with pytest.raises(DesignError, match="fewer than 1"):
        randomisation_test(d, "y", "z", blocks="b")
    pairs = pd.read_csv(REF / "estimatr_pairs.csv")
    with pytest.raises(DesignError, match="fewer than 2"):
        randomisation_test(pairs, "y", "z", blocks="pair", statistic="t")
    ok = randomisation_test(pairs, "y", "z", blocks="pair", draws=300, seed=1)
    assert ok.extra["sampler"] == "uniform keys + partition"


def test_unblocked_uses_plain_difference():
    res = randomisation_test(A, "y", "z", draws=200, seed=1, ci=False)
    assert res.tidy()["estimate"][0] == pytest.approx(R["dim_standard"]["estimate"], rel=1e-12)
    assert res.method["design"] == "complete randomisation"


def test_randomisation_plot():
    import matplotlib

    matplotlib.use("Agg")
    from wpeval.plots.randomised import plot_randomisation

    res = randomisation_test(RI, "y", "z", blocks="blk", ci=False)
    ax = plot_randomisation(res)
    assert sum(p.get_height() for p in ax.patches) == res.extra["n_assignments"]


def test_drop_incomplete_blocks_counted():
    d = A[~((A["b"] == "B01") & (A["z"] == 1))]
    with pytest.warns(Warning, match="dropped 1 block"):
        res = randomisation_test(
            d, ["y", "x"], "z", blocks="b", draws=100, seed=1, ci=False, drop_incomplete_blocks=True
        )
    assert res.extra["dropped"]["incomplete_blocks"] == 1
    kept = A[A["b"] != "B01"]
    ref = randomisation_test(kept, ["y", "x"], "z", blocks="b", draws=100, seed=1, ci=False)
    np.testing.assert_allclose(res.tidy()["estimate"], ref.tidy()["estimate"], rtol=1e-12)
