"""Reading and writing files: the only module of wpeval that touches the file system for data.

- :func:`read_referrals` reads referral-level data from Parquet (pyarrow) or CSV (pyarrow
  CSV engine through pandas: UTF-8 BOM, CRLF line ends and quoted fields are handled) and parses
  the contract's date columns to ``datetime64[ns]``.
- :func:`write_parquet` (:mod:`wpeval.data.parquet`) writes a frame deterministically: the same
  data give the same bytes; generated data carry the synthetic marker in the file metadata,
  which :func:`read_referrals` puts back in ``df.attrs["wpeval_synthetic"]``.
- :func:`file_fingerprint` / :func:`frame_fingerprint` identify inputs in provenance records.
- Text columns are parsed by :mod:`wpeval.data.parse`.

Values that cannot be parsed are *not* coerced to missing here: the column is returned as text so
that :func:`wpeval.data.schema.validate` can report the offending rows (rule ``unparsable_date``).

Real-world CSV trouble handled here: a UTF-8 byte-order mark, Windows line ends, quoted fields
(with commas, quotes or line breaks inside), day-first dates (``31/01/2012``, also with a time),
thousands separators in counts (``"1,234"``) and copies of the header line inside the data
(files joined together). Header copies are removed while reading and their number is left in
``df.attrs["wpeval_read"]`` so that :func:`wpeval.data.schema.validate` counts them as dropped
(``rows_in`` = data lines of the file). Files too big for memory are refused before reading.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from wpeval.data.parquet import (  # noqa: F401 - re-exported
    MARKER_KEY,
    PARQUET_OPTIONS,
    file_fingerprint,
    frame_fingerprint,
    read_marker,
    write_parquet,
)
from wpeval.data.parse import (  # noqa: F401 - re-exported
    _ISO,
    _SLASH,
    _THOUSANDS,
    BOOL_COLUMNS,
    DATE_COLUMNS,
    FLOAT_COLUMNS,
    INT_COLUMNS,
    NULL_TOKENS,
    _parse_columns,
    _parse_dates,
    strip_thousands,
)
from wpeval.data.programme import SYNTHETIC_ATTR
from wpeval.exceptions import DataContractError, ParameterError

#: in-memory size of a frame read from a file, per byte of file (CSV: all text first, read as
#: Arrow strings then converted to Python objects) or of uncompressed Parquet column data
MEMORY_FACTOR = {"csv": 6.0, "parquet": 1.5}


def read_referrals(
    path: str | Path,
    *,
    columns: Sequence[str] | None = None,
    dayfirst: bool | None = None,
    max_bytes: int | None = None,
) -> pd.DataFrame:
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
    max_bytes : int, optional
        Refuse a file larger than this many bytes (DataContractError, rule
        ``file_too_large``). Default: refuse only a file whose estimated in-memory size
        (:data:`MEMORY_FACTOR` times the CSV size or the uncompressed Parquet column data)
        exceeds the memory available now.

    Returns
    -------
    pandas.DataFrame
        Date columns of the contract as ``datetime64[ns]``, counts as int64, ``attached`` /
        ``disability`` as bool, ``allocation_prob`` as float, each where every non-empty value
        parses; otherwise the column is left as text for :func:`wpeval.data.schema.validate` to
        report the offending rows. In those typed columns the texts of :data:`NULL_TOKENS`
        (``NA``, ``NULL``, ``NaN``, ...) mean missing. Other columns of a CSV stay text
        (``validate`` makes the
        contract's code columns categorical). ``person_id`` is
        int64 when every value is a plain integer (no leading zeros), else text.

        Copies of the header line inside a CSV are removed; ``df.attrs["wpeval_read"]``
        holds ``rows_read`` (data lines, copies included), ``repeated_header`` (their number),
        ``repeated_header_lines`` and ``rows_returned``. Data made by the synthetic generator
        (Parquet written by :func:`write_parquet`) carry its marker in
        ``df.attrs["wpeval_synthetic"]`` (see :func:`wpeval.data.programme.for_data`).

    Raises
    ------
    DataContractError
        Unknown extension, unreadable, corrupt or empty file, a file too big for memory
        (``file_too_large``), or requested columns not present.
    ParameterError
        ``max_bytes`` not a non-negative integer.
    """
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 0
    ):
        raise ParameterError(f"max_bytes must be a non-negative integer, got {max_bytes!r}")
    path = Path(path)
    if not path.exists():
        raise DataContractError(f"data file not found: {path}", rule="file_readable")
    if not path.is_file():
        raise DataContractError(f"not a file: {path}", rule="file_readable")
    suffix = path.suffix.lower()
    cols = list(columns) if columns is not None else None
    _check_size(path, suffix, cols, max_bytes)
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
            raise DataContractError(
                f"cannot read Parquet file {path}: {exc}", rule="file_readable"
            ) from exc
        info = {
            "path": str(path),
            "rows_read": len(df),
            "repeated_header": 0,
            "repeated_header_lines": [],
        }
    elif suffix == ".csv":
        df, info = _read_csv(path, cols)
    else:
        raise DataContractError(
            f"unknown data file type {suffix!r} for {path}; expected .parquet or .csv",
            rule="file_type",
        )
    df = _parse_columns(df, dayfirst)
    info["rows_returned"] = len(df)
    df.attrs = {"wpeval_read": info}
    marker = read_marker(path)
    if marker is not None:
        df.attrs[SYNTHETIC_ATTR] = marker
    return df


