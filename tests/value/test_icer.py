"""wpeval.value.icer: Fieller sets and blocked incremental cost-effectiveness ratios.

Expected values come from R (tests/reference/fieller_reference.R: Fieller's formula written
out in R and confirmed by a grid + uniroot test inversion; estimatr's blocked differences in
means with the covariance obtained by polarisation and the set re-derived by inverting the
net-benefit test) and from small frames worked by hand in the comments.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.exceptions import DataContractError, ParameterError
from wpeval.value.icer import blocked_differences, fieller, icer, quadrant

REF = Path(__file__).parents[1] / "reference"


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "fieller_reference.json").read_text())


@pytest.mark.parametrize(
    "case", ["bounded", "bounded_negcov", "exclusive", "unbounded", "bounded_t30"]
)
def test_fieller_matches_r(ref, case):
    x = ref["fieller_closed_form"][case]
    fi = fieller(x["num"], x["den"], x["vn"], x["vd"], x["cv"], alpha=x["alpha"], df=x.get("df"))
    assert fi.kind == x["kind"]
    if fi.kind == "unbounded":
        assert fi.lower == -math.inf and fi.upper == math.inf
    else:
        assert fi.lower == pytest.approx(x["lower"], rel=1e-10)
        assert fi.upper == pytest.approx(x["upper"], rel=1e-10)


def test_fieller_set_membership_and_point_estimate(ref):
    x = ref["fieller_closed_form"]["exclusive"]
    fi = fieller(x["num"], x["den"], x["vn"], x["vd"], x["cv"])
    # exclusive: the ratio estimate 300/0.03 = 10,000 lies in the upper ray
    assert fi.ratio == pytest.approx(10_000)
    assert fi.contains(10_000) and fi.contains(-1e9) and not fi.contains(0.0)
    assert fi.g > 1  # g = 1.96^2 * 0.0004 / 0.03^2 = 1.707
    assert fi.g == pytest.approx(1.959964**2 * 0.0004 / 0.0009, rel=1e-5)
    assert "U" in fi.label()


def test_fieller_zero_variance_is_the_plain_ratio():
    # no sampling error at all: the set collapses to the point 500 / 0.1 = 5,000
    fi = fieller(500.0, 0.1, 0.0, 0.0, 0.0)
    assert fi.kind == "bounded"
    assert fi.lower == pytest.approx(5000) and fi.upper == pytest.approx(5000)


def test_fieller_rejects_bad_input():
    with pytest.raises(ParameterError, match="cov"):
        fieller(1.0, 1.0, 1.0, 1.0, 2.0)
    with pytest.raises(ParameterError, match="finite"):
        fieller(np.nan, 1.0, 1.0, 1.0)
    with pytest.raises(ParameterError, match="variances"):
        fieller(1.0, 1.0, -1.0, 1.0)


def test_blocked_covariance_by_hand():
    # Block 0 (n=4): prime A units (C, E) = (10, 1), (4, 0); prime B (2, 0), (0, 0).
    #   A: mean C 7, mean E 0.5; s_CC = (9+9)/1 = 18, s_EE = 0.5, s_CE = (3*.5 + -3*-.5) = 3
    #   B: mean C 1, mean E 0;   s_CC = 2, s_EE = 0, s_CE = 0
    #   dC_0 = 6, dE_0 = 0.5
    # Block 1 (n=6): A: (6, 1), (6, 1), (0, 0); B: (3, 1), (0, 0), (0, 0).
    #   A: mean C 4, mean E 2/3; s_CC = (4+4+16)/2 = 12, s_EE = (1/9+1/9+4/9)/2 = 1/3,
    #      s_CE = (2*1/3 + 2*1/3 + -4*-2/3)/2 = 2
    #   B: mean C 1, mean E 1/3; s_CC = (4+1+1)/2 = 3, s_EE = 1/3, s_CE = (2*2/3 + 2*1/3)/2 = 1
    #   dC_1 = 3, dE_1 = 1/3
    # w = (0.4, 0.6): dC = 0.4*6 + 0.6*3 = 4.2; dE = 0.4*0.5 + 0.6/3 = 0.4
    # Var(dC) = 0.16*(18/2 + 2/2) + 0.36*(12/3 + 3/3) = 1.6 + 1.8 = 3.4
    # Var(dE) = 0.16*(0.5/2 + 0) + 0.36*(1/9 + 1/9) = 0.04 + 0.08 = 0.12
    # Cov     = 0.16*(3/2 + 0) + 0.36*(2/3 + 1/3) = 0.24 + 0.36 = 0.6
    c = [10, 4, 2, 0, 6, 6, 0, 3, 0, 0]
    e = [1, 0, 0, 0, 1, 1, 0, 1, 0, 0]
    arm = [1, 1, 0, 0, 1, 1, 1, 0, 0, 0]
    blk = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    bd = blocked_differences(np.array(c), np.array(e), np.array(arm), np.array(blk))
    assert bd["d_cost"] == pytest.approx(4.2)
    assert bd["d_effect"] == pytest.approx(0.4)
    assert bd["var_cost"] == pytest.approx(3.4)
    assert bd["var_effect"] == pytest.approx(0.12)
    assert bd["cov"] == pytest.approx(0.6)
    # and through icer(): ratio 4.2 / 0.4 = 10.5
    df = pd.DataFrame(
        {
            "cpa": "X",
            "prime": np.where(np.array(arm) == 1, "A", "B"),
            "block": blk,
            "cost": c,
            "effect": e,
        }
    )
    row = icer(df, "cost", "effect", blocks=["block"]).tidy().iloc[0]
    assert row["estimate"] == pytest.approx(10.5)
    assert row["cov"] == pytest.approx(0.6)
    assert row["term"] == "A - B" and row["quadrant"] == "more effective, costs more"


@pytest.mark.parametrize("name", ["clear", "weak"])
def test_icer_matches_estimatr_and_net_benefit_inversion(ref, name):
    data = pd.read_csv(REF / "fieller_data.csv")
    data = data[data["dataset"] == name].assign(cpa="X")
    x = ref["fieller_data"][name]
    res = icer(data, "cost", "effect", blocks=["block"])
    row = res.tidy().iloc[0]
    for key in ("d_cost", "se_cost", "d_effect", "se_effect", "cov"):
        assert row[key] == pytest.approx(x[key], rel=1e-9), key
    assert row["interval_kind"] == x["kind"]
    assert row["conf_low"] == pytest.approx(x["lower"], rel=1e-9)
    assert row["conf_high"] == pytest.approx(x["upper"], rel=1e-9)
    lo, hi = x["net_benefit_inversion"]
    assert row["conf_low"] == pytest.approx(lo, rel=1e-7)
    assert row["conf_high"] == pytest.approx(hi, rel=1e-7)
    assert res.method["ci_method"].startswith("Fieller")
    assert "Blocked" in res.method["design"]


def test_bootstrap_interval_bounded_when_clear_unbounded_when_weak():
    data = pd.read_csv(REF / "fieller_data.csv").assign(cpa="X")
    clear = (
        icer(
            data[data.dataset == "clear"],
            "cost",
            "effect",
            blocks=["block"],
            method="bootstrap",
            draws=300,
            seed=3,
        )
        .tidy()
        .iloc[0]
    )
    weak = (
        icer(
            data[data.dataset == "weak"],
            "cost",
            "effect",
            blocks=["block"],
            method="bootstrap",
            draws=300,
            seed=3,
        )
        .tidy()
        .iloc[0]
    )
    assert clear["interval_kind"] == "bounded"
    # the bootstrap and Fieller intervals for a clear effect agree to within ~15%
    assert 3800 < clear["conf_low"] < 5300 and 6300 < clear["conf_high"] < 8700
    # dE = 0.0105 with SE 0.047: about 40% of draws flip its sign -> honest: unbounded
    assert weak["interval_kind"] == "unbounded" and weak["bootstrap_sign_flips"] > 0.2


def test_small_strata_are_dropped_and_counted():
    data = pd.read_csv(REF / "fieller_data.csv")
    data = data[data.dataset == "clear"].assign(cpa="X")
    extra = pd.DataFrame(
        {
            "dataset": "clear",
            "block": "tiny",
            "prime": ["A", "B"],
            "cost": [5000.0, 0.0],
            "effect": [1, 0],
            "cpa": "X",
        }
    )
    row = icer(pd.concat([data, extra]), "cost", "effect", blocks=["block"]).tidy().iloc[0]
    assert row["strata_dropped"] == 1 and row["rows_dropped_small_strata"] == 2
    assert row["n"] == len(data)
    # per-prime units behind the estimate (disclosure control), in the strata used only
    assert row["n_prime"] == (data.prime == "A").sum()
    assert row["n_reference"] == (data.prime == "B").sum()
    assert row["outcomes_prime"] == data.loc[data.prime == "A", "effect"].sum()
    assert row["outcomes_reference"] == data.loc[data.prime == "B", "effect"].sum()


def test_quadrants():
    assert quadrant(10, 0.1) == "more effective, costs more"
    assert quadrant(-10, 0.1) == "more effective, costs less"
    assert quadrant(10, -0.1) == "less effective, costs more"
    assert quadrant(-10, -0.1) == "less effective, costs less"


def test_icer_errors():
    df = pd.DataFrame(
        {"cpa": "X", "prime": ["A", "B"] * 4, "block": 1, "cost": ["1"] * 8, "effect": [0, 1] * 4}
    )
    with pytest.raises(DataContractError, match="cost must be numeric"):
        icer(df, "cost", "effect", blocks=["block"])
    with pytest.raises(DataContractError, match="needs columns"):
        icer(df, "nope", "effect", blocks=["block"])
    with pytest.raises(ParameterError, match="method"):
        icer(df, "cost", "effect", blocks=["block"], method="delta")


def test_public_names():
    import wpeval

    data = pd.read_csv(REF / "fieller_data.csv")
    data = data[data.dataset == "clear"].assign(cpa="X")
    row = wpeval.icer(data, "cost", "effect", blocks=["block"]).tidy().iloc[0]
    assert row["interval_kind"] == "bounded"
    assert wpeval.value.icer.fieller is wpeval.fieller
    for name in (
        "value_for_money",
        "cost_figures",
        "deadweight",
        "load_baseline",
        "sensitivity",
        "icer",
        "fieller",
    ):
        assert name in wpeval.__all__ and getattr(wpeval, name) is not None


def test_pair_without_usable_strata_is_skipped_with_a_warning():
    from wpeval.exceptions import DesignError, StatisticalWarning

    data = pd.read_csv(REF / "fieller_data.csv")
    data = data[data.dataset == "clear"].assign(cpa="X")
    lone = pd.DataFrame(
        {
            "dataset": "x",
            "block": ["b1", "b2"],
            "prime": ["C", "D"],
            "cost": [1.0, 2.0],
            "effect": [0, 1],
            "cpa": "Y",
        }
    )
    with pytest.warns(StatisticalWarning, match="1 prime pair"):
        res = icer(pd.concat([data, lone]), "cost", "effect", blocks=["block"])
    assert list(res.tidy()["cpa"]) == ["X"] and len(res.extra["pairs_skipped"]) == 1
    with pytest.raises(DesignError, match="no CPA"), pytest.warns(StatisticalWarning):
        icer(lone, "cost", "effect", blocks=["block"])
