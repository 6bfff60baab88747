"""hazard_ratio_pairs: every pair's hazard ratio from one Cox fit, checked against refitting
the same model with another reference level (an independent fit, not the kit's formula)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wpeval.estimators.survival import cox
from wpeval.estimators.survival.pairs import hazard_ratio_pairs
from wpeval.exceptions import ParameterError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n = 3000
    arm = rng.choice(["a", "b", "c"], n)
    x = rng.normal(size=n)
    rate = np.exp(np.select([arm == "b", arm == "c"], [0.3, -0.2], 0.0) + 0.5 * x) / 50
    t = np.ceil(rng.exponential(1 / rate))
    c = np.ceil(rng.uniform(20, 150, n))
    return pd.DataFrame(
        {
            "time": np.minimum(t, c),
            "event": (t <= c).astype(int),
            "arm": arm,
            "x": x,
            "s": rng.integers(0, 4, n),
        }
    )


def test_pairs_agree_with_refitting_with_each_reference(data):
    fit = cox(data, "time", "event", ["arm", "x"], strata="s")
    pairs = hazard_ratio_pairs(fit, "arm", ["a", "b", "c"]).set_index(["level_a", "level_b"])
    # refit with b as the reference (rename so that b sorts first): HR(c vs b) is a coefficient
    relabel = data.assign(arm=data["arm"].map({"a": "z_a", "b": "b", "c": "c"}))
    refit = cox(relabel, "time", "event", ["arm", "x"], strata="s").tidy().set_index("term")
    row = pairs.loc[("b", "c")]  # b vs c = -(c vs b)
    assert row["log_hr"] == pytest.approx(-refit.loc["arm[T.c]", "estimate"], rel=1e-7)
    assert row["std_error"] == pytest.approx(refit.loc["arm[T.c]", "std_error"], rel=1e-6)
    assert row["p_value"] == pytest.approx(refit.loc["arm[T.c]", "p_value"], rel=1e-5)
    # a vs b = -(b vs a): the original fit's coefficient of b, negated
    orig = fit.tidy().set_index("term")
    assert pairs.loc[("a", "b"), "log_hr"] == pytest.approx(-orig.loc["arm[T.b]", "estimate"])
    assert pairs.loc[("a", "b"), "std_error"] == pytest.approx(orig.loc["arm[T.b]", "std_error"])
    assert len(pairs) == 3


def test_interval_is_exp_of_the_wald_interval(data):
    fit = cox(data, "time", "event", ["arm"])
    p = hazard_ratio_pairs(fit, "arm", ["a", "b", "c"], alpha=0.1).iloc[0]
    z = 1.6448536269514722
    assert p["hr_conf_low"] == pytest.approx(np.exp(p["log_hr"] - z * p["std_error"]))
    assert p["hr_conf_high"] == pytest.approx(np.exp(p["log_hr"] + z * p["std_error"]))


def test_errors_name_the_problem(data):
    fit = cox(data, "time", "event", ["arm", "x"])
    with pytest.raises(ParameterError, match="no terms 'x\\[T"):
        hazard_ratio_pairs(fit, "x", ["a"])
    with pytest.raises(ParameterError, match="one reference level"):
        hazard_ratio_pairs(fit, "arm", ["b", "c"])


def test_beside_blocked_lines_up_pairs_with_the_blocked_contrasts():
    from wpeval.estimators.survival import compare_primes_survival
    from wpeval.estimators.survival.pairs import beside_blocked

    rng = np.random.default_rng(5)
    n = 4000
    prime = rng.choice(["Prime A", "Prime B", "Prime C"], n)
    t = np.ceil(rng.exponential(np.where(prime == "Prime B", 60, 80)))
    c = np.ceil(rng.uniform(30, 200, n))
    df = pd.DataFrame(
        {
            "cpa": "CPA01",
            "prime": prime,
            "district": rng.choice(["d1", "d2", "d3"], n),
            "period": "2012Q1",
            "days": np.minimum(t, c),
            "event": (t <= c).astype(int),
        }
    )
    blocked = compare_primes_survival(df, "days", "event", horizons=[28, 56], id_col=None)
    fit = cox(df, "days", "event", ["prime"], strata="district")
    out = beside_blocked(blocked, fit)
    assert list(out[["prime_a", "prime_b"]].itertuples(index=False, name=None)) == [
        ("Prime A", "Prime B"),
        ("Prime A", "Prime C"),
        ("Prime B", "Prime C"),
    ]
    tb = blocked.tidy()
    pick = tb[(tb["prime_a"] == "Prime B") & (tb["quantity"] == "rmst") & (tb["horizon"] == 56)]
    row = out.iloc[2]
    assert row["rmst_8w"] == pick["estimate"].iloc[0]
    assert row["rmst_8w_p"] == pick["p_value"].iloc[0]
    hr = hazard_ratio_pairs(fit, "prime", ["Prime A", "Prime B", "Prime C"]).iloc[2]
    assert row["hazard_ratio"] == hr["hazard_ratio"]
    # B has the shorter mean time (scale 60 < 80): HR(B vs C) > 1, B - C survival < 0
    assert row["hazard_ratio"] > 1 and row["survival_8w"] < 0
