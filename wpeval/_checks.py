"""Argument and column checks shared by every estimator: column presence, numeric columns
within safe magnitudes, inverse-probability weights, alpha and seeds, group codes.

Each names the column, the rule and up to five ``person_id`` values in its error.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from wpeval.exceptions import DataContractError, ParameterError

_ID = "person_id"

#: Largest absolute value accepted in an outcome, covariate or probability column. Sums of
#: squares over 2M rows of values up to 1e100 stay far below the float64 maximum (1.8e308)
#: even after the products the estimators form (weights 1/p, covariate interactions);
#: beyond that the variance overflows to inf and nothing useful can be reported.
MAX_ABS = 1e100


def as_list(cols) -> list[str]:
    """``None`` -> [], a string -> [string], a sequence -> list."""
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


def examples(data: pd.DataFrame, mask) -> list:
    """Up to five person_ids (or row labels) where ``mask`` is true."""
    mask = np.asarray(mask, dtype=bool)
    if _ID in data.columns and data.columns.is_unique:
        return list(data[_ID].to_numpy()[mask][:5])
    return list(data.index[mask][:5])


def check_alpha(alpha) -> float:
    """``alpha`` as a float strictly between 0 and 1 (ParameterError otherwise)."""
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, (int, float, np.integer, np.floating))
        or not 0 < float(alpha) < 1
    ):
        raise ParameterError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    return float(alpha)


def check_seed(seed):
    """``seed`` if numpy can seed a Generator from it (None, an int >= 0, a SeedSequence or a
    Generator), else ParameterError."""
    if seed is None or isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return seed
    raise ParameterError(
        f"seed must be None, a non-negative integer or a numpy Generator, got {seed!r}"
    )


def need_columns(data, cols: Sequence[str]) -> None:
    """Check that ``data`` is a DataFrame holding every column of ``cols`` exactly once.

    Raises ParameterError (not a frame, a column name that is not a string) or
    DataContractError (``missing_columns``: all absent columns are listed;
    ``unique_columns``: a used column label appears more than once).
    """
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    for c in cols:
        if not isinstance(c, str):
            raise ParameterError(f"column names must be strings, got {c!r}")
    missing = [c for c in dict.fromkeys(cols) if c not in data.columns]
    if missing:
        raise DataContractError(
            f"column(s) {missing} not found in the data (columns: "
            f"{[str(c) for c in data.columns[:12]]}"
            f"{' ...' if data.shape[1] > 12 else ''})",
            column=missing[0],
            rule="missing_columns",
        )
    if not data.columns.is_unique:
        dup = [c for c in dict.fromkeys(cols) if int((data.columns == c).sum()) > 1]
        if dup:
            raise DataContractError(
                f"column(s) {dup} appear more than once in the data; rename or drop the copies",
                column=dup[0],
                rule="unique_columns",
            )


def check_magnitude(values: np.ndarray, data: pd.DataFrame, col: str) -> None:
    """DataContractError (rule ``magnitude``) if a finite value exceeds :data:`MAX_ABS`."""
    with np.errstate(invalid="ignore"):
        big = np.abs(values) > MAX_ABS
    if big.any():
        top = float(np.nanmax(np.abs(values)))
        raise DataContractError(
            f"column {col!r} has {int(big.sum())} value(s) larger than "
            f"{MAX_ABS:g} in absolute size (largest {top:.3g}); variances "
            "would overflow: rescale the column (e.g. to thousands)",
            column=col,
            rule="magnitude",
            examples=examples(data, big),
        )


def check_weights(y: np.ndarray, prob: np.ndarray, data: pd.DataFrame, col: str) -> None:
    """DataContractError (rule ``magnitude``) when inverse-probability weighting would give
    weighted outcomes ``|y| / min(p, 1 - p)`` beyond :data:`MAX_ABS` (probabilities so close
    to 0 or 1 that the variance overflows)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        yw = (np.abs(y) + 1.0) / np.minimum(prob, 1.0 - prob)
    bad = ~(yw <= MAX_ABS)
    if bad.any():
        raise DataContractError(
            f"{int(bad.sum())} probabilities in {col!r} are so close to 0 "
            "or 1 that the inverse-probability weights overflow (weighted "
            f"outcomes beyond {MAX_ABS:g}); check the column",
            column=col,
            rule="magnitude",
            examples=examples(data, bad),
        )


