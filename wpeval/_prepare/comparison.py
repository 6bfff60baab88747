"""The two-condition comparison behind the design-based estimators: :func:`prepare` checks
the columns, keeps the two compared conditions, drops (and counts) rows with a missing
outcome, treatment, block or cluster and returns the integer-coded arrays of a
:class:`Prepared`; :func:`subset`, :func:`block_examples` and :func:`cell_stats` work on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from wpeval._checks import (
    _ID,
    as_list,
    compact_codes,
    examples,
    group_codes,
    need_columns,
    numeric,
)
from wpeval.exceptions import DesignError, ParameterError


def _sorted_values(values) -> list:
    try:
        return sorted(values)
    except TypeError:  # mixed types: order by the string form, deterministically
        return sorted(values, key=lambda v: (type(v).__name__, str(v)))


def _small_int(values: pd.Series) -> bool:
    """A non-empty numpy integer column spanning at most 65,536 values."""
    if (
        not len(values)
        or not pd.api.types.is_integer_dtype(values.dtype)
        or pd.api.types.is_extension_array_dtype(values.dtype)
    ):
        return False
    v = values.to_numpy()
    return int(v.max()) - int(v.min()) < 65_536


def parse_conditions(values: pd.Series, condition1, condition2, col: str):
    """The two compared conditions, as estimatr's ``parse_conditions``: with two values
    and none given, the sorted values (estimate = condition2 - condition1)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = values.cat.remove_unused_categories().cat.categories.tolist()
    elif _small_int(values):  # no hashing for a small integer range (0/1 treatment columns)
        v = values.to_numpy()
        lo, hi = int(v.min()), int(v.max())
        present = (
            [x for x in range(lo, hi + 1) if (v == x).any()]
            if hi - lo < 16
            else (np.flatnonzero(np.bincount(v - lo)) + lo).tolist()
        )
    else:
        present = _sorted_values(pd.unique(values.dropna()).tolist())
    for c in (condition1, condition2):
        if c is not None and c not in present:
            raise ParameterError(
                f"condition {c!r} is not a value of {col!r} (values: {present[:10]})"
            )
    if condition1 is not None and condition2 is not None and condition1 == condition2:
        raise ParameterError(f"condition1 and condition2 are the same value ({condition1!r})")
    if len(present) < 2:
        raise DesignError(
            f"treatment column {col!r} has fewer than two conditions "
            f"({present}): nothing to compare"
        )
    if len(present) > 2:
        if condition1 is None or condition2 is None:
            raise ParameterError(
                f"{col!r} has {len(present)} values; give both condition1 "
                "and condition2 (or use a two-valued column)"
            )
        return condition1, condition2
    if condition1 is None and condition2 is None:
        return present[0], present[1]
    if condition1 is None:
        return [v for v in present if v != condition2][0], condition2
    if condition2 is None:
        return condition1, [v for v in present if v != condition1][0]
    return condition1, condition2


@dataclass
class Prepared:
    """Cleaned arrays for one two-condition comparison."""

    y: np.ndarray
    z: np.ndarray
    cond1: object
    cond2: object
    block: np.ndarray | None = None
    n_blocks: int = 0
    cluster: np.ndarray | None = None
    n_clusters: int = 0
    source: pd.DataFrame | None = None  # the input frame (all rows)
    rows: np.ndarray | None = None  # positions of the kept rows in ``source`` (None: all)
    dropped: dict = field(default_factory=dict)
    columns: list | None = None  # the columns of ``source`` used (None: all)

    @property
    def frame(self) -> pd.DataFrame:
        """The kept rows of the input columns used, built on first use (examples,
        covariates), so an estimator that needs neither never copies the frame."""
        if getattr(self, "_frame", None) is None:
            src = self.source if self.columns is None else self.source[self.columns]
            object.__setattr__(self, "_frame", src if self.rows is None else src.iloc[self.rows])
        return self._frame


def prepare(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    *,
    blocks=None,
    clusters=None,
    condition1=None,
    condition2=None,
    extra: Sequence[str] = (),
) -> Prepared:
    """Check columns, keep the two conditions, drop (and count) rows with a missing outcome,
    treatment, block or cluster, and return integer-coded arrays.

    The counts are in ``Prepared.dropped`` (keys ``other_conditions``,
    ``missing_treatment``, ``missing_outcome``, ``missing_block``, ``missing_cluster``; zero
    counts omitted), which every estimator reports as ``extra["dropped"]``.
    """
    blocks, clusters = as_list(blocks), as_list(clusters)
    extra = as_list(extra)
    if not isinstance(outcome, str) or not isinstance(treatment, str):
        raise ParameterError("outcome and treatment must be column names (str)")
    data = _with_period(data, outcome, treatment, blocks, clusters, extra)
    need_columns(data, [outcome, treatment, *blocks, *clusters, *extra])
    y_all = numeric(data, outcome)
    tcol = data[treatment]
    cond1, cond2 = parse_conditions(tcol, condition1, condition2, treatment)
    keep, is2, dropped = _kept_rows(tcol, cond1, cond2, y_all)
    bcode = ccode = None
    if blocks:
        bcode, nb_all = group_codes(data, blocks)
        dropped["missing_block"] = _drop_negative(keep, bcode)
    if clusters:
        ccode, nc_all = group_codes(data, clusters)
        dropped["missing_cluster"] = _drop_negative(keep, ccode)
    n_left = int(np.count_nonzero(keep))
    if not n_left:
        raise DesignError(
            f"no rows left after keeping the two conditions and dropping missing values ({dropped})"
        )
    full = n_left == len(keep)
    idx = None if full else np.flatnonzero(keep)
    cols = list(
        dict.fromkeys(
            [outcome, treatment, *blocks, *clusters, *extra]
            + ([_ID] if _ID in data.columns else [])
        )
    )
    p = Prepared(
        y=y_all if full else y_all[idx],
        z=(is2 if full else is2[idx]).astype(np.int8),
        cond1=cond1,
        cond2=cond2,
        source=data,
        columns=cols,
        rows=None if full else idx,
        dropped={k: v for k, v in dropped.items() if v},
    )
    if bcode is not None:
        p.block, p.n_blocks = _recode(bcode if full else bcode[idx], full, nb_all)
    if ccode is not None:
        p.cluster, p.n_clusters = _recode(ccode if full else ccode[idx], full, nc_all)
    return p


