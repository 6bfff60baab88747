"""wpeval.value.truth: closed-form true payment differences of the synthetic programme."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import wpeval
from wpeval.exceptions import ParameterError
from wpeval.value.truth import expected_sustainment_payments, true_incremental_cost


def test_expected_sustainment_exponential_by_hand():
    # shape 1 (exponential job length, scale 280 days): memoryless, so
    # P(S >= k | D >= T) = exp(-28 k / 280) = q^k with q = exp(-0.1), and with cap 13
    # E[S] = q (1 - q^13) / (1 - q) = 6.2106...
    q = math.exp(-0.1)
    expected = q * (1 - q**13) / (1 - q)
    assert expected_sustainment_payments(182, 280, 1.0, 13) == pytest.approx(expected)
    assert expected_sustainment_payments(91, 280, 1.0, 0) == 0


def test_expected_sustainment_matches_simulation():
    # Weibull job lengths as in the generator: D = floor(scale W), S = min((D - T) // 28, cap)
    rng = np.random.default_rng(1)
    d = np.floor(409.5 * rng.weibull(0.828, 400_000))
    d = d[d >= 91]
    s = np.minimum((d - 91) // 28, 20)
    assert s.mean() == pytest.approx(
        expected_sustainment_payments(91, 409.5, 0.828, 20), abs=4 * s.std() / math.sqrt(len(s))
    )


def test_true_incremental_cost_needs_an_uncensored_extract():
    warnings.simplefilter("ignore")
    prog = wpeval.make_programme(3000, seed=2)
    with pytest.raises(ParameterError, match="censored"):
        true_incremental_cost(prog, "CPA09", "Prime A", "Prime B")
    late = wpeval.make_programme(3000, seed=2, config={"calendar": {"data_end_date": "2035-12-31"}})
    tr = true_incremental_cost(late, "CPA09", "Prime A", "Prime B")
    c = late.truth.contrasts
    row = c[(c.cpa == "CPA09") & (c.prime == "Prime A") & (c.reference == "Prime B")].iloc[0]
    # the outcome difference is the generator's own truth; the cost difference carries at
    # least the 1,000-1,200 pound job-outcome fee per additional outcome
    assert tr["d_effect"] == pytest.approx(row["diff_p_jo_2y"], rel=1e-9)
    assert tr["ratio"] > 1000
    with pytest.raises(ParameterError, match="no primes"):
        true_incremental_cost(late, "CPA09", "Prime A", "Prime C")
