"""Disclosure control for tables of estimates (rates, ratios, costs per outcome, projections).

:func:`publish_table` protects tables of *counts*; an estimate table (one row per group or
contrast, with an estimate, its standard error, interval and p-value) needs a different rule,
the minimum-frequency rule for statistics used by ONS and by ACRO's output checking: **an
estimate based on fewer than** ``threshold`` **units is not published**. Here a row is
suppressed when any of its underlying unit counts (the columns named, e.g. the referrals
``n`` and the job outcomes behind a rate or a cost per outcome) is ``0 < count < threshold``
(or 0 too with ``suppress_zeros``), exactly the cells :func:`primary_suppression` picks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.publish.disclosure import resolve_disclosure
from wpeval.publish.suppression import primary_suppression, round_to_base

__all__ = ["publish_estimates"]


def _is_label(col: pd.Series) -> bool:
    """Text / category columns (term, CPA, interval kind...) describe the row, not the data."""
    return not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col))


def _suppress_frame(
    frame: pd.DataFrame, count_columns: list, money_columns: list, text_columns: list, settings
) -> tuple[pd.DataFrame, int]:
    """The rule on a DataFrame: see :func:`publish_estimates`."""
    missing = [c for c in count_columns + money_columns + text_columns if c not in frame.columns]
    if missing:
        raise ParameterError(f"columns {missing} are not in the table")
    out = frame.copy()
    small = {
        c: primary_suppression(frame[c].to_numpy(dtype=float), settings) for c in count_columns
    }
    rows = np.zeros(len(frame), dtype=bool)
    for m in small.values():
        rows |= m
    reason = [", ".join(c for c in count_columns if small[c][i]) for i in range(len(frame))]
    for c in count_columns:
        rounded = round_to_base(frame[c].to_numpy(dtype=float), settings.base)
        out[c] = np.where(small[c], np.nan, rounded)
    for c in money_columns:
        out[c] = round_to_base(frame[c].to_numpy(dtype=float), settings.money_base)
    protected = [
        c
        for c in frame.columns
        if c not in count_columns and (c in text_columns or not _is_label(frame[c]))
    ]
    for c in protected:
        out[c] = out[c].mask(rows)
    out["suppressed"] = rows
    out["suppressed_reason"] = [
        f"fewer than {settings.threshold} units: {r}" if r else "" for r in reason
    ]
    return out, int(rows.sum())


def publish_estimates(
    table,
    count_columns: Sequence[str],
    *,
    money_columns: Sequence[str] = (),
    text_columns: Sequence[str] = (),
    disclosure=None,
    synthetic: bool = False,
):
    """Apply the minimum-frequency rule to a table of estimates.

    Rule (ONS / ACRO-style minimum frequency for statistics): an estimate based on fewer than
    ``threshold`` units is not published. A row any of whose ``count_columns`` holds a count
    with ``0 < count < threshold`` (also 0 with ``suppress_zeros``) has every numeric column
    that is not a count (estimate, standard error, statistic, p-value, interval limits, rates,
    amounts, flags) set to NaN and is marked ``suppressed = True`` with a
    ``suppressed_reason`` naming the small counts. Count cells are rounded half-up to the
    nearest ``base`` as :func:`~wpeval.publish.disclosure.publish_table` does, and the small
    ones are NaN; ``money_columns`` are rounded to the nearest ``money_base``. Text columns
    (labels such as ``term`` or ``cpa``) are kept, except ``text_columns``: text derived from
    the estimates (e.g. ``interval_kind``, ``quadrant``), blanked too. Estimates are computed
    from unrounded data before this step, so rounding never feeds into them.

    Limits: rows are treated one by one. There is no secondary suppression across rows
    (estimate tables are not additive in general, e.g. overlapping prime pairs), so a small
    count of one group may be bounded from a total row and the rounded counts of the others.

    Parameters
    ----------
    table : DataFrame or EffectTable
        The estimates, one row per group / contrast.
    count_columns : sequence of str
        Columns holding the unit counts behind each row's estimates (e.g. ``n`` and
        ``job_outcomes``). An empty sequence suppresses nothing but still rounds.
    money_columns : sequence of str, optional
        Amounts in pounds, rounded to ``money_base`` (after suppression has been decided).
    text_columns : sequence of str, optional
        Text columns that describe the estimate, blanked (NaN) in suppressed rows.
    disclosure : bool, Disclosure, mapping or None
        As :func:`~wpeval.publish.disclosure.resolve_disclosure`: on unless ``synthetic=True``
        and ``disclosure=False``.
    synthetic : bool, default False

    Returns
    -------
    (DataFrame or EffectTable, int)
        The published table, of the type passed (an EffectTable keeps its method and title;
        ``extra`` gains ``rows_suppressed`` and ``disclosure``), and the number of rows
        suppressed. With disclosure off (synthetic data only) the table is returned
        unchanged, with 0.

    Raises
    ------
    ParameterError
        ``disclosure=False`` on data not declared synthetic, or a named column missing.
    """
    from wpeval.results import EffectTable

    settings = resolve_disclosure(disclosure, synthetic)
    if settings is None:
        return table, 0
    cols = (list(count_columns), list(money_columns), list(text_columns))
    if isinstance(table, EffectTable):
        frame, k = _suppress_frame(table.table, *cols, settings)
        note = (
            f"Estimates based on fewer than {settings.threshold} units "
            f"({', '.join(cols[0])}) are suppressed; counts rounded to the nearest "
            f"{settings.base}."
        )
        extra = {**table.extra, "rows_suppressed": k, "disclosure": note}
        return EffectTable(frame, table.method, title=table.title, extra=extra), k
    if isinstance(table, pd.DataFrame):
        return _suppress_frame(table, *cols, settings)
    raise ParameterError(f"table must be a DataFrame or an EffectTable, not {type(table).__name__}")
