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


def wald_table(terms, est, se, alpha, n, *, df=None, ratio=None, ratio_rows=None, **cols):
    """Normal (Wald) inference for each term: ``statistic = est / se``, two-sided p-value,
    ``est -/+ z se`` (``z = z_{1 - alpha/2}``); a zero or NaN SE gives NaN statistic and p.

    ``df`` adds a ``df`` column (``np.inf`` for normal reference) before ``n``. ``ratio`` =
    ``(name, low, high)`` adds ``exp`` of the estimate and limits (hazard or time ratios),
    NaN where ``ratio_rows`` (a boolean mask, default all rows) is False. ``cols`` are added
    last, in order.
    """
    from scipy import stats

    est, se = np.asarray(est, dtype=float), np.asarray(se, dtype=float)
    z = float(stats.norm.ppf(1 - alpha / 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = est / se
    out = {
        "term": terms,
        "estimate": est,
        "std_error": se,
        "statistic": stat,
        "p_value": 2 * stats.norm.sf(np.abs(stat)),
        "conf_low": est - z * se,
        "conf_high": est + z * se,
    }
    if df is not None:
        out["df"] = df
    out["n"] = n
    if ratio is not None:
        rows = np.ones(len(est), dtype=bool) if ratio_rows is None else np.asarray(ratio_rows)
        with np.errstate(over="ignore", invalid="ignore"):  # exp of a runaway coefficient
            for name, value in zip(ratio, (est, est - z * se, est + z * se)):
                out[name] = np.where(rows, np.exp(value), np.nan)
    out.update(cols)
    return pd.DataFrame(out)
