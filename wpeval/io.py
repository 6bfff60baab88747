"""Reading and writing files: the only module of wpeval that touches the file system for data.

- :func:`read_referrals` reads referral-level data from Parquet (pyarrow) or CSV (pyarrow
  CSV engine through pandas: UTF-8 BOM, CRLF line ends and quoted fields are handled) and parses
  the contract's date columns to ``datetime64[ns]``.
- :func:`write_parquet` writes a frame deterministically: the same data give the same bytes.
- :func:`file_fingerprint` / :func:`frame_fingerprint` identify inputs in provenance records.

Values that cannot be parsed are *not* coerced to missing here: the column is returned as text so
that :func:`wpeval.schema.validate` can report the offending rows (rule ``unparsable_date``).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .exceptions import DataContractError, ParameterError

DATE_COLUMNS = ("referral_date", "attachment_date", "job_start_date", "job_outcome_date",
                "job_end_date", "exit_date", "data_end_date")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
_SLASH = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
#: fixed Parquet writer options (compression, no page index, statistics on) for stable bytes
PARQUET_OPTIONS = dict(compression="zstd", compression_level=3, use_dictionary=True,
                       write_statistics=True, version="2.6", data_page_version="1.0")


def read_referrals(path: str | Path, *, columns: Sequence[str] | None = None,
                   dayfirst: bool | None = None) -> pd.DataFrame:
    """Read a referral-level extract from ``.parquet`` or ``.csv``.

    Parameters
    ----------
    path : str or Path
        The file. The extension chooses the reader (``.parquet``/``.pq`` or ``.csv``).
    columns : sequence of str, optional
        Read only these columns (all by default). Missing ones raise DataContractError.
    dayfirst : bool, optional
        For CSV dates written with slashes (``01/06/2011``): True for day/month/year (UK),
        False for month/day/year. None infers it from the data (a first field above 12 means
        day first; a second field above 12 means month first) and falls back to day first
        (UK administrative data) with a warning when every value is ambiguous. ISO dates
        (``2011-06-01``) are always read as year-month-day.

    Returns
    -------
    pandas.DataFrame
        Date columns of the contract as ``datetime64[ns]``, counts as int64, ``attached`` /
        ``disability`` as bool, ``allocation_prob`` as float, each where every non-empty value
        parses; otherwise the column is left as text for :func:`wpeval.schema.validate` to
        report the offending rows. Other columns of a CSV stay text (``validate`` makes the
        contract's code columns categorical). ``person_id`` is
        int64 when every value is a plain integer (no leading zeros), else text.

    Raises
    ------
    DataContractError
        Unknown extension, unreadable or corrupt file, or requested columns not present.
    """
    path = Path(path)
    if not path.exists():
        raise DataContractError(f"data file not found: {path}", rule="file_readable")
    suffix = path.suffix.lower()
    cols = list(columns) if columns is not None else None
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            schema_names = pq.read_schema(path).names
            if cols is not None:
                _check_columns(cols, schema_names, path)
            df = pq.read_table(path, columns=cols).to_pandas()
        except DataContractError:
            raise
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise DataContractError(f"cannot read Parquet file {path}: {exc}",
                                    rule="file_readable") from exc
    elif suffix == ".csv":
        df = _read_csv(path, cols)
    else:
        raise DataContractError(f"unknown data file type {suffix!r} for {path}; expected "
                                ".parquet or .csv", rule="file_type")
    return _parse_columns(df, dayfirst)


def _check_columns(cols: list[str], present: Sequence[str], path: Path) -> None:
    missing = [c for c in cols if c not in present]
    if missing:
        raise DataContractError(f"{path}: requested columns not in the file: {missing}",
                                column=missing[0], rule="missing_columns")


def _read_csv(path: Path, cols: list[str] | None) -> pd.DataFrame:
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        raise DataContractError(f"cannot read {path}: {exc}", rule="file_readable") from exc
    if not head.strip():
        raise DataContractError(f"{path} is empty", rule="file_readable")
    # read everything as text: types are decided below and by schema.validate, so an ID such
    # as 000123 keeps its zeros and a bad date stays visible
    import csv
    import io as _io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        names = next(csv.reader(_io.StringIO(head.decode("utf-8-sig", errors="replace")
                                             .splitlines()[0])))
    except (StopIteration, csv.Error) as exc:
        raise DataContractError(f"cannot read the header of {path}: {exc}",
                                rule="file_readable") from exc
    names = [n.strip() for n in names]
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf8"),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=True,
                null_values=[""], quoted_strings_can_be_null=True))
        df = table.to_pandas()
    except Exception:  # pyarrow is strict about a few layouts: fall back to the C parser
        try:
            df = pd.read_csv(path, engine="c", dtype=str, keep_default_na=False,
                             na_values=[""], encoding="utf-8-sig")
        except Exception as exc:
            raise DataContractError(f"cannot parse CSV file {path}: {exc}",
                                    rule="file_readable") from exc
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    if cols is not None:
        _check_columns(cols, list(df.columns), path)
        df = df[cols]
    for col in df.columns:  # stray CR from CRLF files read by a lenient parser
        if df[col].dtype == object:
            s = df[col]
            if s.str.endswith("\r", na=False).any():
                df[col] = s.str.rstrip("\r")
    return df


def _parse_dates(s: pd.Series, dayfirst: bool | None, name: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.astype("datetime64[ns]") if s.dt.tz is None else s
    if not (s.dtype == object or pd.api.types.is_string_dtype(s)):
        return s
    txt = s.astype("string").str.strip()
    nonnull = txt.dropna()
    nonnull = nonnull[nonnull != ""]
    if nonnull.empty:
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    sample = nonnull.unique()
    if all(_ISO.match(v) for v in sample):
        out = pd.to_datetime(txt, format="ISO8601", errors="coerce")
    elif all(_SLASH.match(v) for v in sample):
        parts = np.array([[int(x) for x in _SLASH.match(v).groups()[:2]] for v in sample])
        first_big, second_big = (parts[:, 0] > 12).any(), (parts[:, 1] > 12).any()
        if dayfirst is None:
            if first_big and second_big:
                return s  # inconsistent: leave for validate to report
            if first_big or second_big:
                dayfirst = bool(first_big)
            else:
                dayfirst = True
                warnings.warn(f"{name}: every date is ambiguous (day and month both <= 12); "
                              "reading them as day/month/year (UK). Pass dayfirst= to choose.",
                              UserWarning, stacklevel=4)
        fmt = "%d/%m/%Y" if dayfirst else "%m/%d/%Y"
        out = pd.to_datetime(txt.str.replace(r"[.-]", "/", regex=True), format=fmt,
                             errors="coerce")
    else:
        return s  # mixed or unknown layout: validate reports unparsable values
    bad = out.isna() & txt.notna() & (txt != "")
    if bad.any():
        return s
    return out.astype("datetime64[ns]")


INT_COLUMNS = ("sustainment_payments", "age", "benefit_duration_days")
FLOAT_COLUMNS = ("allocation_prob",)
BOOL_COLUMNS = ("attached", "disability")
_BOOL_TEXT = {"true": True, "t": True, "1": True, "yes": True, "y": True,
              "false": False, "f": False, "0": False, "no": False, "n": False}


def _is_text(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s)


def _parse_number(s: pd.Series, integer: bool) -> pd.Series:
    """Text -> number when every non-empty value parses (and is whole, for integers)."""
    if not _is_text(s):
        return s
    num = pd.to_numeric(s, errors="coerce")
    if (num.isna() & s.notna()).any():
        return s
    if not integer:
        return num.astype("float64")
    if not np.all(np.equal(np.mod(num.dropna(), 1), 0)):
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


def _parse_columns(df: pd.DataFrame, dayfirst: bool | None) -> pd.DataFrame:
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


def write_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to Parquet so that the same data always give the same bytes.

    The index is not written, compression and format options are fixed
    (:data:`PARQUET_OPTIONS`), and the file metadata carry no time stamps (pyarrow writes only
    the schema, the pandas metadata and the library version string).

    Parameters
    ----------
    df : pandas.DataFrame
        The frame to write.
    path : str or Path
        Destination (parent directories are created).

    Returns
    -------
    Path
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(df, pd.DataFrame):
        raise ParameterError(f"write_parquet needs a DataFrame, got {type(df).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, **PARQUET_OPTIONS)
    tmp.replace(path)
    return path


def file_fingerprint(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise DataContractError(f"cannot read {path}: {exc}", rule="file_readable") from exc
    return h.hexdigest()


def frame_fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 hex digest of a frame's content.

    Hashes the column names and dtypes, then the row hashes of
    ``pandas.util.hash_pandas_object(df, index=False)`` (so the index does not matter but row
    order, values and types do).
    """
    h = hashlib.sha256()
    h.update("|".join(f"{c}:{t}" for c, t in zip(df.columns, df.dtypes)).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()
