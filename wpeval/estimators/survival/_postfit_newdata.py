"""Checked inputs of the Cox post-fit curves (:mod:`.postfit`): new rows coded as the fit
coded its data, and the averaging weights of a reference population."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.estimators.survival._postcore import CoxFitData
from wpeval.exceptions import DataContractError, ParameterError


def encode_rows(fd: CoxFitData, data: pd.DataFrame, what: str):
    """Design matrix (fit's coding) and stratum codes for new rows; errors name the column."""
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise ParameterError(f"{what} has no rows")
    X = np.hstack(
        [
            _covariate_columns(fd, data, what, c, kind, width)
            for c, (kind, _, width) in zip(fd.covariates, fd.design().parts)
        ]
    )
    if not fd.strata:
        return X, np.zeros(len(data), dtype=np.int64)
    return X, _stratum_codes(fd, data, what)


def _covariate_columns(fd: CoxFitData, data: pd.DataFrame, what: str, c, kind, width):
    """The design columns of covariate ``c`` (a number, or the dummies of a factor)."""
    if c not in data.columns:
        raise DataContractError(f"{what} lacks covariate {c!r}", column=c, rule="column_present")
    s = data[c]
    if s.isna().any():
        raise DataContractError(
            f"{what} has missing values in {c!r}",
            column=c,
            rule="no_missing",
            examples=data.index[s.isna().to_numpy()][:5].tolist(),
        )
    if kind == "num":
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            raise DataContractError(f"{what}: {c!r} must be numeric", column=c, rule="numeric")
        return s.to_numpy(dtype=np.float64)[:, None]
    levels = list(pd.Categorical(fd.frame[c]).remove_unused_categories().categories)
    code = pd.Categorical(s, categories=levels).codes
    if (code < 0).any():
        raise DataContractError(
            f"{what}: {c!r} has levels not in the fitted data (levels: {levels})",
            column=c,
            rule="known_level",
            examples=data.index[code < 0][:5].tolist(),
        )
    return (code[:, None] == np.arange(1, width + 1)[None, :]).astype(np.float64)


def _stratum_codes(fd: CoxFitData, data: pd.DataFrame, what: str) -> np.ndarray:
    """The fitted stratum of each new row (a stratified model needs every strata column)."""
    lab = fd.strata_labels.reset_index(drop=True)
    for c in fd.strata:
        if c not in data.columns:
            raise DataContractError(
                f"{what} lacks strata column {c!r} (the model is stratified: each row needs "
                "its stratum's baseline hazard)",
                column=c,
                rule="column_present",
            )
    key = pd.MultiIndex.from_frame(lab[fd.strata])
    got = pd.MultiIndex.from_frame(data[fd.strata].reset_index(drop=True))
    code = key.get_indexer(got)
    if (code < 0).any():
        raise DataContractError(
            f"{what} has strata not in the fitted data",
            column=fd.strata[0],
            rule="known_stratum",
            examples=data.index[code < 0][:5].tolist(),
        )
    return code.astype(np.int64)


def avg_weights(ref: pd.DataFrame, weights) -> np.ndarray:
    """Averaging weights ``a_i`` (sum 1) of the reference rows."""
    if weights is None:
        return np.full(len(ref), 1.0 / len(ref))
    if not isinstance(weights, str) or weights not in ref.columns:
        raise DataContractError(
            f"weights column {weights!r} is not in the reference data",
            column=str(weights),
            rule="column_present",
        )
    w = pd.to_numeric(ref[weights], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any() or w.sum() <= 0:
        raise DataContractError(
            "reference weights must be finite, non-negative and not all zero",
            column=weights,
            rule="weights_nonnegative",
            examples=ref.index[bad][:5].tolist(),
        )
    return w / w.sum()
