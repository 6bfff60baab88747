"""Parsing the text columns of a CSV extract: dates (ISO, day-first or month-first), numbers
with thousands separators, flags, and the usual spellings of missing values. Used by
:func:`wpeval.data.io.read_referrals`; values that do not parse are left as text for
:func:`wpeval.data.schema.validate` to report."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

DATE_COLUMNS = (
    "referral_date",
    "attachment_date",
    "job_start_date",
    "job_outcome_date",
    "job_end_date",
    "exit_date",
    "data_end_date",
)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_SLASH = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T](\d{1,2}:\d{2}(?::\d{2})?))?$")
#: a number written with thousands separators: 1,234 or -12,345,678.5
_THOUSANDS = r"^\s*-?\d{1,3}(?:,\d{3})+(?:\.\d+)?\s*$"


def _parse_dates(s: pd.Series, dayfirst: bool | None, name: str) -> pd.Series:
    """Text dates -> datetime64[ns]; works on the distinct values (few, for dates).

    ISO values are read as they are; slash (or dot) dates day/month/year or month/day/year
    (see :func:`read_referrals`), optionally with a time. When some values do not parse, the
    column is returned as text with every parsable value rewritten as ISO, so that
    :func:`wpeval.data.schema.validate` keeps those and reports the others.
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.astype("datetime64[ns]") if s.dt.tz is None else s
    if not (s.dtype == object or pd.api.types.is_string_dtype(s)):
        return s
    codes, uniq = pd.factorize(s.astype("string").str.strip(), use_na_sentinel=True)
    uniq = [str(u) for u in uniq]
    if not any(uniq_v != "" for uniq_v in uniq):
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    iso_of = [u if _ISO.match(u) else None for u in uniq]
    slash = [(i, _SLASH.match(u)) for i, u in enumerate(uniq) if iso_of[i] is None]
    slash = [(i, m) for i, m in slash if m]
    if slash:
        a = np.array([int(m.group(1)) for _, m in slash])
        b = np.array([int(m.group(2)) for _, m in slash])
        first_big, second_big = bool((a > 12).any()), bool((b > 12).any())
        day_first = dayfirst
        if day_first is None:
            if first_big and second_big:
                day_first = None  # inconsistent: leave those for validate to report
            elif first_big or second_big:
                day_first = first_big
            else:
                day_first = True
                warnings.warn(
                    f"{name}: every day/month date is ambiguous (day and month both "
                    "<= 12); reading them as day/month/year (UK). Pass dayfirst= "
                    "to choose.",
                    UserWarning,
                    stacklevel=4,
                )
        if day_first is not None:
            for (i, m), x, y in zip(slash, a, b):
                day, month = (x, y) if day_first else (y, x)
                iso_of[i] = f"{m.group(3)}-{month:02d}-{day:02d}" + (
                    f" {m.group(4)}" if m.group(4) else ""
                )
    cand = pd.Series([v if v is not None else "" for v in iso_of], dtype="string")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(cand.where(cand != ""), format="ISO8601", errors="coerce")
    parsed_u = parsed.to_numpy(dtype="datetime64[ns]")
    ok_u = ~np.isnat(parsed_u) | (np.array(uniq, dtype=object) == "")
    if ok_u.all():
        out = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[ns]")
        have = codes >= 0
        out[have] = parsed_u[codes[have]]
        return pd.Series(out, index=s.index, name=s.name)
    text_u = np.array(
        [iso_of[i] if ok_u[i] and uniq[i] != "" else uniq[i] for i in range(len(uniq))] + [None],
        dtype=object,
    )
    return pd.Series(text_u[codes], index=s.index, name=s.name, dtype=object)


INT_COLUMNS = ("sustainment_payments", "age", "benefit_duration_days")
FLOAT_COLUMNS = ("allocation_prob",)
BOOL_COLUMNS = ("attached", "disability")
_BOOL_TEXT = {
    "true": True,
    "t": True,
    "1": True,
    "yes": True,
    "y": True,
    "false": False,
    "f": False,
    "0": False,
    "no": False,
    "n": False,
}


def _is_text(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s)


def strip_thousands(s: pd.Series) -> pd.Series:
    """Remove thousands separators from text numbers (``"1,234"`` -> ``"1234"``).

    Only values laid out exactly as groups of three digits after the first (``1,234``,
    ``-12,345,678.5``) change; anything else (``"1,5"``, ``"12,34"``) is left for the caller to
    reject. Non-text series are returned unchanged.
    """
    if not _is_text(s):
        return s
    txt = s.astype("string")
    has = txt.str.fullmatch(_THOUSANDS).fillna(False).to_numpy(dtype=bool)
    if not has.any():
        return s
    out = s.astype(object).copy()
    out[has] = txt[has].str.replace(",", "", regex=False).str.strip().to_numpy(dtype=object)
    return out


def _parse_number(s: pd.Series, integer: bool) -> pd.Series:
    """Text -> number when every non-empty value parses (and is whole, for integers);
    thousands separators are removed first."""
    if not _is_text(s):
        return s
    s = strip_thousands(s)
    num = pd.to_numeric(s, errors="coerce")
    if (num.isna() & s.notna()).any():
        return s
    if not integer:
        return num.astype("float64")
    x = num.dropna().to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(x) & (np.mod(np.nan_to_num(x), 1) == 0) & (np.abs(x) < 2.0**63)
    if not whole.all():
        return s
    return num.astype("int64") if num.notna().all() else num.astype("Int64")


def _parse_bool(s: pd.Series) -> pd.Series:
    """Text true/false, 1/0, yes/no, y/n, t/f -> bool (``boolean`` when some are missing)."""
    if not _is_text(s):
        return s
    mapped = s.astype("string").str.strip().str.lower().map(_BOOL_TEXT)
    if (mapped.isna() & s.notna()).any():
        return s
    return mapped.astype(bool) if mapped.notna().all() else mapped.astype("boolean")


#: text read as missing in the typed columns (dates, numbers, flags) of a CSV: what R, SAS,
#: SQL and spreadsheet exports write for an empty value. Code columns keep the text.
NULL_TOKENS = ("NA", "N/A", "n/a", "#N/A", "NaN", "nan", "NaT", "NULL", "null", "None", ".")


def _nulls_to_missing(s: pd.Series) -> pd.Series:
    if not _is_text(s):
        return s
    txt = s.astype("string").str.strip()
    hit = txt.isin(NULL_TOKENS).fillna(False).to_numpy(dtype=bool)
    return s.where(~hit, None) if hit.any() else s


def _parse_columns(df: pd.DataFrame, dayfirst: bool | None) -> pd.DataFrame:
    for col in DATE_COLUMNS + INT_COLUMNS + FLOAT_COLUMNS + BOOL_COLUMNS:
        if col in df.columns:
            df[col] = _nulls_to_missing(df[col])
    for col in DATE_COLUMNS:
        if col in df.columns:
            df[col] = _parse_dates(df[col], dayfirst, col)
    for col in INT_COLUMNS + FLOAT_COLUMNS:
        if col in df.columns:
            df[col] = _parse_number(df[col], integer=col in INT_COLUMNS)
    for col in BOOL_COLUMNS:
        if col in df.columns:
            df[col] = _parse_bool(df[col])
    if "person_id" in df.columns and df["person_id"].dtype == object:
        ids = df["person_id"].astype("string").str.strip()
        plain = ids.str.fullmatch(r"-?(0|[1-9]\d{0,17})", na=False)
        if len(ids) and plain.all():
            df["person_id"] = ids.astype("int64")
    return df