def numeric(data: pd.DataFrame, col: str) -> np.ndarray:
    """A column as float64 (bool -> 0/1); NaN kept (the caller drops and counts).

    DataContractError: not numeric or bool (``numeric``), complex (``numeric``), infinite
    values (``finite``), values beyond :data:`MAX_ABS` (``magnitude``).
    """
    s = data[col]
    if isinstance(s, pd.DataFrame):
        raise DataContractError(
            f"column {col!r} appears more than once in the data", column=col, rule="unique_columns"
        )
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float, na_value=np.nan)
    if (
        isinstance(s.dtype, pd.CategoricalDtype)
        or not pd.api.types.is_numeric_dtype(s)
        or pd.api.types.is_complex_dtype(s)
    ):
        raise DataContractError(
            f"column {col!r} must be numeric (or bool), got {s.dtype}", column=col, rule="numeric"
        )
    # float64 columns are read without a copy (callers never write into the array)
    out = s.to_numpy() if s.dtype == np.float64 else s.to_numpy(dtype=float, na_value=np.nan)
    if np.fmax.reduce(np.abs(out), initial=0.0) <= MAX_ABS:  # one pass when all is well
        return out
    bad = np.isinf(out)
    if bad.any():
        raise DataContractError(
            f"column {col!r} has {int(bad.sum())} infinite value(s)",
            column=col,
            rule="finite",
            examples=examples(data, bad),
        )
    check_magnitude(out, data, col)
    return out


def compact_codes(code: np.ndarray, bound: int) -> tuple[np.ndarray, int] | None:
    """Non-negative integer codes below ``bound`` renumbered 0..K-1 in sorted order of the
    values present, by a presence table (``np.bincount``), which is O(N) and several times
    faster than hashing (``pd.factorize``); None if a code is negative or ``bound`` is too
    large for a table."""
    if len(code) == 0 or bound > 4 * len(code) + 65_536 or code.min() < 0:
        return None
    present = np.bincount(code, minlength=bound) > 0
    k = int(present.sum())
    if k == bound:
        return code.astype(np.int64, copy=False), k
    remap = np.cumsum(present) - 1
    return remap[code], k


def _factorize_sorted(s: pd.Series) -> tuple[np.ndarray, int]:
    """Codes in sorted order of the values (-1 for missing); values of mixed types that
    cannot be compared are sorted by their string form."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy().astype(np.int64), len(s.cat.categories)
    if (
        pd.api.types.is_integer_dtype(s.dtype)
        and not pd.api.types.is_extension_array_dtype(s.dtype)
        and len(s)
    ):
        v = s.to_numpy()
        lo, hi = int(v.min()), int(v.max())
        fast = compact_codes(v - lo if lo else v, hi - lo + 1)
        if fast is not None:
            return fast
    try:
        cc, uniq = pd.factorize(s, sort=True)
    except TypeError:  # e.g. 1 and "1" in one object column
        miss = s.isna().to_numpy()
        cc, uniq = pd.factorize(s.astype(str).where(~miss), sort=True)
    return cc.astype(np.int64), len(uniq)


def group_codes(data: pd.DataFrame, cols: Sequence[str]) -> tuple[np.ndarray, int]:
    """Integer codes 0..K-1 of the combinations of ``cols`` (sorted order; -1 if any value is
    missing), and K. O(N) per column via category codes / hash factorisation."""
    if len(cols) == 1 and not isinstance(data[cols[0]].dtype, pd.CategoricalDtype):
        return _factorize_sorted(data[cols[0]])  # already 0..K-1 (-1 for missing)
    code = None
    for c in cols:
        cc, k = _factorize_sorted(data[c])
        if code is None:
            code = cc
        else:
            code = np.where((code < 0) | (cc < 0), -1, code * max(k, 1) + cc)
    if code is None:
        raise ParameterError("no block/cluster columns given")
    ok = code >= 0
    if ok.all():  # no missing value: renumber the codes present without hashing if possible
        fast = compact_codes(code, int(code.max()) + 1)
        if fast is not None:
            return fast
    out = np.full(len(code), -1, dtype=np.int64)
    if ok.any():
        inv, uniq = pd.factorize(code[ok], sort=True)
        out[ok] = inv
        return out, len(uniq)
    return out, 0
