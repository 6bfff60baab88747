"""Type coercion of the contract columns: dates, flags, counts and codes, each returning the
mask of values it could not read."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from wpeval.data.schema.rules import _BOOL_TEXT, _INT64_LIMIT, _ISO_TEXT


def _coerce_dates(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Return (datetime64[ns] series, mask of non-empty values that failed to parse).

    Datetimes are kept (time-zone aware ones at their local wall time: a referral at
    00:00 BST on 1 June is a 1 June referral). Text must be an ISO date (``2011-06-01``,
    optionally with a time and a UTC offset, which is dropped); partial dates (``2011``,
    ``2011-06``), other layouts and dates outside 1677-2262 fail. Numbers and flags are not
    dates (an integer would otherwise be read as nanoseconds since 1970) and fail too.
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        return s.astype("datetime64[ns]"), np.zeros(len(s), bool)
    present = s.notna().to_numpy()
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        # parse the distinct values only (dates repeat a lot), then map back by code
        codes, uniq = pd.factorize(s.astype("string").str.strip(), use_na_sentinel=True)
        txt = pd.Series(np.asarray(uniq, dtype=object), dtype="string")
        iso = txt.str.fullmatch(_ISO_TEXT).fillna(False)
        clean = txt.where(iso).str.replace(_ISO_TEXT, r"\1", regex=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(clean, format="ISO8601", errors="coerce")
        vals = np.append(parsed.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT"))
        blank = np.append((txt == "").fillna(True).to_numpy(dtype=bool), True)
        present &= ~blank[codes]
        out = pd.Series(vals[codes], index=s.index, name=s.name)
    else:  # numbers, flags, periods, ...: not dates
        out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    out = out.astype("datetime64[ns]")
    return out, present & out.isna().to_numpy()


def _coerce_bool(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.astype(bool), np.zeros(len(s), bool)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        ok = s.isin([0, 1]) | s.isna()
        out = s.where(ok).map({0: False, 1: True})  # 0.0 and 1.0 hash as 0 and 1
        out = out.where(ok.to_numpy(), None).astype("boolean")
        return out, ~ok.to_numpy()
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    else:
        out = s.map(
            lambda v: (
                v
                if isinstance(v, (bool, np.bool_))
                or v is None
                or v is pd.NA
                or (isinstance(v, float) and np.isnan(v))
                else _BOOL_TEXT.get(str(v).strip().lower(), "bad")
            )
        )
    bad = (out == "bad").to_numpy() if out.dtype == object else np.zeros(len(s), bool)
    out = out.where(~bad, None).astype("boolean")
    return out, bad


def _coerce_count(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Return (integer series, mask of non-empty values that are not whole numbers).

    Flags (True/False) are not counts; values beyond the int64 range, infinities and
    fractions fail; text with thousands separators (``"1,234"``) is read as a number.
    """
    from wpeval.data.io import strip_thousands

    if pd.api.types.is_bool_dtype(s):
        return pd.Series(pd.NA, index=s.index, dtype="Int64"), s.notna().to_numpy()
    if pd.api.types.is_unsigned_integer_dtype(s):
        big = (s.astype("float64") >= _INT64_LIMIT).to_numpy()
        if not big.any():
            return s.astype("int64"), big
        return s.where(~big).astype("float64").astype("Int64"), big
    if pd.api.types.is_integer_dtype(s):
        return s, np.zeros(len(s), bool)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    src = strip_thousands(s) if (s.dtype == object or pd.api.types.is_string_dtype(s)) else s
    is_flag = np.zeros(len(s), bool)
    if s.dtype == object:  # True/False inside an object column are not counts
        is_flag = s.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    num = _to_float(src.where(~is_flag) if is_flag.any() else src)
    x = num.to_numpy()
    bad = (num.isna() & s.notna()).to_numpy()
    with np.errstate(invalid="ignore"):
        frac = np.isfinite(x) & (np.mod(np.nan_to_num(x, posinf=0, neginf=0), 1) != 0)
        huge = ~np.isfinite(x) & ~np.isnan(x) | (np.abs(np.nan_to_num(x)) >= _INT64_LIMIT)
    bad |= frac | huge
    out = num.where(~pd.Series(bad, index=s.index)).round().astype("Int64")
    return out, bad


def _to_float(s: pd.Series) -> pd.Series:
    """Numbers as float64 (NaN for anything else: text, flags, complex with an imaginary
    part, containers)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if pd.api.types.is_bool_dtype(s):
        return pd.Series(np.nan, index=s.index)
    num = pd.to_numeric(s, errors="coerce")
    if np.iscomplexobj(num.to_numpy()):
        z = num.to_numpy()
        num = pd.Series(np.where(z.imag == 0, z.real, np.nan), index=s.index)
    elif num.dtype == object:  # pragma: no cover - to_numeric leaves odd objects alone
        num = pd.Series(
            [
                v
                if isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))
                else np.nan
                for v in num
            ],
            index=s.index,
        )
    return num.astype("float64")


def _final_int(s: pd.Series) -> pd.Series:
    return s.astype("int64") if s.notna().all() else s


def _drop_unused(s: pd.Series) -> pd.Series:
    """``cat.remove_unused_categories`` without its sort of every code (bincount instead)."""
    codes = s.cat.codes.to_numpy()
    used = np.bincount(codes[codes >= 0], minlength=len(s.cat.categories)) > 0
    if used.all():
        return s
    return s.cat.set_categories(s.cat.categories[used])


def _categorical(s: pd.Series, order: list | None = None, changed: dict | None = None) -> pd.Series:
    """Categorical with stripped string categories ("" becomes missing); works on the
    categories, not on every row, so it is fast on millions of rows. When ``changed`` is a
    dict, ``changed["mask"]`` receives the rows whose value was altered."""
    if not isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("category")
    s = _drop_unused(s)
    orig = list(s.cat.categories)
    cats = [str(c).strip() for c in orig]
    if len(set(cats)) != len(cats) or "" in cats or cats != orig:
        uniq = sorted(set(cats) - {""})
        pos = {c: i for i, c in enumerate(uniq)}
        remap = np.array([pos.get(c, -1) for c in cats] + [-1])
        old_codes = s.cat.codes.to_numpy()
        codes = remap[old_codes]
        if changed is not None:
            diff = np.array([c != o for c, o in zip(cats, orig)] + [False])
            changed["mask"] = diff[old_codes]
        s = pd.Series(pd.Categorical.from_codes(codes, categories=uniq), index=s.index, name=s.name)
    cats = list(s.cat.categories)
    if order is not None:
        known = [c for c in order if c in cats]
        cats = known + sorted(c for c in cats if c not in set(order))
    else:
        cats = sorted(cats)
    return s.cat.reorder_categories(cats)


# ------------------------------------------------------------------------------ validate