def available_memory() -> int | None:
    """Bytes of memory available now (``MemAvailable`` of /proc/meminfo, else free pages);
    None when unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def _check_size(path: Path, suffix: str, cols: list[str] | None, max_bytes: int | None) -> None:
    """Refuse a file over ``max_bytes``, or whose estimated in-memory size exceeds the
    memory available (a clear error instead of the machine swapping or the process killed)."""
    size = path.stat().st_size
    if max_bytes is not None:
        if size > max_bytes:
            raise DataContractError(
                f"{path} is {size:,} bytes, over the limit of {max_bytes:,} bytes "
                "(max_bytes): split the extract, read fewer columns (columns=) or raise the "
                "limit",
                rule="file_too_large",
            )
        return
    if suffix in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(path).metadata
            wanted = set(cols) if cols is not None else None
            raw = 0
            for i in range(meta.num_row_groups):
                rg = meta.row_group(i)
                for j in range(rg.num_columns):
                    c = rg.column(j)
                    if wanted is None or c.path_in_schema.split(".")[0] in wanted:
                        raw += c.total_uncompressed_size
        except Exception:  # unreadable: the reader below reports it
            return
        need = raw * MEMORY_FACTOR["parquet"]
    else:
        need = size * MEMORY_FACTOR["csv"]
    avail = available_memory()
    if avail is not None and need > avail:
        raise DataContractError(
            f"{path} ({size:,} bytes) needs about {need / 2**30:.1f} GiB in memory but only "
            f"{avail / 2**30:.1f} GiB is available: read fewer columns (columns=), split the "
            "extract, or convert it to Parquet",
            rule="file_too_large",
        )


def _check_columns(cols: list[str], present: Sequence[str], path: Path) -> None:
    missing = [c for c in cols if c not in present]
    if missing:
        raise DataContractError(
            f"{path}: requested columns not in the file: {missing}",
            column=missing[0],
            rule="missing_columns",
        )


def _read_csv(path: Path, cols: list[str] | None) -> tuple[pd.DataFrame, dict]:
    names, stripped = _csv_header(path)
    df = _csv_text(path, names, stripped)
    df = _clean_labels(df, path)
    n_read = len(df)
    hdr = _header_copies(df)
    lines = [f"data row {i + 1}" for i in np.flatnonzero(hdr)[:5]]
    if hdr.any():
        df = df.loc[~hdr].reset_index(drop=True)
    if cols is not None:
        _check_columns(cols, list(df.columns), path)
        df = df[cols]
    info = {
        "path": str(path),
        "rows_read": n_read,
        "repeated_header": int(hdr.sum()),
        "repeated_header_lines": lines,
    }
    return df, info


def _csv_header(path: Path) -> tuple[list[str], list[str]]:
    """The header's column names as written and stripped of spaces. Refuses an unreadable or
    empty file, a header separated by something other than commas and repeated names."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        raise DataContractError(f"cannot read {path}: {exc}", rule="file_readable") from exc
    if not head.strip():
        raise DataContractError(f"{path} is empty", rule="file_readable")
    import csv
    import io as _io

    try:
        names = next(
            csv.reader(_io.StringIO(head.decode("utf-8-sig", errors="replace").splitlines()[0]))
        )
    except (StopIteration, csv.Error) as exc:
        raise DataContractError(
            f"cannot read the header of {path}: {exc}", rule="file_readable"
        ) from exc
    if len(names) == 1:
        seps = [
            s for s, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")) if s in names[0]
        ]
        if seps:
            raise DataContractError(
                f"{path}: the header line has no commas but has {seps[0]!r}: wpeval reads "
                "comma-separated files; re-save the extract as CSV with commas",
                rule="file_readable",
            )
    stripped = [n.strip() for n in names]
    dup = sorted({n for n in stripped if stripped.count(n) > 1})
    if dup:
        raise DataContractError(
            f"{path}: column name(s) repeated in the header: {dup}",
            column=dup[0],
            rule="column_labels",
        )
    return names, stripped


