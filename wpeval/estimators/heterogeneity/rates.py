"""Outcome rates by payment group with Wilson intervals (descriptive: groups are not
randomised)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from wpeval._prepare import check_alpha, flag_nonfinite
from wpeval.data import programme as _programme
from wpeval.estimators.heterogeneity._common import _need, _outcome, _wilson
from wpeval.exceptions import DataContractError
from wpeval.results import EffectTable


def group_rates(
    df: pd.DataFrame, outcome: str, group: str = "payment_group", alpha: float = 0.05
) -> EffectTable:
    """Mean outcome by group with confidence intervals (descriptive, not a causal contrast).

    Binary outcomes (all values 0/1) get Wilson score intervals; others a normal interval
    with SE = sd / sqrt(n). Rows with a missing outcome or group are left out and counted
    (``method["rows_missing_outcome"]``, ``method["rows_missing_group"]``); ``n`` counts the
    rest.

    Parameters
    ----------
    df : DataFrame
        Referral-level data.
    outcome : str
        Numeric or boolean outcome column.
    group : str, default "payment_group"
        Grouping column (payment groups are listed in the programme's order).
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    EffectTable
        One row per group. A group with a single referral has no standard error for a
        non-binary outcome (NaN, warned and noted in ``method["notes"]``).
    """
    alpha = check_alpha(alpha)
    _need(df, [outcome, group])
    y = _outcome(df, outcome)
    ok = ~np.isnan(y)
    n_miss_y = int((~ok).sum())
    miss_g = df[group].isna().to_numpy()
    n_miss_g = int((ok & miss_g).sum())
    ok &= ~miss_g
    if not ok.any():
        raise DataContractError(
            f"no rows with both {outcome!r} and {group!r} observed", column=outcome, rule="not_null"
        )
    g = df[group].astype(str).to_numpy()[ok]
    y = y[ok]
    order = list(_programme.load().payment_groups) if group == "payment_group" else []
    cats = [c for c in order if c in set(g)] + sorted(set(g) - set(order))
    frame = pd.DataFrame({"g": pd.Categorical(g, categories=cats, ordered=True), "y": y})
    agg = frame.groupby("g", sort=True, observed=True)["y"].agg(["size", "sum", "var"])
    n, s = agg["size"].to_numpy(float), agg["sum"].to_numpy(float)
    est = s / n
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    if binary:
        se = np.sqrt(est * (1 - est) / n)
        lo, hi = _wilson(s, n, alpha)
    else:
        se = np.sqrt(agg["var"].to_numpy(float) / n)
        z = stats.norm.ppf(1 - alpha / 2)
        lo, hi = est - z * se, est + z * se
    table = pd.DataFrame(
        {
            "term": agg.index.astype(str),
            "estimate": est,
            "std_error": se,
            "conf_low": lo,
            "conf_high": hi,
            "n": n.astype(int),
        }
    )
    meth = {
        "estimator": "mean outcome by group",
        "se_type": "binomial" if binary else "iid",
        "ci_method": "Wilson score" if binary else "normal",
        "design": "none (descriptive)",
        "alpha": alpha,
        "outcome": outcome,
        "rows_missing_outcome": n_miss_y,
        "rows_missing_group": n_miss_g,
    }
    return EffectTable(table, flag_nonfinite(table, meth), title=f"{outcome} by {group}")
