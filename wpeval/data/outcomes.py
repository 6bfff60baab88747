"""Outcomes derived from the referral-level data contract.

The data contract (``wpeval.data.schema``) holds dates; the analyses need durations and flags. This
module derives them in one place so every notebook uses the same definitions:

- :func:`job_entry_times`: time from referral to the first job start, censored at the end of the
  104-week attachment period or at the extract date, with leaving for another reason as a
  competing exit;
- :func:`job_retention_times`: length of the first job (job entry to job end), censored at the
  extract date;
- :func:`outcome_flags`: job outcome (the paid outcome) within 12 and 24 months of referral, as
  the official statistics count it, missing where the window is not fully observed.

Each function returns a new frame (the input is never mutated) and records in
``result.attrs["wpeval_checks"]`` how many rows fell in each category, so nothing is lost
silently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.exceptions import DataContractError, ParameterError

#: 104 weeks: the length of a Work Programme attachment
ATTACHMENT_DAYS = 728

CAUSE_CENSORED, CAUSE_JOB, CAUSE_OTHER_EXIT = 0, 1, 2


def _need(df: pd.DataFrame, columns: list[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataContractError(
            f"columns {missing} are required to derive this outcome",
            column=missing[0],
            rule="required_column",
        )
    dup = [c for c in columns if int((df.columns == c).sum()) > 1]
    if dup:
        raise DataContractError(
            f"columns {dup} appear more than once; rename or drop the copies",
            column=dup[0],
            rule="unique_columns",
        )


def _date(df: pd.DataFrame, col: str) -> pd.Series:
    """A date column as timezone-naive datetime64 (NaT = missing).

    datetime64 columns are used as they are (timezone-aware ones converted to naive UTC, so
    that columns can be compared); text is parsed as ISO 8601 dates; numbers (e.g. days
    since an epoch) and unparseable text are refused (DataContractError, rule
    ``datetime``), because a silent guess would shift every duration.
    """
    s = df[col]
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert(None)
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    if s.isna().all():
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise DataContractError(
            f"{col} must hold dates (datetime64 or ISO text), got {s.dtype}",
            column=col,
            rule="datetime",
        )
    text = s.astype("string")
    try:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    except (ValueError, TypeError, OverflowError):  # pragma: no cover - pandas version quirks
        parsed = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert(None)
    bad = (parsed.isna() & s.notna() & (text.str.strip().str.upper() != "NAT")).to_numpy(
        dtype=bool, na_value=False
    )
    if bad.any():
        raise DataContractError(
            f"{col} has {int(bad.sum())} value(s) that are not dates "
            f"(e.g. {s[bad].head(3).tolist()}); read the file with "
            "wpeval.read_referrals or fix the column",
            column=col,
            rule="datetime",
            examples=_examples(df, bad),
        )
    return parsed


def _days(df: pd.DataFrame, later: str, earlier: str, rows=None) -> np.ndarray:
    """Whole days between two date columns as float (NaN where either is missing)."""
    a, b = _date(df, later), _date(df, earlier)
    if rows is not None:
        a, b = a[rows], b[rows]
    try:
        delta = a - b
    except (OverflowError, pd.errors.OutOfBoundsDatetime, pd.errors.OutOfBoundsTimedelta) as exc:
        raise DataContractError(
            f"{later} - {earlier} is out of the representable range "
            f"(dates before 1678 or after 2261?): {exc}",
            column=later,
            rule="date_range",
        ) from exc
    return (delta / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)


def _examples(df: pd.DataFrame, mask: np.ndarray) -> list:
    ids = df["person_id"] if "person_id" in df.columns else pd.Series(df.index, index=df.index)
    return ids[mask].head(5).tolist()


def job_entry_times(df: pd.DataFrame, *, horizon_days: int = ATTACHMENT_DAYS) -> pd.DataFrame:
    """Time from referral to first job start, with other exits as a competing risk.

    Parameters
    ----------
    df : DataFrame
        Referral-level data with ``referral_date``, ``job_start_date``, ``exit_date`` and
        ``data_end_date`` (see the data contract).
    horizon_days : int, default 728
        Administrative censoring: the end of the 104-week attachment.

    Returns
    -------
    DataFrame
        A copy of ``df`` with three added columns:

        - ``entry_days``: days from referral to the first job start, the other exit, or
          censoring, whichever comes first (a job start and an exit on the same day count as
          a job start);
        - ``entry_event``: 1 if a job start was observed within the follow-up, else 0;
        - ``entry_cause``: 0 censored, 1 job start, 2 other exit (competing risk).

        ``attrs["wpeval_checks"]`` counts the rows in each category and the reason for
        censoring (horizon or extract date).

    Raises
    ------
    DataContractError
        If a required column is missing, or the extract date or a job start or exit precedes
        the referral date (name the rule and up to five ``person_id`` values).
    """
    if not isinstance(horizon_days, (int, np.integer)) or horizon_days <= 0:
        raise ParameterError(f"horizon_days must be a positive integer, got {horizon_days!r}")
    _need(df, ["referral_date", "job_start_date", "exit_date", "data_end_date"])
    follow = _days(df, "data_end_date", "referral_date")
    to_job = _days(df, "job_start_date", "referral_date")
    to_exit = _days(df, "exit_date", "referral_date")
    for name, values, col in (
        ("extract date", follow, "data_end_date"),
        ("job start", to_job, "job_start_date"),
        ("other exit", to_exit, "exit_date"),
    ):
        bad = values < 0
        if bad.any():
            raise DataContractError(
                f"{name} before the referral date in {int(bad.sum())} rows",
                column=col,
                rule="dates_in_order",
                examples=_examples(df, bad),
            )
    if np.isnan(follow).any():
        bad = np.isnan(follow)
        raise DataContractError(
            "referral_date or data_end_date missing",
            column="data_end_date",
            rule="not_null",
            examples=_examples(df, bad),
        )
    censor_at = np.minimum(follow, float(horizon_days))
    job = ~np.isnan(to_job) & (to_job <= censor_at)
    other = ~job & ~np.isnan(to_exit) & (to_exit <= censor_at)
    days = np.where(job, to_job, np.where(other, to_exit, censor_at))
    cause = np.where(job, CAUSE_JOB, np.where(other, CAUSE_OTHER_EXIT, CAUSE_CENSORED))
    out = df.copy()
    out["entry_days"] = days
    out["entry_event"] = job.astype(np.int8)
    out["entry_cause"] = cause.astype(np.int8)
    censored = cause == CAUSE_CENSORED
    out.attrs["wpeval_checks"] = {
        "rows_in": int(len(df)),
        "job_start": int(job.sum()),
        "other_exit": int(other.sum()),
        "censored_at_horizon": int((censored & (follow >= horizon_days)).sum()),
        "censored_at_extract": int((censored & (follow < horizon_days)).sum()),
        "job_start_after_follow_up": int((~np.isnan(to_job) & ~job).sum()),
        "horizon_days": int(horizon_days),
    }
    return out


def job_retention_times(df: pd.DataFrame, *, horizon_days: int = ATTACHMENT_DAYS) -> pd.DataFrame:
    """Length of the first job, for referrals whose first job started within the follow-up.

    Parameters
    ----------
    df : DataFrame
        Referral-level data with ``referral_date``, ``job_start_date``, ``job_end_date``,
        ``exit_date`` and ``data_end_date``.
    horizon_days : int, default 728
        Only job starts within this many days of referral (the attachment) are kept, as in
        :func:`job_entry_times`.

    Returns
    -------
    DataFrame
        The rows with an observed first job start (a copy), with added columns
        ``retention_days`` (days from job start to job end, or to the extract date if the job
        had not ended) and ``retention_event`` (1 if the job ended by the extract date, i.e. a
        return to benefit or other job loss). ``attrs["wpeval_checks"]`` counts the rows kept
        and the rows left out because no job started within the follow-up.

    Raises
    ------
    DataContractError
        If a job end precedes its job start.
    """
    entry = job_entry_times(df, horizon_days=horizon_days)
    _need(df, ["job_end_date"])
    keep = entry["entry_cause"].to_numpy() == CAUSE_JOB
    sub = entry.loc[keep].copy()
    dur = _days(df, "job_end_date", "job_start_date", keep)
    bad = dur < 0
    if bad.any():
        raise DataContractError(
            f"job_end_date before job_start_date in {int(bad.sum())} rows",
            column="job_end_date",
            rule="dates_in_order",
            examples=_examples(sub, bad),
        )
    to_extract = _days(df, "data_end_date", "job_start_date", keep)
    ended = ~np.isnan(dur) & (dur <= to_extract)
    sub["retention_days"] = np.where(ended, dur, to_extract)
    sub["retention_event"] = ended.astype(np.int8)
    sub = sub.drop(columns=["entry_days", "entry_event", "entry_cause"])
    sub.attrs["wpeval_checks"] = {
        "rows_in": int(len(df)),
        "rows_kept_job_start": int(keep.sum()),
        "rows_left_out_no_job_start": int((~keep).sum()),
        "job_ended": int(ended.sum()),
        "still_in_work_at_extract": int((~ended).sum()),
    }
    return sub


def outcome_flags(df: pd.DataFrame, months: tuple[int, ...] = (12, 24)) -> pd.DataFrame:
    """Job outcome within ``k`` months of referral, as the official statistics count it.

    Parameters
    ----------
    df : DataFrame
        Referral-level data with ``referral_date``, ``job_outcome_date``, ``data_end_date``.
    months : tuple of int, default (12, 24)
        Windows in calendar months.

    Returns
    -------
    DataFrame
        A copy with ``job_outcome_{k}m`` columns (float): 1.0 if the paid job outcome was
        achieved within ``k`` calendar months of referral, 0.0 if not, and NaN where the
        window was not fully observed by the extract date (those referrals are not yet in the
        denominator; the count is in ``attrs["wpeval_checks"]``).
    """
    _need(df, ["referral_date", "job_outcome_date", "data_end_date"])
    ref = _date(df, "referral_date")
    outcome = _date(df, "job_outcome_date")
    extract = _date(df, "data_end_date")
    out = df.copy()
    checks: dict = {"rows_in": int(len(df))}
    for k in months:
        if not isinstance(k, (int, np.integer)) or k <= 0:
            raise ParameterError(f"months must be positive integers, got {k!r}")
        try:
            window_end = ref + pd.DateOffset(months=int(k))
        except (OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
            raise DataContractError(
                f"referral_date + {k} months is out of the representable date range: {exc}",
                column="referral_date",
                rule="date_range",
            ) from exc
        observed = (window_end <= extract).to_numpy()
        hit = (outcome.notna() & (outcome <= window_end)).to_numpy()
        out[f"job_outcome_{k}m"] = np.where(observed, hit.astype(float), np.nan)
        checks[f"job_outcome_{k}m_window_not_observed"] = int((~observed).sum())
    out.attrs["wpeval_checks"] = checks
    return out
