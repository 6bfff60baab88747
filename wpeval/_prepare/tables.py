"""The rows and notes of an estimator's result table: the term's name, t (or normal)
inference for an estimate and its standard error, the ``method`` mapping, and the warning and
note when an estimate or standard error is not finite.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from wpeval.exceptions import StatisticalWarning


def term_name(treatment: str, cond1, cond2) -> str:
    """estimatr-like term: the column name for 0/1 (or False/True), else ``col: c2 - c1``."""
    try:
        binary = {cond1, cond2} <= {0, 1} and bool(cond2) and not bool(cond1)
    except TypeError:  # unhashable or odd values: name them
        binary = False
    if binary:
        return treatment
    return f"{treatment}: {cond2} - {cond1}"


def t_inference(est, se, df, alpha):
    """Statistic, two-sided p-value and CI with a t(df) reference (normal if df is None)."""
    from scipy import stats

    est, se = float(est), float(se)
    if not (np.isfinite(se) and se > 0):
        warnings.warn(
            f"the standard error is {se!r} (e.g. the outcome does not vary): no test "
            "statistic, p-value or interval",
            StatisticalWarning,
            stacklevel=3,
        )
    stat = est / se if se > 0 and np.isfinite(se) else np.nan
    if df is None or not np.isfinite(df):
        q = stats.norm.ppf(1 - alpha / 2)
        p = 2 * stats.norm.sf(abs(stat))
    else:
        q = stats.t.ppf(1 - alpha / 2, df)
        p = 2 * stats.t.sf(abs(stat), df)
    return stat, p, est - q * se, est + q * se


def method_dict(estimator, se_type, ci_method, design, **more) -> dict:
    """The ``method`` mapping of an EffectTable (None values left out)."""
    m = {"estimator": estimator, "se_type": se_type, "ci_method": ci_method, "design": design}
    m.update({k: v for k, v in more.items() if v is not None})
    return m


def result_row(term, est, se, df, n, alpha, **cols) -> pd.DataFrame:
    """One-row table with t (or normal) inference for ``est`` and ``se``."""
    stat, p, lo, hi = t_inference(est, se, df, alpha)
    return pd.DataFrame(
        [
            {
                "term": term,
                "estimate": float(est),
                "std_error": float(se),
                "statistic": stat,
                "p_value": p,
                "conf_low": lo,
                "conf_high": hi,
                "df": np.nan if df is None else float(df),
                "n": int(n),
                **cols,
            }
        ]
    )


def flag_nonfinite(table: pd.DataFrame, method: dict, *, stacklevel: int = 3) -> dict:
    """Warn and note when an estimate or standard error in ``table`` is not finite.

    Returns ``method`` with a sentence appended to ``method["notes"]`` naming the terms, so a
    NaN or infinite number is never presented as a result without an explanation.
    """
    est = pd.to_numeric(table["estimate"], errors="coerce").to_numpy(dtype=float)
    se = (
        pd.to_numeric(table["std_error"], errors="coerce").to_numpy(dtype=float)
        if "std_error" in table.columns
        else np.zeros(len(est))
    )
    bad = ~(np.isfinite(est) & np.isfinite(se))
    if not bad.any():
        return method
    terms = [str(t) for t in table["term"].to_numpy()[bad][:5]]
    note = (
        f"{int(bad.sum())} term(s) have a non-finite estimate or standard error "
        f"(e.g. {terms}): not estimable from these data"
    )
    warnings.warn(note, StatisticalWarning, stacklevel=stacklevel)
    method = dict(method)
    method["notes"] = "; ".join(x for x in (method.get("notes"), note) if x)
    return method
