"""Headline findings in words, generated from results (never typed by hand).

Each notebook records two to five sentences with :meth:`wpeval.publish.report.Report.finding`;
the report shows them at the top and the index beside the report's main figure. The helpers
here write the sentences from an estimate and its interval, e.g.

    In CPA18, Prime B's 2-year job-outcome rate is 6.2 points higher than Prime A's
    (95% CI 5.9 to 6.6; adjusted p < 0.001).

Numbers use :mod:`wpeval.publish.formats` (percentages with one decimal, points with the
decimals the standard error supports, ``p < 0.001``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from wpeval.publish import formats as F

#: reader's names of the outcomes
OUTCOME_LABELS = {
    "job_outcome_24m": "2-year job-outcome rate",
    "job_outcome_12m": "12-month job-outcome rate",
}


def outcome_label(outcome: str) -> str:
    """The reader's name of an outcome column (``job_outcome_24m`` -> ``2-year job-outcome
    rate``); unknown columns are humanised."""
    return OUTCOME_LABELS.get(outcome, F.humanise(outcome).lower())


def level(alpha: float = 0.05) -> str:
    """Confidence level text: ``95%``."""
    return f"{100 * (1 - float(alpha)):g}%"


def _interval(lo: Any, hi: Any, fmt) -> str:
    return f"{fmt(lo)} to {fmt(hi)}"


def contrast_sentence(
    row: pd.Series | dict,
    outcome: str,
    *,
    alpha: float = 0.05,
    p_column: str = "p_adjusted",
    decimals: int | None = None,
) -> str:
    """One sentence for a within-CPA difference of rates between two primes.

    Parameters
    ----------
    row : Series or dict
        A row of a contrast table: ``cpa``, ``prime_a``, ``prime_b`` (or ``term`` as
        ``"A - B"``), ``estimate`` (A - B, a difference of proportions), ``conf_low``,
        ``conf_high``, ``std_error`` and the p-value column.
    outcome : str
        The outcome column (see :data:`OUTCOME_LABELS`).
    alpha : float
        1 - the interval's confidence level.
    p_column : str
        ``p_adjusted`` (say "adjusted p"), ``p_value`` or another p column.
    decimals : int, optional
        Decimals of the points; default from the standard error.

    Returns
    -------
    str
        The higher prime first: "In CPA18, Prime B's ... is 6.2 points higher than Prime A's
        (95% CI 5.9 to 6.6; adjusted p < 0.001)."
    """
    r = dict(row)
    a, b = r.get("prime_a"), r.get("prime_b")
    if not a or not b:
        a, _, b = str(r["term"]).partition(" - ")
    est, lo, hi = (float(r[k]) for k in ("estimate", "conf_low", "conf_high"))
    if est < 0:  # say it the positive way round: B higher than A
        a, b, est, lo, hi = b, a, -est, -hi, -lo
    dec = max(1, F.decimals_for(r.get("std_error"), 100)) if decimals is None else decimals
    pts = lambda v: F.fmt_points(v, dec)
    where = f"In {r['cpa']}, " if r.get("cpa") else ""
    word = "higher" if est > 0 else "different"
    ptext = F.fmt_p_phrase(r.get(p_column))
    padj = ("adjusted " if p_column.startswith("p_adjusted") else "") + ptext
    return (
        f"{where}{a}'s {outcome_label(outcome)} is {pts(est)} points {word} than {b}'s "
        f"({level(alpha)} CI {_interval(lo, hi, pts)}; {padj})."
    )


def top_contrasts(tidy: pd.DataFrame, k: int = 2, p_column: str = "p_adjusted") -> pd.DataFrame:
    """The ``k`` pairwise contrasts to report: smallest p-value first, then the largest
    absolute estimate (ties broken by the term, so the choice is deterministic)."""
    tab = tidy
    if "contrast" in tab.columns:
        tab = tab[tab["contrast"] == "pairwise"]
    tab = tab.assign(_abs=tab["estimate"].abs(), _p=tab[p_column].fillna(1.0))
    tab = tab.sort_values(["_p", "_abs", "term"], ascending=[True, False, True], kind="mergesort")
    return tab.drop(columns=["_abs", "_p"]).head(k)


def survival_contrast_sentence(
    row: pd.Series | dict,
    event: str,
    *,
    alpha: float = 0.05,
    p_column: str = "p_adjusted_cpa_quantity",
) -> str:
    """One sentence for a blocked survival contrast between two primes
    (a row of :func:`wpeval.compare_primes_survival`).

    Parameters
    ----------
    row : Series or dict
        ``cpa``, ``prime_a``, ``prime_b``, ``quantity`` (``"survival"`` or ``"rmst"``),
        ``horizon_weeks``, ``estimate`` (A - B), ``conf_low``, ``conf_high``, ``std_error``,
        the p-value column and, when computed, ``p_randomisation``.
    event : str
        The event in words, e.g. ``"a job start"``.
    alpha : float
        1 - the interval's confidence level.
    p_column : str
        p-value column to quote (default: adjusted over the CPA's pairs for one quantity).

    Returns
    -------
    str
        "In CPA03, 3.0 points more of Prime C's claimants than Prime B's were still without a
        job start at 104 weeks (95% CI 0.3 to 5.8; adjusted p = 0.03; randomisation p =
        0.035)." For the RMST, the difference in mean days without the event.
    """
    r = dict(row)
    a, b = r["prime_a"], r["prime_b"]
    est, lo, hi = (float(r[k]) for k in ("estimate", "conf_low", "conf_high"))
    if est < 0:  # say it the positive way round
        a, b, est, lo, hi = b, a, -est, -hi, -lo
    weeks = f"{float(r['horizon_weeks']):g}"
    p_text = ("adjusted " if p_column.startswith("p_adjusted") else "") + F.fmt_p_phrase(
        r.get(p_column)
    )
    if F._num(r.get("p_randomisation")) is not None:
        p_text += "; randomisation " + F.fmt_p_phrase(r["p_randomisation"])
    if r["quantity"] == "rmst":
        fmt = lambda v: f"{v:,.1f}"
        what = (
            f"{a}'s claimants spent {fmt(est)} more days on average than {b}'s without "
            f"{event} in the first {weeks} weeks"
        )
    else:
        dec = max(1, F.decimals_for(r.get("std_error"), 100))
        fmt = lambda v: F.fmt_points(v, dec)
        what = (
            f"{fmt(est)} points more of {a}'s claimants than {b}'s were still without "
            f"{event} at {weeks} weeks"
        )
    return f"In {r['cpa']}, {what} ({level(alpha)} CI {_interval(lo, hi, fmt)}; {p_text})."


def count_sentence(k: int, n: int, what: str, condition: str) -> str:
    """``"3 of 40 contrasts have an adjusted p-value below 0.05."``"""
    return f"{F.fmt_count(k)} of {F.fmt_count(n)} {what} {condition}."


def rate_sentence(
    subject: str, rate: Any, lo: Any = None, hi: Any = None, *, alpha: float = 0.05, n: Any = None
) -> str:
    """``"Across all referrals, the 2-year job-outcome rate is 27.8% (95% CI 27.5% to
    28.1%; 180,000 referrals)."`` (interval and count when given)."""
    bits = []
    if lo is not None and hi is not None and F._num(lo) is not None:
        bits.append(f"{level(alpha)} CI {_interval(lo, hi, F.fmt_pct)}")
    if n is not None:
        bits.append(f"{F.fmt_count(n)} referrals")
    tail = f" ({'; '.join(bits)})" if bits else ""
    return f"{subject} is {F.fmt_pct(rate)}{tail}."