def _csv_text(path: Path, names: list[str], stripped: list[str]) -> pd.DataFrame:
    """Every column as text (empty cells missing): pyarrow's reader, or pandas' C parser for
    the layouts pyarrow refuses. Refuses a file that is not UTF-8 or cannot be parsed."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # read everything as text: types are decided later and by schema.validate, so an ID such
    # as 000123 keeps its zeros and a bad date stays visible
    types = {n: pa.string() for n in names + stripped}
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="utf8"),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                strings_can_be_null=True,
                null_values=[""],
                quoted_strings_can_be_null=True,
            ),
        )
        df = table.to_pandas()
    except Exception:  # pyarrow is strict about a few layouts: fall back to the C parser
        try:
            df = pd.read_csv(
                path,
                engine="c",
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                encoding="utf-8-sig",
            )
        except UnicodeDecodeError as exc:
            raise DataContractError(
                f"{path} is not UTF-8 text (byte {exc.object[exc.start : exc.start + 1]!r} at "
                f"byte {exc.start:,}): re-save it as UTF-8 (spreadsheet exports are often "
                "Windows-1252)",
                rule="file_readable",
            ) from exc
        except Exception as exc:
            raise DataContractError(
                f"cannot parse CSV file {path}: {exc}", rule="file_readable"
            ) from exc
    return df


def _clean_labels(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Column labels stripped of spaces and a byte-order mark; stray carriage returns (CRLF
    files read by a lenient parser) removed from text cells."""
    df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
    if df.columns.duplicated().any():  # pragma: no cover - caught on the header above
        raise DataContractError(f"{path}: column names repeated", rule="column_labels")
    for col in df.columns:  # stray CR from CRLF files read by a lenient parser
        if df[col].dtype == object:
            s = df[col]
            if s.str.endswith("\r", na=False).any():
                df[col] = s.str.rstrip("\r")
    return df


def _header_copies(df: pd.DataFrame) -> np.ndarray:
    """Rows of an all-text frame that repeat the header: at least half of the named fields,
    and every contract key column present (person_id, referral_date), equal their names."""
    if df.empty or df.columns.duplicated().any():
        return np.zeros(len(df), bool)
    keys = [c for c in ("person_id", "referral_date", "cpa") if c in df.columns]
    cand = np.ones(len(df), bool)
    for c in keys or list(df.columns[:1]):
        cand &= (df[c].astype("string").str.strip() == c).fillna(False).to_numpy(dtype=bool)
        if not cand.any():
            return cand
    hits = np.zeros(len(df), np.int64)
    for c in df.columns:
        hits += (df[c].astype("string").str.strip() == c).fillna(False).to_numpy(dtype=bool)
    return cand & (hits * 2 >= df.shape[1])
