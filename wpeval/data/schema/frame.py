"""Frame-level checks: column labels, repeated header lines, containers in cells, districts
under several CPAs, single-prime strata."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.data.schema.rules import _SCALAR_KINDS
from wpeval.exceptions import DataContractError


def _short(items: list, k: int = 12) -> str:
    return ", ".join(map(repr, items[:k])) + (" ..." if len(items) > k else "")


def _check_labels(df: pd.DataFrame) -> None:
    """Column labels must be flat and unique (a repeated name makes ``df[col]`` a frame)."""
    if isinstance(df.columns, pd.MultiIndex):
        raise DataContractError(
            f"columns have {df.columns.nlevels} levels "
            f"({_short([str(c) for c in df.columns[:3]], 3)}); the data "
            "need one column per field, flat names",
            rule="column_labels",
        )
    dup = df.columns[df.columns.duplicated()]
    if len(dup):
        raise DataContractError(
            f"column name(s) repeated: {_short(sorted(map(str, set(dup))))}"
            "; each field must appear once",
            column=str(dup[0]),
            rule="column_labels",
        )


def _header_rows(data: pd.DataFrame) -> np.ndarray:
    """Rows that repeat the header line (person_id, referral_date and cpa equal their names)."""
    mask = np.ones(len(data), bool)
    for col in ("person_id", "referral_date", "cpa"):
        s = data[col]
        if not (
            s.dtype == object
            or pd.api.types.is_string_dtype(s)
            or isinstance(s.dtype, pd.CategoricalDtype)
        ):
            return np.zeros(len(data), bool)
        if isinstance(s.dtype, pd.CategoricalDtype):
            if col not in set(map(str, s.cat.categories)):
                return np.zeros(len(data), bool)
            s = s.astype(object)
        eq = (
            s.map(lambda v: isinstance(v, str) and v.strip() == col).to_numpy(dtype=bool)  # noqa: B023 - called at once
            if s.dtype == object
            else (s.str.strip() == col).fillna(False).to_numpy(dtype=bool)
        )
        mask &= eq
        if not mask.any():
            return mask
    return mask


def _not_scalar(s: pd.Series) -> np.ndarray:
    """Rows holding a container (list, dict, array, ...) in an object column."""
    if s.dtype != object:
        return np.zeros(len(s), bool)
    if pd.api.types.infer_dtype(s, skipna=True) in _SCALAR_KINDS:
        return np.zeros(len(s), bool)
    return s.map(
        lambda v: isinstance(
            v, (list, tuple, dict, set, frozenset, np.ndarray, pd.Series, pd.DataFrame, pd.Index)
        )
    ).to_numpy(dtype=bool)


def _examples(pid: pd.Series, mask: np.ndarray) -> list:
    idx = np.flatnonzero(mask)[:5]
    return [v.item() if hasattr(v, "item") else v for v in pid.to_numpy()[idx]]


def _district_check(data: pd.DataFrame, districts, add, cpas=None) -> None:
    """A district under two or more *known* CPAs raises (a row with an unknown CPA fails
    ``unknown_cpa`` instead); with a ``districts`` mapping, rows off the mapping fail."""
    ok = data["district"].notna() & data["cpa"].notna()
    if cpas is not None:
        ok &= data["cpa"].isin(cpas)
    pairs = pd.DataFrame(
        {"d": data["district"].cat.codes[ok], "c": data["cpa"].cat.codes[ok]}
    ).drop_duplicates()
    multi = pairs["d"][pairs["d"].duplicated()].unique()
    if len(multi):
        dcat = data["district"].cat.categories
        name = dcat[multi[0]]
        sub = data.loc[(data["district"] == name) & ok, ["cpa", "person_id"]]
        minority = sub["cpa"].astype(object).value_counts().index[-1]
        ex = sub.loc[sub["cpa"].astype(object) == minority, "person_id"].head(5).tolist()
        cpas_of = sorted(map(str, sub["cpa"].dropna().unique()))
        raise DataContractError(
            f"district {name!r} appears under {len(cpas_of)} CPAs "
            f"{cpas_of}; a district must belong to exactly one CPA "
            f"({len(multi)} such district(s))",
            column="district",
            rule="district_in_several_cpas",
            examples=ex,
        )
    if districts is not None:
        mapped = data["district"].astype(object).map(dict(districts))
        bad = (mapped.isna() | (mapped != data["cpa"].astype(object))).to_numpy() & (
            data["district"].notna() & data["cpa"].notna()
        ).to_numpy()
        add("district_not_in_cpa", "district", bad)
    else:
        add("district_not_in_cpa", "district", np.zeros(len(data), bool))


def _single_prime(kept: pd.DataFrame, freq: str, add_period) -> tuple[np.ndarray, list]:
    if kept.empty:
        return np.zeros(0, bool), []
    per = add_period(kept[["referral_date"]], freq=freq)["period"]
    key = pd.DataFrame(
        {
            "d": kept["district"].cat.codes.to_numpy(),
            "p": per.cat.codes.to_numpy(),
            "x": kept["prime"].cat.codes.to_numpy(),
        }
    )
    k = key.groupby(["d", "p"], sort=False)["x"].transform("nunique").to_numpy()
    mask = k == 1
    labels = []
    if mask.any():
        sub = key[mask].drop_duplicates(["d", "p"]).head(5)
        dcat, pcat = kept["district"].cat.categories, per.cat.categories
        labels = [f"{dcat[d]} {pcat[p]}" for d, p in zip(sub["d"], sub["p"])]
    return mask, labels
