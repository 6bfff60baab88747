"""Average marginal effects of a fitted logit and their delta-method covariance, for
:func:`wpeval.estimators.glm.logit` (R/Stata ``margins``: a factor is set to each level on
every row; a numeric regressor is differentiated numerically through the model matrix).

Only the model-matrix columns of the terms that use a variable are rebuilt for each
counterfactual (formulaic ``ModelSpec.subset``); rebuilding the whole matrix took 0.6 s a
level at 2M rows x 29 columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _levels(frame: pd.DataFrame, var: str):
    """("discrete", levels) for factors and 0/1 numbers, ("derivative", None) otherwise."""
    s = frame[var]
    if s.dtype == bool:
        return "discrete", [False, True]
    if not pd.api.types.is_numeric_dtype(s):
        return "discrete", sorted(pd.unique(s))
    vals = pd.unique(s)
    if len(vals) <= 2 and set(np.asarray(vals, dtype=float)) <= {0.0, 1.0}:
        return "discrete", [0, 1]
    return "derivative", None


def _columns(spec, frame, v):
    """Columns of the terms using ``v``, the sub-spec rebuilding them (formulaic
    ``ModelSpec.subset``: same encodings and transform state), the variables it reads, and the
    rows needed: one if it reads ``v`` alone (a counterfactual's rows are then alike)."""
    terms = [t for t in spec.terms if v in spec.term_variables[t]]
    idx = np.array([i for t in terms for i in spec.term_indices[t]], dtype=int)
    sub = spec.subset(terms)
    needs = sorted(sub.required_variables)
    return idx, sub, needs, 1 if needs == [v] else len(frame)


def _rebuild(sub, frame, needs, v, values) -> np.ndarray:
    """The columns of ``sub`` on the first ``len(values)`` rows with ``v`` set to ``values``."""
    small = frame[needs].iloc[: len(values)].copy()
    small[v] = values
    return np.asarray(sub.get_model_matrix(small), dtype=float)


def _at_level(X, eta_rest, beta_c, idx, Mc):
    """Fitted probabilities and ``f(eta) @ X`` with the columns ``idx`` replaced by ``Mc``."""
    pl = 1.0 / (1.0 + np.exp(-(eta_rest + Mc @ beta_c)))
    w = pl * (1 - pl)
    g = w @ X
    g[idx] = w @ Mc if len(Mc) == len(X) else w.sum() * Mc[0]
    return pl, g


def _ames(spec, frame, X, beta, V, variables):
    """Average marginal effects and their delta-method covariance.

    Only the model-matrix columns of the terms using each variable are rebuilt, not the whole
    matrix per counterfactual (0.6 s a build at 2M rows x 29 columns): ``X b`` is split into
    those columns and the rest, and the Jacobian reuses ``f(eta) @ X`` for the others."""
    names, kinds, est, grads = [], [], [], []
    n = len(X)
    p = 1.0 / (1.0 + np.exp(-(X @ beta)))
    dens = p * (1 - p)
    for v in variables:
        kind, levels = _levels(frame, v)
        idx, sub, needs, rows = _columns(spec, frame, v)
        if kind == "derivative":
            x = frame[v].to_numpy(dtype=float)
            h = 1e-4 * (np.std(x) or 1.0)
            hi, lo = (_rebuild(sub, frame, needs, v, x + s) for s in (h, -h))
            dXc = (hi - lo) / (2 * h)
            slope = dXc @ beta[idx]
            g = (dens * (1 - 2 * p) * slope) @ X
            g[idx] += dens @ dXc
            est.append(float(np.mean(dens * slope)))
            grads.append(g / n)
            names.append(v)
            kinds.append("derivative")
            continue
        b_rest = beta.copy()
        b_rest[idx] = 0.0
        eta_rest = X @ b_rest
        p0, g0 = None, None
        for lv in levels:  # levels[0] is the base
            const = pd.Series([lv], dtype=frame[v].dtype).repeat(rows).array
            p1, g1 = _at_level(X, eta_rest, beta[idx], idx, _rebuild(sub, frame, needs, v, const))
            if p0 is None:
                p0, g0 = p1, g1
                continue
            est.append(float(np.mean(p1 - p0)))
            grads.append((g1 - g0) / n)
            names.append(v if levels == [0, 1] or levels == [False, True] else f"{v}[T.{lv}]")
            kinds.append("discrete change")
    Gm = np.vstack(grads)
    return names, kinds, np.array(est), Gm @ V @ Gm.T
