"""Shared pieces of the report tables (:mod:`wpeval.publish.tables`): column checks, dates as
day numbers, months observed, cohort labels, the breakdown keys and their group codes, totals
and disclosure settings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from wpeval.data import programme as _programme
from wpeval.exceptions import DataContractError, ParameterError
from wpeval.payments import Tariff, load_tariff
from wpeval.publish import disclosure as sdc

COUNT_MEASURES = ("referrals", "attachments", "job_outcomes", "sustainment_payments")
TOTAL = "Total"

#: 2-year job-outcome rate by payment group, referrals to Dec 2017 [L&W18] (V). New ESA here
#: is the "fit for work within 12 months" subgroup; the 12-18 month subgroup had 12.2%.
PUBLISHED_2YR_RATES = {
    "jsa_18_24": 0.364,
    "jsa_25_plus": 0.317,
    "esa_new": 0.151,
    "esa_ex_ib": 0.054,
    TOTAL: 0.278,
}


# ----------------------------------------------------------------------- helpers ---------
def _need(df: pd.DataFrame, cols: Sequence[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(f"tables need a pandas DataFrame, got {type(df).__name__}")
    dup = [c for c in cols if int((df.columns == c).sum()) > 1]
    if dup:
        raise DataContractError(
            f"columns {dup} appear more than once; rename or drop the copies",
            column=dup[0],
            rule="unique_columns",
        )
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataContractError(
            f"tables need columns {missing}", column=missing[0], rule="required_column"
        )


def _day(df: pd.DataFrame, col: str) -> np.ndarray:
    s = df[col]
    if not pd.api.types.is_datetime64_any_dtype(s):
        raise DataContractError(
            f"{col} must be a datetime column, got {s.dtype}", column=col, rule="datetime"
        )
    out = s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    if col in ("referral_date", "data_end_date") and np.isnat(out).any():
        bad = np.isnat(out)
        ids = (
            df["person_id"].to_numpy()[bad][:5].tolist()
            if "person_id" in df.columns and df.columns.is_unique
            else df.index[bad][:5].tolist()
        )
        raise DataContractError(
            f"{col} has {int(bad.sum())} missing value(s)",
            column=col,
            rule="not_null",
            examples=ids,
        )
    return out


def add_months(dates: np.ndarray, k) -> np.ndarray:
    """``dates + k`` calendar months (day clipped to the month's end, as pandas DateOffset)."""
    d = np.asarray(dates, dtype="datetime64[D]")
    m = d.astype("datetime64[M]")
    day = (d - m.astype("datetime64[D]")).astype(np.int64)
    tm = m + np.asarray(k, dtype=np.int64)
    dim = ((tm + 1).astype("datetime64[D]") - tm.astype("datetime64[D]")).astype(np.int64)
    return tm.astype("datetime64[D]") + np.minimum(day, dim - 1)


def _months_observed(ref: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Largest k with ref + k months <= end (-1 if end < ref)."""
    k = (end.astype("datetime64[M]") - ref.astype("datetime64[M]")).astype(np.int64)
    k = np.where(add_months(ref, k) > end, k - 1, k)
    return np.maximum(k, -1)


def _months_to(ref: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Smallest k with event <= ref + k months (NaT -> a large number)."""
    nat = np.isnat(event)
    ev = np.where(nat, ref, event)
    k = (ev.astype("datetime64[M]") - ref.astype("datetime64[M]")).astype(np.int64)
    k = np.where(add_months(ref, k) < ev, k + 1, k)
    return np.where(nat, np.iinfo(np.int32).max, np.maximum(k, 0))


def cohort_labels(dates) -> pd.Categorical:
    """Referral month ``"YYYY-MM"`` as an ordered Categorical (vectorised)."""
    m = np.asarray(dates, dtype="datetime64[ns]").astype("datetime64[M]")
    uniq, inv = np.unique(m, return_inverse=True)
    return pd.Categorical.from_codes(inv.ravel(), [str(u)[:7] for u in uniq], ordered=True)


def _factor(name: str, values, order: Sequence[str] | None = None):
    """(name, codes, labels): sorted integer codes (labels in ``order`` first, if given)."""
    codes, uniq = pd.factorize(values, sort=True)
    if (codes < 0).any():
        raise DataContractError(f"{name} has missing values", column=name, rule="not_null")
    labels = [str(u) for u in uniq]
    if order:
        new = [o for o in order if o in labels] + [lab for lab in labels if lab not in order]
        pos = {lab: i for i, lab in enumerate(new)}
        codes = np.array([pos[lab] for lab in labels], dtype=np.int64)[codes]
        labels = new
    return name, np.asarray(codes, dtype=np.int64), labels


def _keys(df: pd.DataFrame, by, tariff: Tariff | None) -> list[tuple[str, np.ndarray, list]]:
    """(name, codes, labels) for each breakdown; derives ``cohort`` and ``contract_year``;
    payment groups follow the programme's group order."""
    if by is None:
        return []
    by = [by] if isinstance(by, str) else list(by)
    out = []
    for name in by:
        if name == "cohort" and "cohort" not in df.columns:
            _need(df, ["referral_date"])
            m = _day(df, "referral_date").astype("datetime64[M]")
            _, codes, labels = _factor(name, m.astype(np.int64))
            labels = [str(np.datetime64(int(lab), "M")) for lab in labels]
            out.append((name, codes, labels))
        elif name == "contract_year" and "contract_year" not in df.columns:
            _need(df, ["referral_date"])
            years = (tariff or load_tariff()).contract_year(_day(df, "referral_date"))
            out.append(_factor(name, years))
        elif name == "payment_group" and name in df.columns:
            out.append(_factor(name, df[name], list(_programme.load().payment_groups)))
        elif name in df.columns:
            out.append(_factor(name, df[name]))
        else:
            raise ParameterError(
                f"cannot break down by {name!r}: not a column (or 'cohort', 'contract_year')"
            )
    return out


def _group_codes(keys, n: int) -> tuple[np.ndarray, pd.Index]:
    """Integer group code per row and the group labels (observed combinations, sorted)."""
    if not keys:
        return np.zeros(n, dtype=np.int64), pd.Index(["All"], name="group")
    sizes = [len(labels) for _, _, labels in keys]
    combined = np.zeros(n, dtype=np.int64)
    for (_, codes, _), size in zip(keys, sizes):
        combined = combined * size + codes
    total = int(np.prod(sizes))
    if total <= 10_000_000:
        present = np.flatnonzero(np.bincount(combined, minlength=total))
        lookup = np.full(total, -1, dtype=np.int64)
        lookup[present] = np.arange(present.size)
        codes = lookup[combined]
    else:
        present, codes = np.unique(combined, return_inverse=True)
    parts = np.unravel_index(present, sizes)
    if len(keys) == 1:
        name, _, labels = keys[0]
        return codes, pd.Index(np.asarray(labels, dtype=object)[parts[0]], name=name)
    arrays = [np.asarray(labels, dtype=object)[p] for (_, _, labels), p in zip(keys, parts)]
    return codes, pd.MultiIndex.from_arrays(arrays, names=[k[0] for k in keys])


def _with_total(frame: pd.DataFrame, total: pd.Series | dict) -> pd.DataFrame:
    idx = frame.index
    label = (TOTAL,) + ("",) * (idx.nlevels - 1) if idx.nlevels > 1 else TOTAL
    tot = pd.DataFrame([total], columns=frame.columns)
    tot.index = (
        pd.MultiIndex.from_tuples([label], names=idx.names)
        if idx.nlevels > 1
        else pd.Index([label], name=idx.name)
    )
    return pd.concat([frame, tot])


def _settings(disclosure, synthetic):
    return sdc.resolve_disclosure(disclosure, synthetic)


def _window_counts(df: pd.DataFrame, codes: np.ndarray, n_groups: int, max_months: int):
    """(den, num) arrays of shape (n_groups, max_months + 1): referrals observed for k
    months and those with a job outcome within k months, k = 0..max_months."""
    _need(df, ["referral_date", "job_outcome_date", "data_end_date"])
    ref = _day(df, "referral_date")
    K = int(max_months)
    obs = np.clip(_months_observed(ref, _day(df, "data_end_date")), -1, K) + 1  # 0..K+1
    out = np.minimum(_months_to(ref, _day(df, "job_outcome_date")), K + 1)  # 0..K+1
    W = K + 2
    hist = np.bincount((codes * W + out) * W + obs, minlength=n_groups * W * W)
    hist = hist.reshape(n_groups, W, W)  # [g, months_to_outcome, observed + 1]
    at_least = np.cumsum(hist[:, :, ::-1], axis=2)[:, :, ::-1]  # obs + 1 >= j
    ks = np.arange(K + 1)
    den = at_least.sum(axis=1)[:, ks + 1]  # observed >= k
    num = np.cumsum(at_least, axis=1)[:, ks, ks + 1]  # outcome <= k and observed >= k
    return den, num
