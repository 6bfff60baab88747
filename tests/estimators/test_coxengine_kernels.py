"""Kernels of the Cox engine's fast path (wpeval/estimators/survival/_coxengine.py).

The fits themselves are checked against R in test_survival_reference.py; these pin the pieces
whose failure would only show on rare inputs: signed weights in ``xtdx`` (negative weights
arise only from rounding in the information), the blocked cumulative sum (bit-identical to
``np.cumsum``), the radix argsort (identical to a stable sort) and the on-demand T x p sums.
"""

from __future__ import annotations

import numpy as np
import pytest

from wpeval.estimators.survival._coxengine import (
    CUMSUM_ROWS,
    CoxEngine,
    _argsort_keys,
    _cumsum_rows,
)


def _engine(start=False, seed=3):
    rng = np.random.default_rng(seed)
    n = 4000
    X = rng.normal(size=(n, 3))
    t = np.ceil(rng.exponential(40, n))
    ev = rng.random(n) < 0.7
    st = rng.integers(0, 5, n)
    w = rng.uniform(0.5, 2, n)
    s0 = np.floor(t * rng.uniform(0, 0.8, n)) if start else None
    return CoxEngine(X, t, ev, st, w, start=s0, ties="efron")


@pytest.mark.parametrize("start", [False, True])
def test_xtdx_signed_weights_equal_dense(start):
    eng = _engine(start)
    v = np.random.default_rng(1).normal(size=eng.n)
    u = np.random.default_rng(2).normal(size=eng.n)
    H, g = eng.xtdx(v, u)
    ref = (eng.X * v[:, None]).T @ eng.X
    np.testing.assert_allclose(H, ref, rtol=0, atol=1e-13 * np.abs(ref).max())
    np.testing.assert_allclose(g, eng.X.T @ u, rtol=1e-13)
    assert np.array_equal(H, H.T)


def test_cumsum_rows_bit_identical():
    a = np.random.default_rng(0).normal(size=(3 * CUMSUM_ROWS + 17, 5))
    assert np.array_equal(_cumsum_rows(a.copy()), np.cumsum(a, axis=0))


@pytest.mark.parametrize("top", [50, 70_000, 2**33])
def test_argsort_keys_is_stable_argsort(top):
    k = np.random.default_rng(0).integers(0, top, 10_000)
    assert np.array_equal(_argsort_keys(k), np.argsort(k, kind="stable"))


@pytest.mark.parametrize("start", [False, True])
def test_state_risk_sums_on_demand(start):
    eng = _engine(start)
    eng.evaluate(np.array([0.1, -0.2, 0.3]))
    st = eng.state
    r = st["r"]
    # direct O(n T) definitions: S1_j = sum over rows at risk, D1_j = sum over deaths at j
    at_risk = (eng.lo[:, None] <= np.arange(eng.T)) & (np.arange(eng.T) < eng.hi[:, None])
    S1 = at_risk.T.astype(float) @ (r[:, None] * eng.X)
    D1 = np.zeros((eng.T, eng.p))
    np.add.at(D1, eng.jd, r[eng.dead, None] * eng.X[eng.dead])
    np.testing.assert_allclose(st["S1"], S1, rtol=1e-12, atol=1e-12 * np.abs(S1).max())
    np.testing.assert_allclose(st["D1"], D1, rtol=1e-12, atol=1e-12)
