"""Exact binomial funnel-plot limits (Spiegelhalter 2005) and the contracts outside them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from wpeval.estimators.ranking._input import _examples, _prepare
from wpeval.exceptions import DataContractError, DesignError, ParameterError
from wpeval.results import EffectTable


def funnel_limits(target, n, level: float = 0.95):
    """Exact binomial control limits for a proportion at sample size ``n`` (Spiegelhalter 2005).

    Parameters
    ----------
    target : float or array-like
        Target proportion ``p0`` in (0, 1).
    n : int or array-like
        Denominators (>= 1).
    level : float
        Two-sided level, e.g. 0.95 or 0.998; each tail has probability ``q = (1-level)/2``.

    Returns
    -------
    (lower, upper) : arrays of proportions
        With ``F`` the Binomial(n, p0) cdf and ``f`` its pmf: lower ``(r - a)/n`` where
        ``r = F^{-1}(q)`` (smallest r with ``F(r) >= q``) and ``a = (F(r) - q)/f(r)``; upper
        ``(r' + 1 - a')/n`` with ``r' = F^{-1}(1-q)``, ``a' = (F(r') - (1-q))/f(r')``. The
        interpolation makes the funnel smooth in ``n``, symmetric about ``p0 = 0.5``, and keeps
        each tail's exact probability ``P(Y/n < lower)``, ``P(Y/n > upper)`` below ``q``.
    """
    if not 0 < level < 1:
        raise ParameterError("level must be in (0, 1)")
    p0 = np.asarray(target, dtype=float)
    n = np.asarray(n)
    if np.any((p0 <= 0) | (p0 >= 1)) or np.any(n < 1) or np.any(n != np.round(n)):
        raise ParameterError("target must be in (0, 1) and n a positive integer")
    n = n.astype(float)
    q = (1 - level) / 2
    r = stats.binom.ppf(q, n, p0)
    lower = (r - (stats.binom.cdf(r, n, p0) - q) / stats.binom.pmf(r, n, p0)) / n
    r2 = stats.binom.ppf(1 - q, n, p0)
    upper = (r2 + 1 - (stats.binom.cdf(r2, n, p0) - (1 - q)) / stats.binom.pmf(r2, n, p0)) / n
    return np.clip(lower, 0, 1), np.clip(upper, 0, 1)


def funnel_data(
    data: pd.DataFrame,
    outcome: str,
    *,
    cpa_col: str = "cpa",
    prime_col: str = "prime",
    target: str = "cpa",
    levels=(0.95, 0.998),
) -> EffectTable:
    """Contract outcome rates against their size, with funnel-plot control limits.

    Parameters
    ----------
    data : pandas.DataFrame
        Referral-level data; rows with a missing ``outcome`` are dropped and counted.
    outcome : str
        Binary (0/1) outcome column.
    cpa_col, prime_col : str
        Contract columns.
    target : {"cpa", "national"}
        Target rate ``p0``: the contract's CPA rate (primes were randomised within CPAs, so
        this comparison is balanced by design) or the national rate (also reflects the CPAs'
        labour markets and caseloads, as the published comparisons did).
    levels : sequence of float
        Control-limit levels (default 95% "alert" and 99.8% "alarm").

    Returns
    -------
    EffectTable
        One row per contract: ``estimate`` = outcome rate, ``n`` referrals, ``events``,
        ``target``, ``lower_95``/``upper_95``, ``lower_998``/``upper_998`` (per level),
        ``flag`` ("high_alarm"/"low_alarm" strictly beyond the widest limits,
        "high_alert"/"low_alert" beyond a narrower one only, "" inside), and
        ``z`` = (rate - p0)/sqrt(p0(1-p0)/n).
        ``extra["dispersion"]`` is mean(z^2) (Spiegelhalter's over-dispersion check: values
        well above 1 mean many contracts will fall outside limits that assume pure binomial
        noise; no over-dispersion adjustment is applied).

    Notes
    -----
    Limits from :func:`funnel_limits`. Assumes referrals are independent Bernoulli trials
    with the target probability; the target is estimated from the same data (including the
    contract itself), which the limits ignore.
    """
    if target not in ("cpa", "national"):
        raise ParameterError("target must be 'cpa' or 'national'")
    levels = sorted(float(v) for v in levels)
    if not levels:
        raise ParameterError("levels must hold at least one level")
    work, n_missing = _prepare(data, outcome, [cpa_col, prime_col])
    y = work[outcome].to_numpy()
    if not np.all((y == 0) | (y == 1)):
        raise DataContractError(
            "funnel plots need a 0/1 outcome",
            column=outcome,
            rule="binary",
            examples=_examples(work, ~((y == 0) | (y == 1))),
        )
    tab = (
        work.groupby([cpa_col, prime_col], observed=True, sort=True)[outcome]
        .agg(n="size", events="sum")
        .reset_index()
        .rename(columns={cpa_col: "cpa", prime_col: "prime"})
    )
    tab["cpa"], tab["prime"] = tab["cpa"].astype(str), tab["prime"].astype(str)
    tab = tab.sort_values(["cpa", "prime"], kind="mergesort").reset_index(drop=True)
    if target == "cpa":
        cp = tab.groupby("cpa")[["events", "n"]].transform("sum")
        p0 = cp["events"] / cp["n"]
    else:
        p0 = pd.Series(tab["events"].sum() / tab["n"].sum(), index=tab.index)
    if np.any((p0 <= 0) | (p0 >= 1)):
        raise DesignError("target rate is 0 or 1; funnel limits are degenerate")
    out = pd.DataFrame(
        {
            "term": tab["cpa"] + ": " + tab["prime"],
            "estimate": tab["events"] / tab["n"],
            "n": tab["n"],
            "cpa": tab["cpa"],
            "prime": tab["prime"],
            "events": tab["events"],
            "target": p0.to_numpy(),
        }
    )
    out["z"] = (out["estimate"] - out["target"]) / np.sqrt(
        out["target"] * (1 - out["target"]) / out["n"]
    )
    flag = np.full(len(out), "", dtype=object)
    for i, lev in enumerate(levels):
        lo, hi = funnel_limits(out["target"].to_numpy(), out["n"].to_numpy(), lev)
        tag = f"{lev * 100:g}".replace(".", "")
        out[f"lower_{tag}"], out[f"upper_{tag}"] = lo, hi
        suffix = "_alarm" if i == len(levels) - 1 else "_alert"
        flag = np.where(
            out["estimate"] < lo,
            "low" + suffix,
            np.where(out["estimate"] > hi, "high" + suffix, flag),
        )
    out["flag"] = flag
    method = {
        "estimator": "contract outcome rate against a target (funnel plot)",
        "se_type": "binomial at the target rate",
        "ci_method": "exact binomial control limits, interpolated (Spiegelhalter 2005)",
        "design": "none (raw rates, no adjustment for strata)",
        "target": target,
        "levels": levels,
        "outcome": outcome,
        "notes": "Control limits show where a contract with the target rate would fall "
        "by chance; points outside are flags for inquiry, not rankings.",
    }
    extra = {
        "n_dropped_missing_outcome": n_missing,
        "dispersion": float(np.mean(out["z"] ** 2)),
        "n_flagged": int((out["flag"] != "").sum()),
    }
    return EffectTable(out, method, title=f"Funnel plot data: {outcome} by contract", extra=extra)


# ------------------------------------------------------------------------ league table
