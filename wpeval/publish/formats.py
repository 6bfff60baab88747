"""Number formats for readers: percentages, percentage points, p-values, counts and money.

Every published number goes through these functions, so that a report, its index entry, its
findings and its spreadsheet say the same thing the same way:

- rates as percentages with one decimal (``27.8%``);
- differences of rates in percentage points, with as many decimals as the standard error
  supports (:func:`decimals_for`);
- p-values with two significant digits, and ``< 0.001`` below that;
- counts with thousands separators, money in whole pounds.

Missing values are an en dash (``–``).
"""

from __future__ import annotations

import math
from typing import Any

#: shown for a missing value
MISSING = "\u2013"
#: units known to :func:`fmt_value` (the ``unit`` of ``Report.record``)
UNITS = ("%", "pp", "p", "count", "£", "days", "weeks", "")


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, (bool, str)):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def decimals_for(std_error: Any, scale: float = 1.0, most: int = 4) -> int:
    """Decimals that a standard error supports: one significant digit of the SE.

    ``SE = 0.0031`` gives 3 (``-0.007``); on the points scale (``scale=100``, SE 0.31) 1
    (``-0.7``). Clipped to ``0..most``; 1 when the SE is missing or zero.
    """
    se = _num(std_error)
    if se is None or se <= 0:
        return 1
    return int(min(most, max(0, -math.floor(math.log10(se * scale)))))


def fmt_p(p: Any) -> str:
    """p-value: ``< 0.001``, else two significant digits (``0.023``, ``0.0086``, ``0.41``)."""
    x = _num(p)
    if x is None:
        return MISSING
    if x < 0.001:
        return "< 0.001"
    if x >= 0.995:
        return "1.00"
    return f"{x:.2g}" if x < 0.095 else f"{x:.2f}"


def fmt_p_phrase(p: Any) -> str:
    """p-value inside a sentence: ``p < 0.001`` or ``p = 0.023``."""
    text = fmt_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def fmt_pct(rate: Any, decimals: int = 1) -> str:
    """A proportion as a percentage: ``0.2783`` -> ``27.8%``."""
    x = _num(rate)
    return MISSING if x is None else f"{100 * x:.{decimals}f}%"


def fmt_points(diff: Any, decimals: int = 1, sign: bool = False) -> str:
    """A difference of proportions in percentage points: ``0.062`` -> ``6.2``."""
    x = _num(diff)
    if x is None:
        return MISSING
    return f"{100 * x:+.{decimals}f}" if sign else f"{100 * x:.{decimals}f}"


def fmt_count(value: Any) -> str:
    """A count with thousands separators: ``12345`` -> ``12,345``."""
    x = _num(value)
    return MISSING if x is None else f"{x:,.0f}"


def fmt_money(value: Any) -> str:
    """Whole pounds: ``1234.5`` -> ``£1,235``."""
    x = _num(value)
    return MISSING if x is None else f"\u00a3{x:,.0f}"


def fmt_number(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, thousands separators and no exponent
    for ordinary sizes: ``0.00723`` -> ``0.00723``, ``12345.6`` -> ``12,346``."""
    x = _num(value)
    if x is None:
        return MISSING
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    if mag >= digits - 1:
        return f"{x:,.0f}"
    if mag < -4:
        return f"{x:.{digits - 1}e}"
    return f"{x:,.{digits - 1 - mag}f}"


def fmt_value(value: Any, unit: str | None = None) -> str:
    """Format a key figure by its unit: ``%`` (a proportion shown as a percentage), ``pp``
    (a difference of proportions in points), ``p`` (p-value), ``count``, ``£``, ``days``,
    ``weeks``, ``""`` or None (a plain number, 3 significant digits; integers in full)."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, dict)):
        return str(value)
    if unit == "%":
        return fmt_pct(value)
    if unit == "pp":
        return f"{fmt_points(value)} points"
    if unit == "p":
        return fmt_p(value)
    if unit == "count" or (isinstance(value, int) and not unit):
        return fmt_count(value)
    if unit == "\u00a3":
        return fmt_money(value)
    if unit in ("days", "weeks"):
        return f"{fmt_number(value)} {unit}"
    return fmt_number(value)


def humanise(key: str) -> str:
    """A readable label from a result key: ``rows_dropped`` -> ``Rows dropped``."""
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]