def _with_period(data, outcome, treatment, blocks, clusters, extra):
    """The data with the design's default ``period`` (quarter of referral) added when the
    blocks name a period the data lack but a referral date is there; else the data as given."""
    if not (
        "period" in blocks
        and isinstance(data, pd.DataFrame)
        and "period" not in data.columns
        and "referral_date" in data.columns
    ):
        return data
    from wpeval.data.design import (
        add_period,  # the design's default period: quarter of referral
    )

    need_columns(
        data,
        [c for c in [outcome, treatment, *blocks, *clusters, *extra] if c != "period"]
        + ["referral_date"],
    )
    cols = [
        c
        for c in dict.fromkeys(
            [outcome, treatment, *blocks, *clusters, *extra, _ID, "referral_date"]
        )
        if c in data.columns
    ]
    return add_period(data[cols])


def _kept_rows(tcol: pd.Series, cond1, cond2, y_all: np.ndarray):
    """Rows in one of the two conditions with an outcome: ``keep``, ``is2`` (in condition 2)
    and the rows dropped so far by reason (other conditions, missing treatment or outcome)."""
    small = _small_int(tcol)
    if small:  # plain numpy comparisons (no missing values in such a column)
        tv = tcol.to_numpy()
        is2, is1 = tv == cond2, tv == cond1
        notna = None
    else:
        is2 = (tcol == cond2).to_numpy(dtype=bool, na_value=False)
        is1 = (tcol == cond1).to_numpy(dtype=bool, na_value=False)
        notna = tcol.notna().to_numpy()
    keep = is1 | is2
    n_keep = int(np.count_nonzero(keep))  # counts with count_nonzero: bool .sum() is slow
    dropped = {
        "other_conditions": (
            len(keep) - n_keep if notna is None else int(np.count_nonzero(~keep & notna))
        ),
        "missing_treatment": 0 if notna is None else len(keep) - int(np.count_nonzero(notna)),
    }
    nan_y = np.isnan(y_all)
    miss_y = keep & nan_y if nan_y.any() else None
    dropped["missing_outcome"] = 0 if miss_y is None else int(np.count_nonzero(miss_y))
    if dropped["missing_outcome"]:
        keep &= ~miss_y
    return keep, is2, dropped


def _drop_negative(keep: np.ndarray, code: np.ndarray) -> int:
    """Clear ``keep`` (in place) where ``code`` is negative (a missing block or cluster);
    returns the number of kept rows cleared."""
    if len(code) == 0 or code.min() >= 0:
        return 0
    miss = keep & (code < 0)
    keep &= ~miss
    return int(np.count_nonzero(miss))


def _recode(code: np.ndarray, full: bool, k: int) -> tuple[np.ndarray, int]:
    """Codes of the kept rows renumbered 0..K-1 (unchanged when every row was kept: the
    codes of :func:`group_codes` are already compact)."""
    if full:
        return code, k
    fast = compact_codes(code, k)
    if fast is not None:
        return fast
    c, u = pd.factorize(code, sort=True)
    return c.astype(np.int64), len(u)


def block_examples(p: Prepared, bad_blocks: np.ndarray) -> list:
    """person_ids from the first offending blocks."""
    if p.block is None or not len(bad_blocks):
        return []
    return examples(p.frame, np.isin(p.block, bad_blocks[:5]))


def subset(p: Prepared, keep: np.ndarray) -> Prepared:
    """Rows ``keep`` of a Prepared, with block/cluster codes re-compacted."""
    q = Prepared(
        y=p.y[keep],
        z=p.z[keep],
        cond1=p.cond1,
        cond2=p.cond2,
        source=p.source,
        columns=p.columns,
        dropped=dict(p.dropped),
        rows=(np.flatnonzero(keep) if p.rows is None else p.rows[keep]),
    )
    if p.block is not None:
        b, u = pd.factorize(p.block[keep], sort=True)
        q.block, q.n_blocks = b.astype(np.int64), len(u)
    if p.cluster is not None:
        c, u = pd.factorize(p.cluster[keep], sort=True)
        q.cluster, q.n_clusters = c.astype(np.int64), len(u)
    return q


def cell_stats(y, cell, ncell):
    """Counts, means and within-cell sums of squared deviations (two-pass)."""
    cnt = np.bincount(cell, minlength=ncell).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(cell, weights=y, minlength=ncell) / cnt
    dev = y - mean[cell]
    ss = np.bincount(cell, weights=dev * dev, minlength=ncell)
    return cnt, mean, ss, dev
