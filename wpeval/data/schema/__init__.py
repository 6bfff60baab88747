"""The referral-level data contract and its checks.

One row per referral. Required columns: ``person_id, referral_date, cpa, district, prime,
payment_group, attached, job_start_date, job_outcome_date, job_end_date, exit_date,
data_end_date, sustainment_payments``. Optional: ``attachment_date, age, sex, disability,
benefit_duration_days, allocation_prob, assessed_stream`` (and any other column, passed through).

:func:`validate` checks every rule in :data:`RULES` with vectorised masks, coerces the types
(dates to ``datetime64[ns]``, codes to ``category``, counts to int64, flags to bool) and
returns a :class:`ChecksReport` recording, for every rule, how many rows fail it and what was
done (``error``: raised; ``dropped``: rows removed when ``strict=False``; ``recoded``: values
changed; ``warning``: kept, reported). Nothing is dropped or recoded silently: with
``strict=False`` each dropped row is attributed to the first rule it fails, so
``rows_in == rows_kept + sum(n_dropped)``.

Malformed input never escapes as a pandas/numpy exception: a frame that cannot be checked at all
(no rows, repeated or nested column labels, required columns absent, a district under two CPAs)
raises :class:`DataContractError`; a bad value is a row failing a rule. Copies of the header
line inside the data (CSV files joined together) are not data: they are always dropped and
counted (rule ``repeated_header``), including those :func:`wpeval.data.io.read_referrals` already
removed while reading (it leaves their count in ``df.attrs["wpeval_read"]``), so ``rows_in`` is
the number of data lines of the file.

The package: ``rules`` (columns and rules), ``coerce`` (types), ``frame`` (frame-level checks),
``rows`` (row-level checks, one step per group of rules), ``report`` (:class:`ChecksReport`).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from wpeval.data import programme as _programme
from wpeval.data.schema.frame import _check_labels, _header_rows, _short
from wpeval.data.schema.report import ChecksReport
from wpeval.data.schema.rows import check_rows
from wpeval.data.schema.rules import (
    BOOL_COLUMNS,
    CODE_COLUMNS,
    COUNT_COLUMNS,
    DATE_COLUMNS,
    NOT_NULL,
    OPTIONAL,
    REQUIRED,
    RULES,
    STREAMS,
)
from wpeval.exceptions import DataContractError, ParameterError

__all__ = [
    "validate",
    "ChecksReport",
    "RULES",
    "REQUIRED",
    "OPTIONAL",
    "NOT_NULL",
    "DATE_COLUMNS",
    "COUNT_COLUMNS",
    "BOOL_COLUMNS",
    "CODE_COLUMNS",
    "STREAMS",
]


def validate(
    df: pd.DataFrame,
    *,
    programme: Any = None,
    strict: bool = True,
    period_freq: str = "Q",
    districts: Mapping[str, str] | None = None,
) -> ChecksReport:
    """Check a referral-level frame against the data contract.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per referral. Not modified.
    programme : wpeval.data.programme.Programme, str or Path, optional
        Programme reference data (payment groups, CPAs and their primes); a path is passed to
        :func:`wpeval.data.programme.load`. Default: the GB Work Programme, or for data made
        by the synthetic generator (``df.attrs["wpeval_synthetic"]``) its invented prime names
        (:func:`wpeval.data.programme.for_data`).
    strict : bool, default True
        True: any row-level error raises :class:`DataContractError` naming the column, the rule
        and up to 5 offending person_ids (the error's ``report`` attribute holds the full
        report). False: offending rows are dropped and counted.
    period_freq : {"Q", "M", "H"}, default "Q"
        Period of the randomisation stratum district x period (single-prime warning).
    districts : mapping, optional
        District -> CPA mapping. Without it the data's own mapping is used (a district under two
        CPAs always raises).

    Returns
    -------
    ChecksReport

    Raises
    ------
    DataContractError
        Repeated or nested column labels, missing required columns, no data rows, a
        district under two CPAs, or (strict) any row-level error.

    Warns
    -----
    StatisticalWarning
        Referrals in single-prime strata; every row dropped (``strict=False``).
    """
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(f"validate needs a DataFrame, got {type(df).__name__}")
    if period_freq not in ("Q", "M", "H"):
        raise ParameterError(f"period_freq must be 'Q', 'M' or 'H', not {period_freq!r}")
    prog = _programme.for_data(df, programme)  # generated data: the invented prime names
    _check_labels(df)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataContractError(
            f"required column(s) {missing} are absent (columns present: "
            f"{_short([str(c) for c in df.columns])})",
            column=missing[0],
            rule="missing_columns",
        )
    read_info = df.attrs.get("wpeval_read") if isinstance(df.attrs, dict) else None
    read_info = read_info if isinstance(read_info, Mapping) else {}
    if read_info.get("rows_returned") != len(df):  # a subset or changed frame: not the file
        read_info = {}
    pre_headers = int(read_info.get("repeated_header", 0) or 0)
    header_ex = [str(x) for x in read_info.get("repeated_header_lines", [])][:5]
    data = df.copy()  # a private copy, changed in place by the checks
    data.index = pd.RangeIndex(len(data))
    data.attrs = {}
    hdr = _header_rows(data)
    if hdr.any():
        header_ex = (header_ex + [f"row {i + 1}" for i in np.flatnonzero(hdr)])[:5]
        data = data.loc[~hdr].reset_index(drop=True)
    n_headers = pre_headers + int(hdr.sum())
    n_total = len(df) + pre_headers
    if len(data) == 0:
        what = f"only {n_headers} repeated header line(s)" if n_headers else "no rows"
        raise DataContractError(
            f"the data have {what}: nothing to check or analyse", rule="no_rows"
        )
    with np.errstate(all="ignore"):
        return check_rows(data, prog, strict, period_freq, districts, n_total, n_headers, header_ex)
