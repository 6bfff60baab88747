"""Projected sustainment payments: what is still owed for jobs in progress at the extract.

Sustainment payments run for up to two years after a job outcome, so for recent outcomes many
fall after ``data_end_date``. For a referral whose first job had reached its job outcome and
was still going at the extract, with job tenure ``t0`` days and ``n`` sustainment payments
paid, payment ``k`` (``n < k <= cap``) falls due at tenure ``t_k = T + 28 k`` (``T`` the
job-outcome trigger in days) and is paid if the job lasts that long. Its probability is
``S(t_k) / S(t0)`` for the job-length survival function ``S``, so the expected outstanding
amount is ``fee x sum_{k=n+1}^{cap} S(t_k) / S(t0)``.

``S`` comes from a retention model fitted to :func:`wpeval.job_retention_times` (length of the
first job, censored at the extract). The default is lifelines' parametric
:class:`~lifelines.WeibullFitter`, one per payment group (pooled for groups with fewer than
``min_events`` job ends); the ``model`` argument takes any other lifelines univariate fitter
class, a fitted one, or a function ``S(t)``, so a covariate (AFT) model can be swapped in.

Projected amounts are **expected values, not payments**: they are returned in their own
columns (``projected_*``) and never added to observed totals. Pending job outcomes (jobs
still short of the trigger at the extract) are not projected. No uncertainty is attached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.payments import PaymentsResult, payments

__all__ = ["ProjectionResult", "project_sustainment", "retention_survival"]

SUSTAINMENT_DAYS = 28


@dataclass(frozen=True)
class ProjectionResult:
    """Observed and projected sustainment payments, kept apart.

    Attributes
    ----------
    referrals : DataFrame
        Every referral with a job outcome: ``person_id, cpa, prime, payment_group,
        contract_year, sustainment_count`` (observed), ``sustainment_paid`` (observed),
        ``in_work_at_extract, tenure_at_extract, projected_payments`` (expected number still
        to come), ``projected_amount`` (pounds, expected), ``projected`` (flag).
    model : str
        Description of the retention model used.
    """

    referrals: pd.DataFrame
    model: str
    fits: dict = field(default_factory=dict, repr=False)

    def by(self, *cols: str) -> pd.DataFrame:
        """Observed and projected sustainment amounts per group (never summed together)."""
        r = self.referrals
        agg = {
            "job_outcomes": ("person_id", "size"),
            "sustainment_paid_observed": ("sustainment_paid", "sum"),
            "in_work_at_extract": ("in_work_at_extract", "sum"),
            "projected_payments": ("projected_payments", "sum"),
            "projected_amount": ("projected_amount", "sum"),
        }
        if not cols:
            return r.groupby(np.zeros(len(r), int)).agg(**agg).set_axis(["all"])
        return r.groupby(list(cols), observed=True).agg(**agg)


def _fit(fitter, durations, events, label):
    f = fitter()
    f.fit(durations, event_observed=events, label=label)
    return f


def retention_survival(
    retention: pd.DataFrame, *, model=None, by: str | None = "payment_group", min_events: int = 20
) -> tuple[dict, Callable, str]:
    """Fit job-length survival functions, one per group (pooled fallback).

    Parameters
    ----------
    retention : DataFrame
        Output of :func:`wpeval.job_retention_times` (``retention_days``,
        ``retention_event``).
    model : None, lifelines fitter class, fitted fitter, or callable
        None: :class:`lifelines.WeibullFitter`. A class is fitted per group; a fitted
        object or a function ``S(t)`` is used for every group as is.
    by : str or None, default "payment_group"
    min_events : int, default 20
        Groups with fewer job ends use the pooled fit.

    Returns
    -------
    (dict, callable, str)
        ``group -> S`` functions, the pooled ``S`` and a description.
    """
    if callable(model) and not isinstance(model, type) and not hasattr(model, "fit"):
        return {}, model, "user-supplied survival function"
    if model is not None and not isinstance(model, type):  # a fitted lifelines object
        return {}, lambda t: np.asarray(model.survival_function_at_times(t)), repr(model)
    from lifelines import WeibullFitter

    fitter = model or WeibullFitter
    d = np.maximum(retention["retention_days"].to_numpy(float), 0.5)  # lifelines needs t > 0
    e = retention["retention_event"].to_numpy(bool)
    if e.sum() == 0:
        raise ParameterError("no job ends observed: a retention model cannot be fitted")
    pooled = _fit(fitter, d, e, "all")
    fits = {}
    if by is not None:
        for g, idx in retention.groupby(by, observed=True).indices.items():
            if e[idx].sum() >= min_events:
                fits[str(g)] = _fit(fitter, d[idx], e[idx], str(g))
    surv = {
        g: (lambda t, f=f: np.asarray(f.survival_function_at_times(t), float))
        for g, f in fits.items()
    }
    desc = (
        f"lifelines {fitter.__name__} per {by} ({len(fits)} groups; pooled fit for "
        f"groups with < {min_events} job ends)"
        if by
        else f"lifelines {fitter.__name__}"
    )
    return surv, (lambda t: np.asarray(pooled.survival_function_at_times(t), float)), desc


def project_sustainment(
    data: pd.DataFrame,
    *,
    pay: PaymentsResult | None = None,
    tariff=None,
    model=None,
    by: str | None = "payment_group",
    min_events: int = 20,
) -> ProjectionResult:
    """Expected sustainment payments still to come for jobs in progress at the extract.

    Parameters
    ----------
    data : DataFrame
        Referral-level data (data contract, with ``job_start_date``, ``job_end_date``,
        ``data_end_date``).
    pay : PaymentsResult, optional
        :func:`wpeval.payments` of ``data`` (computed if omitted, with ``tariff``).
    tariff : optional
    model, by, min_events :
        The retention model, see :func:`retention_survival`.

    Returns
    -------
    ProjectionResult
    """
    from wpeval.data.outcomes import job_retention_times

    pay = pay if pay is not None else payments(data, tariff, warn=False)
    r = pay.referrals
    has_jo = r["job_outcome_date"].notna().to_numpy()
    retention = job_retention_times(data)
    surv, pooled, desc = retention_survival(retention, model=model, by=by, min_events=min_events)
    sub = data.loc[has_jo]
    rs = r.loc[has_jo]
    end = sub["data_end_date"].to_numpy("datetime64[ns]")
    start = sub["job_start_date"].to_numpy("datetime64[ns]")
    job_end = sub["job_end_date"].to_numpy("datetime64[ns]")
    in_work = np.isnat(job_end) | (job_end > end)
    tenure = (end - start) / np.timedelta64(1, "D")
    trig = (rs["job_outcome_date"].to_numpy("datetime64[ns]") - start) / np.timedelta64(1, "D")
    n_obs = rs["sustainment_count"].to_numpy()
    cap = np.array(
        [
            pay.tariff.value(str(g), "sustainment_cap", int(y))[0]
            for g, y in zip(rs["payment_group"], rs["contract_year"])
        ],
        dtype=np.int64,
    )
    expected = np.zeros(len(rs))
    groups = rs["payment_group"].astype(str).to_numpy()
    for i in np.flatnonzero(in_work & (n_obs < cap)):
        s = surv.get(groups[i], pooled)
        k = np.arange(n_obs[i] + 1, cap[i] + 1)
        t_k = trig[i] + SUSTAINMENT_DAYS * k
        s0 = float(s(np.array([max(tenure[i], 0.5)]))[0])
        if s0 > 0:
            expected[i] = float(np.sum(s(t_k))) / s0
    out = rs[
        [
            "person_id",
            "cpa",
            "prime",
            "payment_group",
            "contract_year",
            "sustainment_count",
            "sustainment_paid",
        ]
    ].copy()
    out["in_work_at_extract"] = in_work
    out["tenure_at_extract"] = tenure
    out["projected_payments"] = expected
    out["projected_amount"] = expected * rs["sustainment_fee"].to_numpy()
    out["projected"] = expected > 0
    return ProjectionResult(out, desc, {"groups": sorted(surv)})
