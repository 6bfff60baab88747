"""The referral columns the payments use, checked and converted: ``attached`` as bool,
``sustainment_payments`` as whole non-negative counts, dates as ``datetime64``; each refusal
is a :class:`~wpeval.exceptions.DataContractError` naming the column, the rule and up to five
``person_id`` values. :func:`attached_flags` and :func:`sustainment_counts` are also used
outside the payment engine (and importable from :mod:`wpeval.payments.engine`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.exceptions import DataContractError


def _examples(df: pd.DataFrame, mask) -> list:
    mask = np.asarray(mask, dtype=bool)
    if "person_id" in df.columns and df.columns.is_unique:
        return df["person_id"].to_numpy()[mask][:5].tolist()
    return df.index[mask][:5].tolist()


def _unique_columns(df: pd.DataFrame, cols) -> None:
    """DataContractError (rule ``unique_columns``) if a used column label is duplicated."""
    if not df.columns.is_unique:
        dup = [c for c in cols if int((df.columns == c).sum()) > 1]
        if dup:
            raise DataContractError(
                f"columns {dup} appear more than once; rename or drop the copies",
                column=dup[0],
                rule="unique_columns",
            )


def attached_flags(df: pd.DataFrame) -> np.ndarray:
    """``attached`` as a bool array: bool, or numbers 0/1 (True/False objects allowed).

    DataContractError for missing values (``not_null``) or anything else, e.g. the text
    ``"False"``, which ``astype(bool)`` would silently read as True (``boolean``).
    """
    s = df["attached"]
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.to_numpy(dtype=bool)
    if s.isna().any():
        raise DataContractError(
            "attached has missing values",
            column="attached",
            rule="not_null",
            examples=_examples(df, s.isna().to_numpy()),
        )
    vals = s.to_numpy()
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_complex_dtype(s):
        num = s.to_numpy(dtype=float)
        ok = (num == 0) | (num == 1)
    else:  # object: Python / numpy bools, or the numbers 0 and 1
        ok = np.fromiter(
            (
                isinstance(v, (bool, np.bool_))
                or (isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1))
                for v in vals
            ),
            dtype=bool,
            count=len(vals),
        )
    if not ok.all():
        raise DataContractError(
            f"attached must be True/False (or 0/1), got e.g. {vals[~ok][:3].tolist()} ({s.dtype})",
            column="attached",
            rule="boolean",
            examples=_examples(df, ~ok),
        )
    return vals.astype(bool)


def sustainment_counts(df: pd.DataFrame) -> np.ndarray:
    """``sustainment_payments`` as int64: numeric, not missing, whole, >= 0 (DataContractError
    naming the rule otherwise)."""
    sp = df["sustainment_payments"]
    if sp.isna().any():
        raise DataContractError(
            "sustainment_payments has missing values",
            column="sustainment_payments",
            rule="not_null",
            examples=_examples(df, sp.isna().to_numpy()),
        )
    if (
        not pd.api.types.is_numeric_dtype(sp)
        or pd.api.types.is_bool_dtype(sp)
        or pd.api.types.is_complex_dtype(sp)
    ):
        raise DataContractError(
            f"sustainment_payments must be a whole number, got {sp.dtype}",
            column="sustainment_payments",
            rule="integer",
        )
    num = sp.to_numpy(dtype=float)
    bad = ~np.isfinite(num) | (num != np.round(num)) | (np.abs(num) > 1e6)
    if bad.any():
        raise DataContractError(
            "sustainment_payments must be whole numbers of payments (at most a few dozen)",
            column="sustainment_payments",
            rule="integer",
            examples=_examples(df, bad),
        )
    if (num < 0).any():
        raise DataContractError(
            "sustainment_payments must be >= 0",
            column="sustainment_payments",
            rule="non_negative",
            examples=_examples(df, num < 0),
        )
    return num.astype(np.int64)


def _dates(df: pd.DataFrame, col: str) -> np.ndarray:
    s = df[col]
    if not pd.api.types.is_datetime64_any_dtype(s):
        raise DataContractError(
            f"{col} must be a datetime column, got {s.dtype}", column=col, rule="datetime"
        )
    return s.to_numpy(dtype="datetime64[ns]")
