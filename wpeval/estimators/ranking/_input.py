"""Input checks shared by the league-table estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval._prepare import numeric
from wpeval.exceptions import DataContractError, DesignError, ParameterError

_ID = "person_id"


# --------------------------------------------------------------------------------- input
def _examples(df: pd.DataFrame, mask) -> list:
    rows = df.loc[np.asarray(mask)]
    return list(rows[_ID].head(5)) if _ID in rows.columns else list(rows.index[:5])


def _prepare(data: pd.DataFrame, outcome: str, cols: list[str]) -> tuple[pd.DataFrame, int]:
    """Select the columns needed (deriving ``period`` = quarter of ``referral_date`` when
    absent), check them, drop rows with a missing outcome. Returns (frame, n_dropped)."""
    if not isinstance(data, pd.DataFrame):
        raise ParameterError("data must be a pandas DataFrame of referrals")
    if not isinstance(outcome, str) or outcome not in data.columns:
        raise DataContractError(
            f"outcome column {outcome!r} not found", column=str(outcome), rule="required_column"
        )
    keep = list(dict.fromkeys([outcome] + [c for c in cols if c in data.columns]))
    if _ID in data.columns and _ID not in keep:
        keep.append(_ID)
    if not data.columns.is_unique:
        dup = [c for c in keep if int((data.columns == c).sum()) > 1]
        if dup:
            raise DataContractError(
                f"column(s) {dup} appear more than once in the data; rename or drop the copies",
                column=dup[0],
                rule="unique_columns",
            )
    work = data[keep].copy()
    for c in cols:
        if c in work.columns:
            continue
        if c == "period" and "referral_date" in data.columns:
            dates = pd.to_datetime(data["referral_date"], errors="coerce")
            if dates.isna().any():
                raise DataContractError(
                    "referral_date missing or not a date; cannot derive the quarter period",
                    column="referral_date",
                    rule="not_null",
                    examples=_examples(data, dates.isna()),
                )
            # integer year*10 + quarter (e.g. 20113 = "2011Q3"): same strata, cheap to group
            work["period"] = (dates.dt.year * 10 + dates.dt.quarter).to_numpy()
        else:
            raise DataContractError(f"column {c!r} not found", column=c, rule="required_column")
    for c in cols:
        bad = work[c].isna()
        if bad.any():
            raise DataContractError(
                f"{int(bad.sum())} rows with missing {c!r}",
                column=c,
                rule="not_null",
                examples=_examples(work, bad),
            )
    for c in cols:  # labels of mixed, incomparable types (1 and "1"): group by their text
        if work[c].dtype == object:
            try:
                pd.factorize(work[c], sort=True)
            except TypeError:
                work[c] = work[c].astype(str)
    y = pd.Series(numeric(work, outcome), index=work.index)  # numeric, finite, not huge
    work[outcome] = y
    missing = y.isna()
    work = work.loc[~missing]
    if work.empty:
        raise DesignError(f"no rows with an observed {outcome!r}")
    return work, int(missing.sum())


def _check_alpha(alpha) -> float:
    if not isinstance(alpha, (float, int)) or not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha!r}")
    return float(alpha)


# -------------------------------------------------------------------- contract effects
