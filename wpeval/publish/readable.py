"""Readable tables for reports: the columns a reader needs, rounded, with the full table one
click away.

- :func:`effect_view` turns an :class:`~wpeval.results.EffectTable` into a short frame of
  text: the labels, the estimate (in percentage points for differences of rates), the interval
  as ``lo to hi``, the p-value (``< 0.001``) and the adjusted p-value, the number of
  referrals, and ranks with their confidence sets when present. Decimals follow the standard
  errors (:func:`wpeval.publish.formats.decimals_for`).
- :func:`frame_view` formats a plain frame column by column: p-values, rates and shares as
  percentages with one decimal, counts with separators, other numbers to 3 significant digits.
- :func:`table_html` wraps a view in a horizontally scrolling box (a wide table never widens the
  page), with a footnote for suppressed cells, a download link and the full table in a
  collapsed ``<details>``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from wpeval.publish import formats as F

#: outcomes measured as 0/1: differences of their means are shown in percentage points
BINARY_OUTCOME_PREFIXES = ("job_outcome", "job_entry", "entered", "attached", "outcome")
#: label columns shown before the term, when an effect table has them
LABEL_COLUMNS = ("cpa", "payment_group", "group", "stream", "assessed_stream", "cohort")
#: marker of a suppressed cell and its footnote
SUPPRESSED = "[c]"
SUPPRESSED_NOTE = (
    "[c] Suppressed to protect confidentiality (a small count, or a cell from "
    "which a small count could be worked out)."
)


def is_rate_difference(table) -> bool:
    """True when an EffectTable's estimates are differences of proportions (a 0/1 outcome)."""
    outcome = str(table.method.get("outcome") or "")
    return outcome.startswith(BINARY_OUTCOME_PREFIXES)


def _p_column(name: str) -> bool:
    n = name.lower()
    return (
        n in ("p", "p_value", "pvalue")
        or n.startswith("p_adjusted")
        or n.endswith(("_p", "_p_value"))
    )


def _rate_column(name: str, values: pd.Series) -> bool:
    n = name.lower()
    if not any(w in n for w in ("rate", "share", "prob", "proportion")):
        return False
    x = pd.to_numeric(values, errors="coerce").dropna()
    return len(x) > 0 and bool(((x >= 0) & (x <= 1)).all())


def effect_view(table, *, points: bool | None = None) -> tuple[pd.DataFrame, str]:
    """The reader's view of an EffectTable and a note on the units.

    Parameters
    ----------
    table : EffectTable
        The result.
    points : bool, optional
        Show estimates and intervals in percentage points (x 100). Default: when the
        method's ``outcome`` is a 0/1 outcome (:func:`is_rate_difference`).

    Returns
    -------
    (DataFrame of str, str)
        The view and a sentence on its units and interval level.
    """
    tab = table.tidy()
    points = is_rate_difference(table) if points is None else points
    est = pd.to_numeric(tab["estimate"], errors="coerce")
    terms = " ".join(map(str, tab["term"]))
    rates = bool(
        points and " - " not in terms and est.notna().any() and est.between(0, 1).all()
    )  # levels of a rate, not differences
    scale = 100.0 if points else 1.0
    se = pd.to_numeric(tab["std_error"], errors="coerce")
    dec = F.decimals_for(se.median() if se.notna().any() else None, scale)
    if points:
        dec = max(dec, 1)  # percentage points: at least one decimal
    alpha = float(table.method.get("alpha", 0.05) or 0.05)
    level = f"{100 * (1 - alpha):g}%"

    def num(v):
        x = F._num(v)
        return (
            F.MISSING
            if x is None
            else f"{scale * x + 0.0:,.{dec}f}".replace("-0.0", "0.0")
            if round(scale * x, dec) == 0
            else f"{scale * x:,.{dec}f}"
        )

    out = pd.DataFrame(index=tab.index)
    for col in LABEL_COLUMNS:
        if col in tab.columns and tab[col].notna().any():
            out[F.humanise(col) if col != "cpa" else "CPA"] = tab[col].astype(str)
    out["Comparison" if " - " in " ".join(map(str, tab["term"])) else "Term"] = tab["term"].astype(
        str
    )
    unit_label = " (%)" if rates else " (points)" if points else ""
    out["Estimate" + unit_label] = [num(v) for v in tab["estimate"]]
    if tab["conf_low"].notna().any():
        out[f"{level} CI"] = [
            f"{num(lo)} to {num(hi)}" if F._num(lo) is not None else F.MISSING
            for lo, hi in zip(tab["conf_low"], tab["conf_high"])
        ]
    if "shrunk_effect" in tab.columns:
        out["Shrunk" + unit_label] = [num(v) for v in tab["shrunk_effect"]]
    if tab["p_value"].notna().any():
        out["p"] = [F.fmt_p(v) for v in tab["p_value"]]
    for col, label in (("p_adjusted_cpa", "Adjusted p (CPA)"), ("p_adjusted", "Adjusted p")):
        if col in tab.columns and tab[col].notna().any():
            out[label] = [F.fmt_p(v) for v in tab[col]]
    if {"rank", "rank_low", "rank_high"} <= set(tab.columns):
        out["Rank (set)"] = [
            f"{F.fmt_count(r)} ({F.fmt_count(lo)}\u2013{F.fmt_count(hi)})"
            for r, lo, hi in zip(tab["rank"], tab["rank_low"], tab["rank_high"])
        ]
    if "n" in tab.columns and tab["n"].notna().any():
        out["Referrals"] = [F.fmt_count(v) for v in tab["n"]]
    unit = (
        "Rates and intervals as percentages"
        if rates
        else "Estimates and intervals in percentage points (differences of rates x 100)"
        if points
        else "Estimates on the scale of the method"
    )
    if "hazard_ratio" in tab.columns:
        out["Hazard ratio"] = [F.fmt_number(v) for v in tab["hazard_ratio"]]
        if "hr_conf_low" in tab.columns:
            out[f"HR {level} CI"] = [
                f"{F.fmt_number(lo)} to {F.fmt_number(hi)}"
                for lo, hi in zip(tab["hr_conf_low"], tab["hr_conf_high"])
            ]
    return out.reset_index(drop=True), f"{unit}; {level} confidence intervals."


