"""The noise model's exact difference law, checked by hand and by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from wpeval.exceptions import ParameterError
from wpeval.statxplore import NoiseModel


def test_rounding_only_by_hand():
    nm = NoiseModel(scale=0, base=5)
    # x = 10 -> 10 (D 0); 12 -> 10 (D -2); 13 -> 15 (D +2); 0 stays 0
    vals, p = nm.difference_law([10, 12, 13, 0])
    assert p.tolist() == [1.0] and vals[:, 0].tolist() == [0, -2, 2, 0]
    t, tail = nm.tolerance([10, 12, 13, 0], 0.001)
    assert t.tolist() == [0, 2, 2, 0] and tail.tolist() == [0, 0, 0, 0]
    assert nm.variance([12, 15]).tolist() == [4.0, 0.0]
    # halves round up with base 10: 15 -> 20
    assert NoiseModel(scale=0, base=10).publish([15, 14], 0).tolist() == [20, 10]


def test_perturbation_is_a_discrete_laplace():
    k, p = NoiseModel(scale=1.0, max_abs=10).perturbation()
    # P(d = 0) = 1 / (1 + 2 * sum_{j=1..10} e^-j), worked in closed form
    z = 1 + 2 * sum(np.exp(-j) for j in range(1, 11))
    assert p[k == 0][0] == pytest.approx(1 / z, rel=1e-12)
    assert p.sum() == pytest.approx(1.0) and np.allclose(p, p[::-1])


def test_zero_cells_stay_zero_and_negatives_clip():
    nm = NoiseModel(scale=2.0, max_abs=6, base=1)
    draws = nm.apply(np.array([0, 1]), rng=3, size=2000)
    assert draws.shape == (2000, 2)
    assert (draws[:, 0] == 0).all() and (draws[:, 1] >= 0).all()


def test_exact_law_matches_simulation():
    nm = NoiseModel()
    x = np.array([0, 1, 3, 12, 1234])
    vals, p = nm.difference_law(x)
    sims = nm.apply(x, rng=11, size=200_000) - x
    for j in range(len(x)):
        exact = {int(v): 0.0 for v in vals[j]}
        for v, q in zip(vals[j], p):
            exact[int(v)] += q
        for v, q in exact.items():
            got = np.mean(sims[:, j] == v)
            q = min(q, 1.0)
            assert abs(got - q) < 4 * np.sqrt(q * (1 - q) / 200_000) + 1e-4, (x[j], v)


def test_tolerance_tail_is_below_alpha_and_minimal():
    nm = NoiseModel()
    x = np.arange(0, 60)
    for a in (0.2, 0.05, 0.001):
        t, tail = nm.tolerance(x, a)
        assert (tail <= a).all()
        vals, p = nm.difference_law(x)
        below = ((np.abs(vals) > (t - 1)[:, None]) * p).sum(axis=1)  # tail at t - 1
        assert (below[t > 0] > a).all()  # t is the smallest


def test_bad_parameters():
    with pytest.raises(ParameterError):
        NoiseModel(base=0)
    with pytest.raises(ParameterError):
        NoiseModel(scale=-1)
    with pytest.raises(ParameterError, match="whole numbers"):
        NoiseModel().tolerance([1.5], 0.05)
