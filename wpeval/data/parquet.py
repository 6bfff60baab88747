"""Parquet files written by wpeval, the synthetic-data marker they carry, and fingerprints.

- :func:`write_parquet` writes a frame deterministically: the same data give the same bytes.
  A frame made by the synthetic generator (``df.attrs["wpeval_synthetic"]``) is written with
  the Parquet key-value metadata ``wpeval.synthetic`` (JSON), which :func:`read_marker` and
  :func:`wpeval.data.io.read_referrals` read back, so that reports on synthetic data say so
  whatever the parameters claim.
- :func:`file_fingerprint` / :func:`frame_fingerprint` identify inputs in provenance records.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from wpeval.data.programme import SYNTHETIC_ATTR
from wpeval.exceptions import DataContractError, ParameterError

#: Parquet key-value metadata key of the synthetic-data marker
MARKER_KEY = b"wpeval.synthetic"
#: fixed Parquet writer options (compression, no page index, statistics on) for stable bytes
PARQUET_OPTIONS = dict(
    compression="zstd",
    compression_level=3,
    use_dictionary=True,
    write_statistics=True,
    version="2.6",
    data_page_version="1.0",
)


def write_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to Parquet so that the same data always give the same bytes.

    The index is not written, compression and format options are fixed
    (:data:`PARQUET_OPTIONS`), and the file metadata carry no time stamps (pyarrow writes only
    the schema, the pandas metadata and the library version string). The synthetic-data
    marker of ``df.attrs`` is written as the key-value metadata :data:`MARKER_KEY`.

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
    marker = df.attrs.get(SYNTHETIC_ATTR) if isinstance(df.attrs, dict) else None
    if isinstance(marker, dict):
        meta = dict(table.schema.metadata or {})
        meta[MARKER_KEY] = json.dumps(marker, sort_keys=True).encode("utf-8")
        table = table.replace_schema_metadata(meta)
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


def read_marker(path: str | Path) -> dict | None:
    """The synthetic-data marker of a Parquet file (None: not made by the generator, not
    Parquet, or unreadable). Reads only the file footer."""
    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file():
        return None
    try:
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        raw = meta.get(MARKER_KEY)
        marker = json.loads(raw.decode("utf-8")) if raw else None
    except Exception:  # noqa: BLE001 - unreadable: read_referrals reports it
        return None
    return marker if isinstance(marker, dict) else None