def frame_view(df: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Format a plain frame for reading (strings), keeping ``columns`` (default: all)."""
    if not isinstance(df.index, pd.RangeIndex) or df.index.name is not None:
        df = df.reset_index()
    if columns is not None:
        df = df[list(columns)]
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        name = " / ".join(map(str, col)) if isinstance(col, tuple) else str(col)
        if pd.api.types.is_bool_dtype(s):
            vals = ["yes" if v else "no" for v in s]
        elif pd.api.types.is_numeric_dtype(s):
            if _p_column(name):
                vals = [F.fmt_p(v) for v in s]
            elif _rate_column(name, s):
                vals = [F.fmt_pct(v) for v in s]
            elif pd.api.types.is_integer_dtype(s):
                vals = [F.fmt_count(v) for v in s]
            else:
                vals = [F.fmt_number(v) for v in s]
        else:
            vals = [F.MISSING if _missing(v) else str(v) for v in s]
        out[name] = vals
    return out


def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, (list, tuple, dict, np.ndarray)):
        return False
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _num_class(text: Any) -> str:
    """``class='num'`` for a cell that reads as a number (kept on one line, right-aligned)."""
    t = str(text)
    return " class='num'" if len(t) <= 24 and _NUMERIC.match(t) else ""


_NUMERIC = re.compile(r"^[-+<\u2013\u00a3]?\s?[\d.,]*\d[\d.,%]*( to -?[\d.,%]+| \(.*\))?$|^\u2013$")


def view_html(view: pd.DataFrame, cls: str = "wpeval-table") -> str:
    """An HTML table of a formatted view (escaped text, numbers right-aligned by CSS)."""
    head = "".join(f"<th scope='col'>{html.escape(str(c))}</th>" for c in view.columns)
    rows = []
    for rec in view.itertuples(index=False):
        cells = "".join(f"<td{_num_class(v)}>{html.escape(str(v))}</td>" for v in rec)
        rows.append(f"<tr>{cells}</tr>")
    return (
        f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def table_html(
    view_markup: str,
    *,
    caption: str | None,
    notes: Sequence[str] = (),
    full_markup: str | None = None,
    full_label: str = "Full table",
    downloads: Sequence[tuple[str, str]] = (),
) -> str:
    """A table figure: caption, scrolling table, notes (suppression footnote), downloads and
    the full table in a collapsed section."""
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    notes = list(notes)
    if SUPPRESSED in view_markup and SUPPRESSED_NOTE not in notes:
        notes.append(SUPPRESSED_NOTE)
    note_html = "".join(f"<p class='wpeval-note'>{html.escape(n)}</p>" for n in notes if n)
    dl = ""
    if downloads:
        links = " &middot; ".join(
            f"<a href='{html.escape(href, quote=True)}'>{html.escape(label)}</a>"
            for label, href in downloads
        )
        dl = f"<p class='wpeval-downloads'>Download: {links}</p>"
    full = ""
    if full_markup:
        full = (
            f"<details class='wpeval-full'><summary>{html.escape(full_label)}</summary>"
            f"<div class='wpeval-scroll'>{full_markup}</div></details>"
        )
    return (
        f"<figure class='wpeval-table-figure'>{cap}<div class='wpeval-scroll'>"
        f"{view_markup}</div>{note_html}{dl}{full}</figure>"
    )


def full_frame_html(df: pd.DataFrame, rows: int | None = None) -> str:
    """The full tidy table: every column, 4 significant digits."""
    shown = df.head(rows) if rows else df
    return shown.to_html(
        index=not isinstance(df.index, pd.RangeIndex),
        na_rep=F.MISSING,
        float_format=lambda v: f"{v:,.4g}",
        classes="wpeval-table",
        border=0,
    )
