"""Distinct (curve, time) blocks and grouped cumulative sums shared by the survival estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd


def blocks(duration: np.ndarray, event: np.ndarray, code: np.ndarray):
    """Collapse rows to distinct (code, time) blocks sorted by code then time.

    Returns a dict of arrays over blocks: ``code``, ``time``, ``n_at`` (rows with that exit
    time), ``n_event``, ``n_risk`` (rows of the same code with time >= this time), and
    ``row_block`` (block of every input row) and ``first`` (index of each code's first block).
    """
    order = np.lexsort((duration, code))
    t_s, c_s = duration[order], code[order]
    n = len(order)
    brk = np.flatnonzero((np.diff(c_s) != 0) | (np.diff(t_s) != 0)) + 1
    starts = np.concatenate([[0], brk])
    n_at = np.diff(np.concatenate([starts, [n]]))
    bcode = c_s[starts]
    end_of_code = np.searchsorted(c_s, bcode, side="right")
    n_risk = end_of_code - starts
    row_block = np.empty(n, dtype=np.int64)
    row_block[order] = np.repeat(np.arange(len(starts)), n_at)
    out = dict(code=bcode, time=t_s[starts], n_at=n_at, n_risk=n_risk, row_block=row_block)
    if event is not None:
        out["n_event"] = np.add.reduceat(event[order], starts) if n else np.zeros(0)
    return out


def _group_cumprod(x: np.ndarray, code: np.ndarray) -> np.ndarray:
    return pd.Series(x).groupby(code, sort=False).cumprod().to_numpy()


def _group_cumsum(x: np.ndarray, code: np.ndarray) -> np.ndarray:
    return pd.Series(x).groupby(code, sort=False).cumsum().to_numpy()
