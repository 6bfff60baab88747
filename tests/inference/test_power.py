"""Analytic power (wpeval.inference.power) against Bloom's formula worked by hand.

t quantiles quoted below are from R 4.x (``qt``), typed in here, not computed by wpeval:
    qt(0.975, 1998) = 1.961152014836700   qt(0.8, 1998) = 0.841801170923045
    qt(0.975, 796)  = 1.962948684439220   qt(0.8, 796)  = 0.842073025582080
    qt(0.95, 796)   = 1.646770153175660
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wpeval.exceptions import ParameterError
from wpeval.inference.power import mde_multiplier, power, power_at


def _frame(strata: list[tuple[int, int]], cpa: str = "C1") -> pd.DataFrame:
    """Referrals: stratum k holds n_a rows of prime "A" and n_b of prime "B"."""
    rows = []
    for k, (na, nb) in enumerate(strata):
        rows += [(cpa, f"D{k}", "2012Q1", "A")] * na + [(cpa, f"D{k}", "2012Q1", "B")] * nb
    return pd.DataFrame(rows, columns=["cpa", "district", "period", "prime"])


def test_single_stratum_matches_the_two_sample_formula():
    # n = 1000 per arm, rate 0.3: SE = sqrt(0.3 * 0.7 * (1/1000 + 1/1000)) = sqrt(0.00042)
    #   = 0.020493901531919; df = 2000 - 2 = 1998;
    # MDE = (1.961152014836700 + 0.841801170923045) * 0.020493901531919 = 0.057443449...
    tab = power(_frame([(1000, 1000)]), 0.3).tidy()
    assert len(tab) == 1 and tab.loc[0, "term"] == "A - B"
    assert tab.loc[0, "std_error"] == pytest.approx(0.020493901531919, rel=1e-12)
    assert tab.loc[0, "df"] == 1998
    assert tab.loc[0, "mde"] == pytest.approx(
        (1.961152014836700 + 0.841801170923045) * 0.020493901531919, rel=1e-10
    )


def test_blocked_design_with_unequal_shares():
    # stratum 1: 300 A, 100 B (share 0.75); stratum 2: 200 A, 200 B; N = 800, w = 0.5, 0.5
    # Var = 0.25 * 0.21 * (1/300 + 1/100) + 0.25 * 0.21 * (1/200 + 1/200)
    #     = 0.0525 * 0.0133333... + 0.0525 * 0.01 = 0.0007 + 0.000525 = 0.001225; SE = 0.035
    # df = 800 - 2 x 2 = 796; MDE = (1.962948684439220 + 0.842073025582080) * 0.035
    res = power(_frame([(300, 100), (200, 200)]), 0.3, effect=0.05)
    row = res.tidy().iloc[0]
    assert row["std_error"] == pytest.approx(0.035, rel=1e-12)
    assert row["df"] == 796
    assert row["mde"] == pytest.approx((1.962948684439220 + 0.842073025582080) * 0.035, rel=1e-10)
    assert row["n_prime"] == 500 and row["n_reference"] == 300 and row["n_strata"] == 2
    # the same arms split 250/250 in each stratum would give a smaller SE: unequal shares cost
    even = power(_frame([(250, 150), (250, 150)]), 0.3).tidy().iloc[0]
    assert even["std_error"] < row["std_error"]
    # one-sided: t_{0.95}
    one = power(_frame([(300, 100), (200, 200)]), 0.3, alternative="one-sided").tidy().iloc[0]
    assert one["mde"] == pytest.approx((1.646770153175660 + 0.842073025582080) * 0.035, rel=1e-10)


def test_power_at_the_mde_is_the_target():
    # at delta = M * SE: power = F(M - q) + F(-M - q) = F(t_0.8) + F(-(2q + t_0.8))
    #   = 0.8 + pt(-(2 * 1.962948684439220 + 0.842073025582080), 796) = 0.8 + 1.10634053971e-06
    res = power(_frame([(300, 100), (200, 200)]), 0.3)
    mde = float(res.tidy()["mde"].iloc[0])
    assert float(power_at(mde, 0.035, 796)) == pytest.approx(0.8 + 1.10634053971071e-06, abs=1e-12)
    curve = res.curve([0.0, mde])
    assert curve["power"].iloc[0] == pytest.approx(0.05, abs=1e-12)  # size at no effect
    assert mde_multiplier(np.inf) == pytest.approx(1.959963984540054 + 0.841621233572914)


def test_strata_without_both_primes_are_dropped_and_counted():
    res = power(_frame([(300, 100), (200, 200), (50, 0)]), 0.3).tidy().iloc[0]
    assert res["n_strata"] == 2 and res["n_strata_dropped"] == 1
    assert res["std_error"] == pytest.approx(0.035, rel=1e-12)


def test_outcome_column_uses_within_stratum_variance():
    df = _frame([(100, 100), (100, 100)])
    # stratum 0 all y = 0 except alternate ones: variance 0.25 * 200/199; stratum 1 constant
    y = np.zeros(len(df))
    y[:200:2] = 1.0
    df["y"] = y
    row = power(df, outcome="y").tidy().iloc[0]
    v0 = 0.25 * 200 / 199  # sample variance (divisor n - 1) of 100 ones and 100 zeros
    se = np.sqrt(0.25 * v0 * (2 / 100))  # stratum 1 has variance 0
    assert row["std_error"] == pytest.approx(se, rel=1e-12)


def test_bad_arguments_are_refused():
    df = _frame([(10, 10)])
    with pytest.raises(ParameterError):
        power(df)  # neither rate nor outcome
    with pytest.raises(ParameterError):
        power(df, 1.2)
    with pytest.raises(ParameterError):
        power(df, 0.3, target_power=1.0)


def test_config_path_uses_the_generator_design():
    res = power(None, 0.25, n=40_000, cpa="CPA09", effect="truth")
    tab = res.tidy()
    assert list(tab["cpa"]) == ["CPA09"] and np.isfinite(tab["power"]).all()
    assert tab["n_prime"].iloc[0] + tab["n_reference"].iloc[0] > 0
