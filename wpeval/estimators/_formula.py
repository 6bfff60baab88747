"""Formula -> estimation sample and design matrix for :func:`wpeval.regress` and
:func:`wpeval.logit`: rows with every used column observed (dropped rows counted by column),
unused categories removed, and the design ``[y, X]`` built column-major (formulaic's names and
order; all-numeric formulas copied directly, which is ~8 s faster at 2M rows x 30 columns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval._prepare import as_list, examples
from wpeval.exceptions import DataContractError, ParameterError

__all__ = ["_design", "_plain_design", "_sample", "formula_variables"]


def formula_variables(formula) -> list[str]:
    """Names the formula reads from the data, sorted.

    formulaic's ``required_variables`` leaves out the arguments of its stateful transforms
    (``center(age)`` gives no ``age``; formulaic 1.x), so the names inside every Python
    factor are added from its syntax tree (function and module names such as ``center`` or
    ``np`` are attributes or callees, not data, and are skipped).
    """
    import ast

    from formulaic import Formula

    f = formula if not isinstance(formula, str) else Formula(formula)
    names = set(f.required_variables)
    parts = [f.lhs, f.rhs] if hasattr(f, "rhs") else [f]
    for part in parts:
        for term in part:
            for factor in term.factors:
                if factor.eval_method.value != "python":
                    continue
                tree = ast.parse(factor.expr, mode="eval")
                callees = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)} | {
                    id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                }
                names |= {
                    n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in callees
                }
    return sorted(names)


def _sample(data: pd.DataFrame, variables: list[str], fes, clusters, weights):
    """Rows with every used column observed; counts of the rows dropped, by column."""
    cols = list(dict.fromkeys(variables + fes + as_list(clusters) + as_list(weights)))
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise DataContractError(
            f"columns not in data: {missing}", column=missing[0], rule="present"
        )
    keep = np.ones(len(data), dtype=bool)
    dropped = {}
    for c in cols:  # column by column: no copy of the frame
        na = data[c].isna().to_numpy()
        if na.any():
            dropped[c] = int(na.sum())
            keep &= ~na
    if weights is not None:
        w = pd.to_numeric(data[weights], errors="coerce").to_numpy(dtype=float)
        bad = keep & ~(np.isfinite(w) & (w > 0))
        if bad.any():
            raise DataContractError(
                f"weights {weights!r} must be finite and positive: "
                f"{int(bad.sum())} rows are not, e.g. rows "
                f"{examples(data, bad)}",
                column=weights,
                rule="positive",
            )
    frame = data.loc[keep, cols] if not keep.all() else data
    if len(frame) == 0:
        raise DataContractError(
            "no complete rows for the regression", column=cols[0], rule="not_null"
        )
    # categories without rows would give all-zero dummy columns: keep the observed ones (in
    # their declared order, which formulaic uses for the levels)
    unused = {
        c: frame[c].cat.remove_unused_categories()
        for c in cols
        if isinstance(frame[c].dtype, pd.CategoricalDtype)
        and len(frame[c].cat.categories) > frame[c].nunique()
    }
    if unused:
        frame = frame.assign(**unused)
    return frame, dropped, int((~keep).sum())


def _plain_design(f, frame: pd.DataFrame, drop_intercept: bool = False):
    """``y ~ 1 + x1 + ... + xk`` with numeric columns only: the design formulaic would build
    (same names and order), copied straight into one column-major array ``M = [y, X]``. At 2M
    rows and 30 columns formulaic's pandas materialiser takes ~8 s here; this takes a copy's
    time."""
    from formulaic.parser.types import Factor

    def plain(term):
        if len(term.factors) != 1:
            return None
        fac = term.factors[0]
        if fac.eval_method == Factor.EvalMethod.LITERAL and fac.expr == "1":
            return "Intercept"
        if fac.eval_method != Factor.EvalMethod.LOOKUP or fac.expr not in frame.columns:
            return None
        kind = frame[fac.expr].dtype.kind
        return fac.expr if kind in "if" else None

    lhs, rhs = list(f.lhs), list(f.rhs)
    names = [plain(t) for t in rhs]
    if len(lhs) != 1 or plain(lhs[0]) in (None, "Intercept") or None in names:
        return None
    if len(set(names)) != len(names):
        return None
    if drop_intercept:
        names = [nm for nm in names if nm != "Intercept"]
    outcome = plain(lhs[0])
    M = np.empty((len(frame), len(names) + 1), order="F")
    M[:, 0] = frame[outcome].to_numpy(dtype=float)
    for j, nm in enumerate(names, start=1):
        M[:, j] = 1.0 if nm == "Intercept" else frame[nm].to_numpy(dtype=float)
    return M, names, outcome


def _design(formula: str, frame: pd.DataFrame, drop_intercept: bool = False):
    """``(M, names, outcome)``: ``M = [y, X]`` column-major, ``names`` of the columns of ``X``
    (formulaic's), the intercept left out when ``drop_intercept`` (absorbed effects)."""
    from formulaic import Formula

    f = Formula(formula)
    fast = _plain_design(f, frame, drop_intercept)
    if fast is not None:
        return fast
    try:
        mm = f.get_model_matrix(frame, output="numpy", na_action="raise")
    except Exception as exc:  # formulaic raises many types; name the formula
        raise ParameterError(f"cannot build the design of {formula!r}: {exc}") from exc
    y = np.asarray(mm.lhs, dtype=float)
    if y.ndim == 2:
        if y.shape[1] != 1:
            raise ParameterError("the formula must have exactly one outcome")
        y = y[:, 0]
    names = list(mm.rhs.model_spec.column_names)
    cols = [j for j, nm in enumerate(names) if not (drop_intercept and nm == "Intercept")]
    X = np.asarray(mm.rhs, dtype=float)
    M = np.empty((len(y), len(cols) + 1), order="F")
    M[:, 0] = y
    M[:, 1:] = X[:, cols]
    return M, [names[j] for j in cols], next(iter(mm.lhs.model_spec.column_names))
