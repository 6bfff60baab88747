"""Input helpers shared by the payment-group analyses."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from wpeval._prepare import need_columns, numeric

#: the provider's assessed distance from work, nearest first (data contract)
STREAMS = ["job_ready", "needs_support", "furthest_from_work"]
ADJUST = {
    "holm": "holm",
    "bh": "fdr_bh",
    "fdr_bh": "fdr_bh",
    "bonferroni": "bonferroni",
    "none": None,
}


def _need(df: pd.DataFrame, cols: Sequence[str]) -> None:
    """A DataFrame holding every column of ``cols`` once (see ``_prep.need_columns``)."""
    need_columns(df, list(cols))


def _outcome(df: pd.DataFrame, outcome: str) -> np.ndarray:
    """The outcome as float (bool -> 0/1, NaN kept): numeric, finite, not huge."""
    return numeric(df, outcome)


def _factorize(values) -> tuple[np.ndarray, list]:
    """Sorted codes and labels; incomparable mixed types are sorted by their string form."""
    try:
        codes, labels = pd.factorize(values, sort=True)
    except TypeError:
        s = pd.Series(values, dtype=object)
        codes, labels = pd.factorize(s.astype(str).where(s.notna()), sort=True)
    return codes, list(labels)


def _wilson(k: np.ndarray, n: np.ndarray, alpha: float):
    """Wilson score interval for k successes out of n (statsmodels ``proportion_confint``)."""
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=alpha, method="wilson")
    return np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
