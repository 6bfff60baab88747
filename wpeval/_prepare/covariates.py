"""Covariates of the design-based estimators: the numeric design R's ``model.matrix`` would
build (dummies for factor levels, 0/1 for booleans) and the dropping of rows with a missing
covariate.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from wpeval._checks import numeric
from wpeval._prepare.comparison import Prepared, subset
from wpeval.exceptions import DataContractError, DesignError


def covariate_matrix(frame: pd.DataFrame, covariates: Sequence[str]):
    """Numeric design of the covariates as R's model.matrix would build it (factors and
    strings: dummies for every level but the first; bool: 0/1). Returns (matrix, names).

    Numeric covariates must be finite and within :data:`MAX_ABS` (DataContractError);
    missing values stay NaN (the caller drops and counts the rows).
    """
    cols, names = [], []
    for c in covariates:
        s = frame[c]
        if isinstance(s, pd.DataFrame):
            raise DataContractError(
                f"covariate {c!r} appears more than once in the data",
                column=c,
                rule="unique_columns",
            )
        if pd.api.types.is_bool_dtype(s) or (
            pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype)
        ):
            cols.append(numeric(frame, c))
            names.append(c)
            continue
        miss = s.isna().to_numpy()
        try:
            cat = s.astype("category")
        except TypeError:  # mixed, incomparable values: code them by their string form
            cat = s.astype(str).where(~miss).astype("category")
        cat = cat.cat.remove_unused_categories()
        codes = cat.cat.codes.to_numpy()
        for k, lev in enumerate(cat.cat.categories[1:], start=1):
            col = (codes == k).astype(float)
            col[codes < 0] = np.nan
            cols.append(col)
            names.append(f"{c}{lev}")
    if not cols:
        return np.empty((len(frame), 0)), []
    return np.column_stack(cols), names


def drop_missing_cov(p: Prepared, X, label="missing_covariate"):
    """Drop (and count under ``label``) rows with a missing covariate."""
    bad = np.isnan(X).any(axis=1) if X.shape[1] else np.zeros(len(p.y), bool)
    if bad.any():
        if bad.all():
            raise DesignError(f"every row has a missing covariate ({label}); nothing left")
        q = subset(p, ~bad)
        q.dropped[label] = int(bad.sum())
        return q, X[~bad]
    return p, X
