"""The shared Newton loop, R's generalised Cholesky and R's aeqSurv, on hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from wpeval.estimators._newton import GeneralisedCholesky, NewtonControl, maximise
from wpeval.estimators.survival._timefix import aeq_times
from wpeval.exceptions import ParameterError


def test_generalised_cholesky_full_rank_is_the_inverse():
    H = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
    fac = GeneralisedCholesky(H, 1e-12)
    assert fac.rank == 3 and not fac.singular.any()
    np.testing.assert_allclose(fac.inverse(), np.linalg.inv(H), rtol=1e-12)
    b = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(fac.solve(b), np.linalg.solve(H, b), rtol=1e-12)


def test_generalised_cholesky_skips_the_later_aliased_column():
    # column 3 = column 1 + column 2 (as R cholesky2 / lm: the later column is the aliased
    # one); the rest is the inverse of the leading 2 x 2 block, zero for the aliased column
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]])
    X = np.column_stack([X, X[:, 0] + X[:, 1]])
    H = X.T @ X
    fac = GeneralisedCholesky(H, 1e-9)
    assert fac.singular.tolist() == [False, False, True]
    V = fac.inverse()
    np.testing.assert_allclose(V[:2, :2], np.linalg.inv(H[:2, :2]), rtol=1e-12)
    assert np.all(V[2] == 0) and np.all(V[:, 2] == 0)
    assert fac.solve(np.ones(3))[2] == 0


def test_generalised_cholesky_is_scale_free():
    # a column in tiny units is not "aliased" when scaled by its typical size
    H = np.array([[1e-20, 1e-11], [1e-11, 2.0]])
    assert GeneralisedCholesky(H, 1.8e-12).singular.tolist() == [True, False]
    fac = GeneralisedCholesky(H, 1.8e-12, scale=[1e10, 1.0])
    assert not fac.singular.any()
    np.testing.assert_allclose(fac.inverse(), np.linalg.inv(H), rtol=1e-9)


def _poisson(k, n):
    # l(b) = k b - n exp(b): score k - n e^b, information n e^b; maximum at log(k / n)
    return lambda b: (
        k * b[0] - n * np.exp(b[0]),
        np.array([k - n * np.exp(b[0])]),
        np.array([[n * np.exp(b[0])]]),
    )


def test_newton_converges_on_the_relative_loglik_change():
    fit = maximise(_poisson(3.0, 10.0), [0.0])
    assert fit.converged and not fit.infinite.any()
    np.testing.assert_allclose(fit.beta[0], np.log(0.3), rtol=1e-8)
    assert fit.iterations < 10


def test_newton_halves_a_step_that_lowers_the_likelihood():
    # from b = -6 the first Newton step overshoots far to the right and lowers l
    fit = maximise(_poisson(3.0, 10.0), [-6.0])
    assert fit.converged and fit.halvings >= 1
    np.testing.assert_allclose(fit.beta[0], np.log(0.3), rtol=1e-8)


def test_newton_stops_at_the_cap_when_the_loglik_tends_to_zero():
    # k = 0: l(b) = -n e^b rises to its supremum 0 as b -> -inf; the relative change stays
    # 1 - 1/e per step, so the loop stops at the cap (as R coxph) and says it did not converge
    fit = maximise(_poisson(0.0, 10.0), [0.0], NewtonControl(iter_max=20))
    assert not fit.converged and fit.iterations == 20
    np.testing.assert_allclose(fit.beta[0], -20.0)  # each Newton step is exactly -1


def test_newton_respects_a_lower_bound():
    fit = maximise(_poisson(0.0, 10.0), [1.0], lower=[0.5])
    assert fit.converged and fit.beta[0] == 0.5


@pytest.mark.parametrize(
    "kw", [{"eps": 0}, {"iter_max": -1}, {"iter_max": 2.5}, {"toler_chol": 2}, {"toler_inf": 0}]
)
def test_control_validation(kw):
    with pytest.raises(ParameterError):
        NewtonControl(**kw)


def test_aeq_times_merges_as_r():
    two = np.sqrt(2.0) ** 2  # 2.0000000000000004
    assert two != 2.0
    stop, _, n = aeq_times(np.array([two, 2.0, 3.0]))
    assert stop.tolist() == [2.0, 2.0, 3.0] and n == 1
    # a chain of values each within tolerance of the previous one collapses to its first
    chain = np.array([1.0, 1 + 1e-8, 1 + 2e-8, 1.5])
    assert aeq_times(chain)[0].tolist() == [1.0, 1.0, 1.0, 1.5]
    # R's absolute rule: diff <= tolerance even when the values are small
    assert aeq_times(np.array([1e-9, 2e-9, 1.0]))[0].tolist() == [1e-9, 1e-9, 1.0]
    # distinct values are untouched; whole days take the fast path (no copy)
    days = np.array([1.0, 5.0, 2.0])
    out = aeq_times(days)
    assert out[0] is days and out[2] == 0
    # entry times are merged with the exit times (one set of cut points)
    stop, start, n = aeq_times(np.array([3.0, 4.0]), np.array([two, 2.0]))
    assert start.tolist() == [2.0, 2.0] and stop.tolist() == [3.0, 4.0] and n == 1
