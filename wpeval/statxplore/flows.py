"""Performance measures from the published monthly flows alone (no extract).

An evaluator with only Stat-Xplore (a think tank, a journalist, a select committee) has counts
of events per month, not the histories of referral cohorts. The measure computed here is

    flow rate = job outcomes in an outcome period  /  referrals in an earlier reference period

by contract (and, optionally, payment group). The reference period has the outcome period's
length and ends ``lag_months`` months before the outcome period ends (default 12: a job outcome
needs a job start plus 13 or 26 weeks in work, so outcomes paid in a year come mostly from the
referrals of the year before). This definition is ours, chosen to be computable from flows.

Limits (stated in every result):

- **Flows are not cohorts.** The outcomes counted need not come from the referrals counted:
  some come from earlier or later referrals, so the ratio is not a proportion of people and can
  move with the intake's timing (a contract whose intake grew looks better). The published
  12-month and 2-year job-outcome rates of monthly referral cohorts, and the minimum
  performance level (MPL) measure, need DWP's cohort tables (or an extract); they cannot be
  rebuilt from these flows.
- **Descriptive only.** Claimants were randomly allocated between the primes of a CPA, but a
  ratio of flows does not use that allocation: the comparison of contracts here is
  descriptive, not causal (see ``compare_primes`` for the randomised contrast with an extract).
- **Noise.** Published cells carry Stat-Xplore's perturbation and rounding; summing many cells
  adds their variance, which the standard error includes (from the noise model). Summing many
  *small* cells is also biased: a true 1 is published as 0 or 5 and is 0.5 on average under the
  default model, so query Stat-Xplore at the level the measure needs (contract totals) rather
  than adding up fine cells. A contract or CPA whose target rate is 0 (or at least 1) gets no
  funnel limits (counted in ``extra``).

Interval: delta method for a ratio of counts, treating job outcomes as Poisson given the
referrals and adding the noise variance of every published cell summed:
``Var(rate) = (O + V_O + rate^2 V_R) / R^2`` where ``V_O``, ``V_R`` are the summed noise
variances (:meth:`NoiseModel.variance`); ``rate +- z SE`` (normal).
The funnel limits are the exact binomial limits of
:func:`wpeval.estimators.ranking.funnel_limits` at ``n = R`` referrals, an approximation that
treats each referral in the reference period as a trial; they ignore the noise and the flow
mismatch, so the dispersion statistic (mean z^2) should be read before any flag.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from wpeval.estimators.ranking import funnel_limits
from wpeval.exceptions import DataContractError, DesignError, ParameterError
from wpeval.results import EffectTable
from wpeval.statxplore.noise import NoiseModel

__all__ = ["flow_rates"]


def _window(
    table: pd.DataFrame, start: pd.Period, end: pd.Period, by: list[str], noise: NoiseModel | None
) -> pd.DataFrame:
    sel = table[(table["month"] >= start) & (table["month"] <= end)]
    vals = sel["value"].fillna(0).clip(lower=0)
    var = noise.variance(np.rint(vals)) if noise is not None else np.zeros(len(sel))
    out = (
        sel.assign(value=vals, noise_var=var)
        .groupby(by, observed=True)[["value", "noise_var"]]
        .sum()
    )
    return out


def _counts(published, outcome, reference, by, noise) -> tuple[pd.DataFrame, int]:
    """Outcomes (``value_o``) and referrals (``value_r``) by ``by``, with noise variances;
    rows without referrals are dropped and counted."""
    tabs = {t: published[published["table"] == t] for t in ("job_outcomes", "referrals")}
    for t, frame in tabs.items():
        if frame.empty:
            raise DataContractError(
                f"flow rates need the {t!r} table", column="table", rule="required_table"
            )
    num = _window(tabs["job_outcomes"], *outcome, by, noise)
    den = _window(tabs["referrals"], *reference, by, noise)
    tab = den.join(num, how="left", lsuffix="_r", rsuffix="_o").fillna(0.0).reset_index()
    n_no_ref = int((tab["value_r"] <= 0).sum())
    tab = tab[tab["value_r"] > 0].sort_values(by, kind="mergesort").reset_index(drop=True)
    if tab.empty:
        raise DesignError(f"no referrals in the reference period {reference[0]} to {reference[1]}")
    return tab, n_no_ref


def _add_funnel(out: pd.DataFrame, p0s: np.ndarray, ok: np.ndarray, levels: list) -> None:
    """Add ``z``, the limits of each level and ``flag`` (as ``funnel_data`` does) in place;
    rows where ``ok`` is False (target 0 or >= 1) get no limits and no flag."""
    rate, n = out["estimate"].to_numpy(), out["n"].to_numpy()
    out["z"] = np.where(ok, (rate - p0s) / np.sqrt(p0s * (1 - p0s) / n), np.nan)
    flag = np.full(len(out), "", dtype=object)
    for i, lev in enumerate(levels):
        lo, hi = funnel_limits(p0s, n, lev)
        tag = f"{lev * 100:g}".replace(".", "")
        out[f"lower_{tag}"] = np.where(ok, lo, np.nan)
        out[f"upper_{tag}"] = np.where(ok, hi, np.nan)
        suffix = "_alarm" if i == len(levels) - 1 else "_alert"
        flag = np.where(
            ok & (rate < lo), "low" + suffix, np.where(ok & (rate > hi), "high" + suffix, flag)
        )
    out["flag"] = flag


def flow_rates(
    published: pd.DataFrame,
    *,
    outcome_start: str,
    outcome_end: str,
    lag_months: int = 12,
    by=("cpa", "prime"),
    target: str = "cpa",
    alpha: float = 0.05,
    levels=(0.95, 0.998),
    noise: NoiseModel | None = None,
) -> EffectTable:
    """Job outcomes in a period over referrals in an earlier period, by contract.

    Parameters
    ----------
    published : pandas.DataFrame
        :func:`wpeval.statxplore.work_programme` output holding the ``job_outcomes`` and
        ``referrals`` tables (or :func:`monthly_tables` of an extract).
    outcome_start, outcome_end : str
        First and last month of the outcome period, e.g. ``"2013-04"``, ``"2014-03"``.
    lag_months : int
        How many months earlier the reference (referral) period ends.
    by : sequence of str
        Breakdown (must include ``cpa`` and ``prime``; add ``payment_group`` for groups).
    target : {"cpa", "national"}
        Funnel target: the pooled rate of the contract's CPA (or CPA and group) or nationally.
    alpha : float
        1 - confidence level of the intervals.
    levels : sequence of float
        Funnel control-limit levels.
    noise : NoiseModel, optional
        Noise assumed in the published cells (default ``NoiseModel()``; pass
        ``NoiseModel(scale=0, base=1)`` for an extract's exact counts).

    Returns
    -------
    EffectTable
        One row per contract (x group): ``estimate`` (flow rate), ``std_error``,
        ``conf_low``/``conf_high``, ``n`` (referrals in the reference period), ``events``
        (job outcomes in the outcome period), ``target``, ``z``, funnel limits
        ``lower_95``... and ``flag`` as in :func:`wpeval.estimators.ranking.funnel_data`, so
        :func:`wpeval.plots.ranking.plot_funnel` draws it.
    """
    by = list(by)
    if not {"cpa", "prime"} <= set(by):
        raise ParameterError("by must include 'cpa' and 'prime'")
    if target not in ("cpa", "national"):
        raise ParameterError("target must be 'cpa' or 'national'")
    if int(lag_months) != lag_months or lag_months < 0:
        raise ParameterError(f"lag_months must be a whole number >= 0, got {lag_months!r}")
    noise = noise if noise is not None else NoiseModel()
    start, end = pd.Period(outcome_start, "M"), pd.Period(outcome_end, "M")
    if end < start:
        raise ParameterError(f"outcome_end {outcome_end} is before outcome_start {outcome_start}")
    r_end = end - int(lag_months)
    r_start = r_end - (end.ordinal - start.ordinal)
    tab, n_no_ref = _counts(published, (start, end), (r_start, r_end), by, noise)
    o, r = tab["value_o"].to_numpy(), tab["value_r"].to_numpy()
    rate = o / r
    se = np.sqrt(o + tab["noise_var_o"] + rate**2 * tab["noise_var_r"]) / r
    z_a = stats.norm.isf(alpha / 2)
    group_keys = ["cpa"] + (["payment_group"] if "payment_group" in by else [])
    if target == "cpa":
        pooled = tab.groupby(group_keys)[["value_o", "value_r"]].transform("sum")
        p0 = (pooled["value_o"] / pooled["value_r"]).to_numpy()
    else:
        p0 = np.full(len(tab), o.sum() / r.sum())
    ok = (p0 > 0) & (p0 < 1)  # funnel limits need a target rate in (0, 1)
    if not ok.any():
        raise DesignError(
            "every target flow rate is 0 or at least 1; binomial funnel limits "
            "need a rate in (0, 1)"
        )
    terms = tab["cpa"] + ": " + tab["prime"]
    if "payment_group" in by:
        terms = terms + " / " + tab["payment_group"]
    n = np.maximum(np.rint(r), 1).astype(int)
    out = pd.DataFrame(
        {
            "term": terms,
            "estimate": rate,
            "std_error": se,
            "conf_low": rate - z_a * se,
            "conf_high": rate + z_a * se,
            "n": n,
            **{c: tab[c].astype(str) for c in by},
            "events": o,
            "target": p0,
        }
    )
    levels = sorted(float(v) for v in levels)
    _add_funnel(out, np.where(ok, p0, 0.5), ok, levels)
    method = {
        "estimator": "flow rate: job outcomes in a period / referrals in an earlier period",
        "se_type": "delta method: Poisson outcomes plus Stat-Xplore noise variance",
        "ci_method": f"normal, {100 * (1 - alpha):g}%",
        "design": "none: descriptive comparison of flows, not the random allocation",
        "outcome_period": f"{start} to {end}",
        "reference_period": f"{r_start} to {r_end}",
        "lag_months": int(lag_months),
        "target": target,
        "levels": levels,
        "alpha": alpha,
        "notes": "Flows are not cohorts: outcomes need not come from the referrals "
        "counted. Cohort job-outcome rates and MPLs need DWP's cohort tables. "
        "Without the random allocation these comparisons are descriptive.",
    }
    extra = {
        "n_contracts_without_referrals": n_no_ref,
        "n_without_funnel_limits": int((~ok).sum()),
        "dispersion": float(np.nanmean(out["z"] ** 2)),
        "n_flagged": int((out["flag"] != "").sum()),
    }
    return EffectTable(
        out, method, title="Flow rates: job outcomes over earlier referrals", extra=extra
    )