def ratio_sentence(
    subject: str,
    ratio: Any,
    lo: Any,
    hi: Any,
    p: Any = None,
    *,
    alpha: float = 0.05,
    what: str = "hazard ratio",
) -> str:
    """``"Prime B against Prime A: hazard ratio 1.12 (95% CI 1.05 to 1.19; p < 0.001)."``"""
    fmt = lambda v: F.fmt_number(v, 3)
    ptext = f"; {F.fmt_p_phrase(p)}" if p is not None else ""
    return f"{subject}: {what} {fmt(ratio)} ({level(alpha)} CI {_interval(lo, hi, fmt)}{ptext})."


def test_sentence(
    subject: str,
    p: Any,
    *,
    alpha: float = 0.05,
    statistic: Any = None,
    df: Any = None,
    name: str = "chi-square",
    null: str = "the null hypothesis",
) -> str:
    """A test result in words: whether it rejects at ``alpha``, with the statistic and p."""
    x = F._num(p)
    verdict = "is consistent with" if x is None or x >= alpha else "rejects"
    stat = ""
    if statistic is not None:
        stat = f"{name} {F.fmt_number(statistic)}" + (f" on {F.fmt_count(df)} df" if df else "")
        stat += "; "
    return f"{subject} {verdict} {null} ({stat}{F.fmt_p_phrase(p)})."


def wilson_interval(successes: Any, n: Any, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a proportion (statsmodels ``proportion_confint``), for
    published counts that carry no interval of their own; ``(nan, nan)`` when ``n`` is 0 or
    missing."""
    from statsmodels.stats.proportion import proportion_confint

    k, m = F._num(successes), F._num(n)
    if k is None or m is None or m <= 0:
        return float("nan"), float("nan")
    lo, hi = proportion_confint(k, m, alpha=alpha, method="wilson")
    return float(lo), float(hi)
