"""Value for money: what payment by results bought.

Three questions a programme board or an audit office asks, answered from referral-level data
and the tariff (:func:`wpeval.payments`):

1. **What did each job outcome cost?** :func:`cost_figures`: total paid, paid per referral,
   per job outcome and per verified month in work, by contract, CPA, payment group and
   contract year.
2. **What did each additional job outcome cost, over what would have happened anyway?**
   :func:`deadweight`: total paid / (outcomes - baseline outcomes), with the baseline taken
   from ``wpeval/config/baseline.yaml`` (published non-intervention rates where known, U
   placeholders otherwise, always overridable). It is **conditional on the assumed baseline
   and not a causal impact**: the programme had no no-treatment control group.
   :func:`sensitivity` sweeps the baseline and every U tariff value (tornado plot:
   :func:`wpeval.plots.value.plot_tornado`).
3. **Did the prime that was paid more deliver more?** See :mod:`wpeval.value.icer`.

Projected (not yet paid) sustainment payments are in :mod:`wpeval.value.projection`, kept apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from wpeval.exceptions import DataContractError, ParameterError
from wpeval.payments import PaymentsResult, Tariff, payments
from wpeval.results import EffectTable
from wpeval.value.baseline import Baseline, load_baseline
from wpeval.value.icer import fieller

__all__ = [
    "CAVEAT",
    "DAYS_PER_MONTH",
    "Baseline",
    "cost_figures",
    "deadweight",
    "load_baseline",
]

#: average days in a calendar month (365.25 / 12)
DAYS_PER_MONTH = 365.25 / 12
#: the label every deadweight figure carries
CAVEAT = (
    "conditional on the assumed non-intervention baseline; not a causal impact: the "
    "programme had no no-treatment control group"
)


# ------------------------------------------------------------------------- cost figures ----
def _payments(data: pd.DataFrame, tariff, pay: PaymentsResult | None) -> PaymentsResult:
    if pay is not None:
        if len(pay.referrals) != len(data) or not pay.referrals.index.equals(data.index):
            raise ParameterError("payments result does not match the data rows")
        return pay
    return payments(data, tariff, warn=False)


def cost_figures(
    data: pd.DataFrame,
    by: Sequence[str] = ("cpa", "prime"),
    *,
    tariff: Tariff | str | Path | Mapping | None = None,
    pay: PaymentsResult | None = None,
    until=None,
) -> pd.DataFrame:
    """What each job outcome cost: totals and unit costs by contract, group or year.

    Parameters
    ----------
    data : DataFrame
        Referral-level data (the columns :func:`wpeval.payments` needs).
    by : sequence of str, default ("cpa", "prime")
        Any of ``cpa, prime, payment_group, contract_year`` (or other columns of the payments
        table); empty for the programme total.
    tariff : optional
        As for :func:`wpeval.payments`.
    pay : PaymentsResult, optional
        Payments already computed for ``data`` (saves recomputing).
    until : date-like, optional
        Count only payments dated on or before this date.

    Returns
    -------
    DataFrame
        Per group: ``referrals, job_outcomes, sustainment_payments, total_paid,
        placeholder_paid, months_in_work_verified, paid_per_referral, paid_per_job_outcome,
        paid_per_month_in_work, job_outcome_rate, placeholder_share``.

    Notes
    -----
    ``months_in_work_verified`` counts, for each paid job outcome, the trigger period
    (13 or 26 weeks) plus 4 weeks per sustainment payment, in months of 365.25/12 days: the
    time in work the programme verified and paid for. Unit costs are NaN where the
    denominator is 0. All amounts are observed payments (no projection).
    """
    pay = _payments(data, tariff, pay)
    out = pay.by(*by, until=until)
    r = pay.referrals
    trig = np.zeros(len(r))
    cells = r.groupby(["payment_group", "contract_year"], observed=True).indices
    for (g, y), pos in cells.items():  # positions: safe with a duplicated index
        trig[pos] = pay.tariff.value(str(g), "jo_trigger_weeks", int(y))[0]
    jo = r["job_outcome_date"].notna().to_numpy()
    n_sus = r["sustainment_count"].to_numpy()
    if until is not None:
        cut = np.datetime64(pd.Timestamp(until), "ns")
        jo &= r["job_outcome_date"].to_numpy() <= cut
        days = (cut - r["job_outcome_date"].to_numpy()) / np.timedelta64(1, "D")
        n_sus = np.where(jo, np.clip(np.floor(np.nan_to_num(days, nan=-1) / 28), 0, n_sus), 0)
    months = np.where(jo, 7 * trig + 28 * n_sus, 0.0) / DAYS_PER_MONTH
    if by:
        m = pd.Series(months, index=r.index).groupby([r[c].to_numpy() for c in by]).sum()
        out["months_in_work_verified"] = m.reindex(out.index).to_numpy()
    else:
        out["months_in_work_verified"] = months.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["paid_per_referral"] = out["total_paid"] / out["referrals"]
        out["paid_per_month_in_work"] = np.where(
            out["months_in_work_verified"] > 0,
            out["total_paid"] / out["months_in_work_verified"],
            np.nan,
        )
        out["job_outcome_rate"] = out["job_outcomes"] / out["referrals"]
        out["placeholder_share"] = np.where(
            out["total_paid"] > 0, out["placeholder_paid"] / out["total_paid"], 0.0
        )
    cols = [
        "referrals",
        "job_outcomes",
        "sustainment_payments",
        "total_paid",
        "placeholder_paid",
        "months_in_work_verified",
        "paid_per_referral",
        "paid_per_job_outcome",
        "paid_per_month_in_work",
        "job_outcome_rate",
        "placeholder_share",
    ]
    return out[cols]


# --------------------------------------------------------------------------- deadweight ----
def _outcome(data: pd.DataFrame, outcome: str) -> np.ndarray:
    if outcome not in data.columns:
        if (
            outcome.startswith("job_outcome_")
            and outcome.endswith("m")
            and outcome[12:-1].isdigit()
        ):
            from wpeval.data.outcomes import outcome_flags

            return outcome_flags(data, months=(int(outcome[12:-1]),))[outcome].to_numpy(float)
        raise DataContractError(
            f"outcome column {outcome!r} is not in the data", column=outcome, rule="required_column"
        )
    y = pd.to_numeric(data[outcome], errors="coerce").to_numpy(float)
    bad = ~np.isnan(y) & (y != 0) & (y != 1)
    if bad.any():
        raise DataContractError(
            f"{outcome} must be 0/1 (or missing)",
            column=outcome,
            rule="binary",
            examples=data.index[bad][:5].tolist(),
        )
    return y


def _baseline_cells(groups, years) -> tuple[list[tuple[str, int]], np.ndarray]:
    """The distinct (group, contract year) cells, sorted, and each row's cell number."""
    gcode, glabels = pd.factorize(pd.Series(groups).astype(str), sort=True)
    years = np.asarray(years, dtype=np.int64)
    key = gcode.astype(np.int64) * 10_000 + years
    uniq, inv = np.unique(key, return_inverse=True)
    return [(str(glabels[k // 10_000]), int(k % 10_000)) for k in uniq], inv


def _baseline_rates(base: Baseline, groups, years: np.ndarray):
    """Baseline rate and status of every row (looked up once per group x year)."""
    keys, inv = _baseline_cells(groups, years)
    cells = [base.rate(g, y) for g, y in keys]
    rate = np.array([c[0] for c in cells])[inv]
    status = np.array([c[1] for c in cells], dtype=object)[inv]
    return rate, status


def _status(statuses: np.ndarray) -> str:
    for s in ("U", "override", "D"):
        if (statuses == s).any():
            return s
    return "V"


def _point_estimate(c: np.ndarray, d: np.ndarray) -> tuple[float, float, float]:
    """Means of the costs ``c`` and excess outcomes ``d = y - b``, and their ratio (NaN if
    ``dbar`` is 0): the point estimate of :func:`deadweight` (also used by
    :func:`wpeval.value.sensitivity.sensitivity`)."""
    cbar, dbar = c.mean(), d.mean()
    return cbar, dbar, (cbar / dbar if dbar != 0 else math.nan)


def _ratio_row(c: np.ndarray, y: np.ndarray, b: np.ndarray, st: np.ndarray, alpha: float) -> dict:
    """Cost per additional outcome for one group: sum c / sum (y - b), delta SE, Fieller."""
    n = len(c)
    d = y - b
    cbar, dbar, ratio = _point_estimate(c, d)
    if n > 1:
        vc, vd = c.var(ddof=1) / n, d.var(ddof=1) / n
        cv = float(np.sum((c - cbar) * (d - dbar)) / (n - 1) / n)
        cv = float(np.clip(cv, -math.sqrt(vc * vd), math.sqrt(vc * vd)))
        fi = fieller(cbar, dbar, vc, vd, cv, alpha=alpha)
        se = (
            math.sqrt(max(vc - 2 * ratio * cv + ratio**2 * vd, 0)) / abs(dbar)
            if dbar != 0
            else math.nan
        )
    else:
        fi, se = None, math.nan
    k = float(y.sum())
    return {
        "estimate": ratio,
        "std_error": se,
        "conf_low": fi.lower if fi else math.nan,
        "conf_high": fi.upper if fi else math.nan,
        "interval_kind": fi.kind if fi else "unbounded",
        "n": n,
        "job_outcomes": k,
        "outcome_rate": k / n,
        "baseline_rate": float(b.mean()),
        "baseline_outcomes": float(b.sum()),
        "additional_outcomes": float(d.sum()),
        "total_paid": float(c.sum()),
        "paid_per_outcome": c.sum() / k if k else math.nan,
        "above_baseline": bool(dbar > 0),
        "baseline_status": _status(st),
    }


def deadweight(
    data: pd.DataFrame,
    *,
    outcome: str | None = None,
    baseline: Baseline | str | Path | Mapping | None = None,
    overrides: Mapping | float | None = None,
    by: Sequence[str] = ("payment_group",),
    tariff=None,
    pay: PaymentsResult | None = None,
    alpha: float = 0.05,
) -> EffectTable:
    """Cost per additional job outcome above an assumed non-intervention baseline.

    Estimand (descriptive, **conditional on the baseline, not causal**): for a set of
    referrals, ``R = sum_i C_i / sum_i (Y_i - b_i)``, total paid over the job outcomes in
    excess of what the baseline rate ``b_i`` (by payment group and contract year of referral
    i) predicts. The programme had no no-treatment control group, so ``b`` is an assumption
    (``wpeval/config/baseline.yaml``), never an estimate.

    Variance: ``R`` is a ratio of means with ``d_i = Y_i - b_i`` (baseline treated as
    known); delta method ``Var(R) = sum_i (C_i - R d_i)^2 / (N (N - 1) dbar^2)``. The
    interval is Fieller's (:func:`wpeval.value.icer.fieller`) from ``Var(Cbar) = s_C^2/N``,
    ``Var(dbar) = s_d^2/N``, ``Cov = s_Cd/N``: unbounded when the outcome rate is not clearly
    above the baseline. Referrals are treated as independent (no design clustering).

    Parameters
    ----------
    data : DataFrame
        Referral-level data (as for :func:`wpeval.payments`) and the outcome column.
    outcome : str, optional
        0/1 job-outcome flag; default ``job_outcome_<window>m`` for the baseline's window
        (24 months in the default baseline; see ``baseline.yaml``), computed with
        :func:`wpeval.outcome_flags` if absent. Referrals whose window is not observed (NaN)
        are left out and counted.
    baseline, overrides :
        See :func:`load_baseline`.
    by : sequence of str, default ("payment_group",)
        Columns of the payments table to break down by; a programme row ``"all"`` is added.
    tariff, pay :
        See :func:`cost_figures`. The cost ``C_i`` is everything paid for referral i (all
        observed fees, including those after the outcome window).
    alpha : float, default 0.05

    Returns
    -------
    EffectTable
        One row per group and ``all``: ``estimate`` (cost per additional outcome),
        ``std_error`` (delta), ``conf_low/high`` (Fieller), ``interval_kind``, ``n``,
        ``job_outcomes, outcome_rate, baseline_rate, baseline_outcomes,
        additional_outcomes, total_paid, paid_per_outcome, above_baseline,
        baseline_status`` (U if any baseline value used is a placeholder).
    """
    base = load_baseline(baseline, overrides=overrides)
    outcome = outcome or f"job_outcome_{base.window_months}m"
    pay = _payments(data, tariff, pay)
    r = pay.referrals
    y = _outcome(data, outcome)
    b, st = _baseline_rates(base, r["payment_group"].to_numpy(), r["contract_year"].to_numpy())
    c = r["total_paid"].to_numpy(float)
    keep = ~np.isnan(y)
    rows = []
    groups = [((), keep)]
    if by:
        grouped = r[list(by)].astype(str).groupby(list(by), sort=True)
        for key, idx in grouped.indices.items():
            label = " / ".join(key) if isinstance(key, tuple) else str(key)
            mask = np.zeros(len(r), dtype=bool)
            mask[idx] = True
            groups.append((label, keep & mask))
    for key, mask in groups:
        if mask.sum() == 0:
            continue
        row = _ratio_row(c[mask], y[mask], b[mask], st[mask], alpha)
        rows.append({"term": key if key else "all", **row})
    meth = {
        "estimator": "cost per additional job outcome above an assumed non-intervention "
        "baseline (descriptive; " + CAVEAT + ")",
        "se_type": "delta method for a ratio of means (baseline treated as known)",
        "ci_method": "Fieller (normal)",
        "design": f"none: no control group; baseline from {base.source}",
        "alpha": alpha,
        "outcome": outcome,
        "notes": CAVEAT,
    }
    return EffectTable(
        pd.DataFrame(rows),
        meth,
        title=f"Cost per additional {outcome} above the assumed baseline",
        extra={
            "rows_window_not_observed": int((~keep).sum()),
            "baseline_source": base.source,
            "caveat": CAVEAT,
        },
    )


# ------------------------------------------------------------------- publishable tables ----
