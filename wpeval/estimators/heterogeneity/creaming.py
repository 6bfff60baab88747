"""Creaming and parking: outcomes and payments by the provider's assessed stream."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from wpeval._prepare import check_alpha
from wpeval.estimators.heterogeneity._common import STREAMS, _need, _outcome, _wilson
from wpeval.exceptions import DataContractError, ParameterError, StatisticalWarning
from wpeval.results import EffectTable


def creaming_and_parking(
    data: pd.DataFrame,
    *,
    outcome: str = "job_outcome_24m",
    stream_col: str = "assessed_stream",
    prime_col: str = "prime",
    by_cpa: bool = False,
    paid=None,
    alpha: float = 0.05,
) -> EffectTable:
    """Outcomes and payments per participant by assessed stream and prime.

    Providers classify participants by distance from work (job ready / needs support /
    furthest from work) and were found to concentrate effort on the job-ready ("creaming")
    and give the furthest little support ("parking") [RR821]. This table shows, for each
    stream and prime, the job-outcome rate and the payments per participant.

    Parameters
    ----------
    data : DataFrame
        Referral-level data with ``stream_col``, ``prime_col``, ``outcome`` (e.g. from
        :func:`wpeval.data.outcomes.outcome_flags`; missing = window not observed, left out of the
        rate), ``job_start_date``; ``cpa`` when ``by_cpa``.
    outcome : str, default "job_outcome_24m"
        0/1 outcome whose rate is reported (``estimate``).
    stream_col, prime_col : str
        Columns of the assessed stream and the prime.
    by_cpa : bool, default False
        Break down by CPA as well (primes are compared within CPA only by the random
        allocation; across CPAs the comparison is descriptive).
    paid : array-like or PaymentsResult, optional
        Payments per referral (aligned with ``data``); by default computed with
        :func:`wpeval.payments.payments` and the default tariff.
    alpha : float, default 0.05
        For the Wilson intervals of the rate.

    Returns
    -------
    EffectTable
        One row per stream x prime: ``estimate`` = outcome rate (Wilson CI, ``n`` = referrals
        with the outcome observed), plus ``referrals``, ``share_of_prime`` (the stream's share
        of the prime's referrals), ``job_entry_rate`` (any job start recorded),
        ``paid_per_participant`` and ``paid_per_job_outcome`` (pounds, all payments to date).

    Notes
    -----
    The stream is assessed by the provider after allocation, so it can differ between primes
    for the same person: differences by stream within a prime are descriptive, not causal.
    """
    alpha = check_alpha(alpha)
    _need(data, [stream_col, prime_col, outcome, "job_start_date"] + (["cpa"] if by_cpa else []))
    if len(data) == 0:
        raise DataContractError(
            "no referrals: the data are empty", column=outcome, rule="non_empty"
        )
    y = _binary_outcome(data, outcome)
    paid = _paid_per_referral(data, paid)
    keys = (["cpa"] if by_cpa else []) + [stream_col, prime_col]
    agg = _stream_prime_cells(data, y, paid, keys, stream_col, prime_col, by_cpa)
    n, k = agg["n"].to_numpy(float), agg["k"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.where(n > 0, k / np.maximum(n, 1), np.nan)
        lo, hi = _wilson(k, np.maximum(n, 1), alpha)
    lo, hi = np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)
    notes = ""
    if (n == 0).any():
        notes = (
            f"{int((n == 0).sum())} stream x prime cells have no referral with {outcome} "
            "observed: rate left missing"
        )
        warnings.warn(notes, StatisticalWarning, stacklevel=2)
    term = agg[keys].astype(str).agg(" | ".join, axis=1)
    table = pd.DataFrame(
        {
            "term": term,
            "estimate": est,
            "std_error": np.sqrt(est * (1 - est) / np.maximum(n, 1)),
            "conf_low": lo,
            "conf_high": hi,
            "n": n.astype(int),
            **{c: agg[c] for c in keys},
            "referrals": agg["referrals"],
            "share_of_prime": agg["share_of_prime"],
            "job_entry_rate": agg["entry"],
            "paid_per_participant": agg["paid"] / agg["referrals"],
            "paid_per_job_outcome": agg["paid"] / agg["jo"].where(agg["jo"] > 0),
        }
    )
    return EffectTable(
        table,
        {
            "estimator": f"{outcome} rate and payments per participant by {stream_col} and prime",
            "se_type": "binomial",
            "ci_method": "Wilson score",
            "design": "descriptive (the stream is assessed after allocation)",
            "alpha": alpha,
            **({"notes": notes} if notes else {}),
        },
        title=f"Creaming and parking: outcomes and payments by {stream_col} and prime",
    )


def _binary_outcome(data, outcome) -> np.ndarray:
    """The outcome as float (NaN where missing); refuses values other than 0 and 1."""
    y = _outcome(data, outcome)
    notbin = ~np.isnan(y) & (y != 0) & (y != 1)
    if notbin.any():
        ids = (
            data["person_id"].to_numpy()[notbin][:5].tolist()
            if "person_id" in data.columns
            else data.index[notbin][:5].tolist()
        )
        raise DataContractError(
            f"{outcome!r} must be a 0/1 outcome (rate per stream)",
            column=outcome,
            rule="binary",
            examples=ids,
        )
    return y


def _paid_per_referral(data, paid) -> np.ndarray:
    """Each referral's total paid: computed by :func:`wpeval.payments.payments` when not given,
    taken from a PaymentsResult, or the values given (one per row)."""
    from wpeval.payments import PaymentsResult, payments

    if paid is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)
            paid = payments(data, warn=False).referrals["total_paid"].to_numpy()
    elif isinstance(paid, PaymentsResult):
        paid = paid.referrals["total_paid"].to_numpy()
    paid = np.asarray(paid, dtype=float)
    if paid.shape != (len(data),):
        raise ParameterError("paid must have one value per row of data")
    return paid


def _stream_prime_cells(data, y, paid, keys, stream_col, prime_col, by_cpa) -> pd.DataFrame:
    """Per (CPA x) stream x prime cell: referrals, outcomes observed and achieved, job-entry
    rate, job outcomes, total paid and the cell's share of the prime's referrals."""
    frame = pd.DataFrame({k: data[k].astype(str).to_numpy() for k in keys})
    known = STREAMS + sorted(set(frame[stream_col]) - set(STREAMS))
    frame[stream_col] = pd.Categorical(frame[stream_col], categories=known, ordered=True)
    frame["obs"] = ~np.isnan(y)
    frame["y"] = np.nan_to_num(y)
    frame["entry"] = data["job_start_date"].notna().to_numpy()
    frame["jo"] = (
        data["job_outcome_date"].notna().to_numpy() if "job_outcome_date" in data else np.nan
    )
    frame["paid"] = paid
    agg = frame.groupby(keys, sort=True, observed=True).agg(
        referrals=("obs", "size"),
        n=("obs", "sum"),
        k=("y", "sum"),
        entry=("entry", "mean"),
        jo=("jo", "sum"),
        paid=("paid", "sum"),
    )
    agg = agg.reset_index()
    prime_keys = (["cpa"] if by_cpa else []) + [prime_col]
    agg["share_of_prime"] = agg["referrals"] / agg.groupby(prime_keys, observed=True)[
        "referrals"
    ].transform("sum")
    return agg
