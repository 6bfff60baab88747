"""Rows and design matrix of :func:`wpeval.estimators.survival.aft.aft`.

The checks on the prepared rows (durations > 0, positive weights, some events), the covariate
coding (numeric as they are, others treatment-coded), the design matrix built from it (also for
prediction on new rows), and the refusal of aliased terms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.estimators.survival._common import _examples
from wpeval.exceptions import DataContractError, DesignError, ParameterError


# ------------------------------------------------------------------------------------ the rows
def _checked_rows(prep, data, duration, event, weights, id_col):
    """Case weights and event indicator of the prepared rows, refusing durations <= 0, weights
    that are not positive and finite, and data without events."""
    frame = prep.frame
    nonpos = prep.duration <= 0
    if nonpos.any():
        raise DataContractError(
            f"{int(nonpos.sum())} durations are 0; a parametric AFT model needs times > 0 "
            "(R survreg refuses them too): recode same-day ends (e.g. to 0.5 days) or drop them",
            column=duration,
            rule="duration_positive",
            examples=_examples(frame, nonpos, id_col, data),
        )
    w = np.ones(len(frame))
    if weights:
        w = frame[weights].to_numpy(dtype=np.float64)
        badw = ~np.isfinite(w) | (w <= 0)
        if badw.any():
            raise DataContractError(
                f"{int(badw.sum())} weights are not positive and finite",
                column=weights,
                rule="weights_positive",
                examples=_examples(frame, badw, id_col, data),
            )
    ev = prep.event.astype(np.float64)
    if not np.any(ev > 0):
        raise DesignError(f"aft: no events in {event!r}; the model cannot be fitted")
    return w, ev


def _design(frame, covariates, w, id_col, data):
    """Covariate coding, term names and design matrix; aliased terms are refused."""
    spec = _design_spec(frame, covariates)
    names = _term_names(spec)
    X = _build(frame, spec, id_col, data)
    alias = _aliased(X, w, names)
    if alias:
        raise DesignError(
            f"aft: covariate terms {alias} are linear combinations of the terms before them "
            "(or constant); drop them"
        )
    return spec, names, X


# ----------------------------------------------------------------------------- design matrix
def _design_spec(frame: pd.DataFrame, covariates: list[str]) -> list[dict]:
    """Covariate coding: numeric / bool as they are; others treatment-coded on their levels."""
    spec = []
    for c in covariates:
        s = frame[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            vals = s.to_numpy(dtype=np.float64)
            bad = ~np.isfinite(vals)
            if bad.any():
                raise DataContractError(
                    "covariate has infinite values",
                    column=c,
                    rule="finite",
                    examples=frame.index[bad][:5].tolist(),
                )
            spec.append({"column": c, "kind": "numeric", "levels": None})
            continue
        cat = pd.Categorical(s).remove_unused_categories()
        levels = list(cat.categories)
        if len(levels) < 2:
            raise ParameterError(f"covariate {c!r} has a single level ({levels}); drop it")
        spec.append({"column": c, "kind": "categorical", "levels": levels})
    return spec


def _term_names(spec: list[dict]) -> list[str]:
    names = ["Intercept"]
    for part in spec:
        if part["kind"] == "numeric":
            names.append(part["column"])
        else:
            names.extend(f"{part['column']}[T.{lev}]" for lev in part["levels"][1:])
    return names


def _build(frame: pd.DataFrame, spec: list[dict], id_col=None, data=None) -> np.ndarray:
    """The n x p design (intercept first), columns in the order of :func:`_term_names`."""
    n = len(frame)
    width = 1 + sum(1 if s["kind"] == "numeric" else len(s["levels"]) - 1 for s in spec)
    X = np.empty((n, width), order="F")
    X[:, 0] = 1.0
    j = 1
    for part in spec:
        c = part["column"]
        s = frame[c]
        if part["kind"] == "numeric":
            if not (pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s)):
                raise DataContractError(
                    f"covariate {c!r} was numeric in the fit but is {s.dtype} here",
                    column=c,
                    rule="numeric",
                )
            X[:, j] = s.to_numpy(dtype=np.float64)
            j += 1
            continue
        levels = part["levels"]
        codes = pd.Categorical(s, categories=levels).codes
        unseen = (codes < 0) & s.notna().to_numpy()
        if unseen.any():
            raise DataContractError(
                f"covariate {c!r} has levels not seen in the fit (fit levels: {levels[:10]})",
                column=c,
                rule="known_level",
                examples=_examples(frame, unseen, id_col, data),
            )
        for k in range(1, len(levels)):
            X[:, j] = codes == k
            j += 1
    return X


def _no_event_levels(X: np.ndarray, event: np.ndarray, names: list[str]) -> list[str]:
    """Dummy (0/1) columns whose rows with value 1 have no events."""
    out = []
    for j in range(1, X.shape[1]):
        col = X[:, j]
        if "[T." in names[j] and not np.any(event[col == 1] > 0):
            out.append(names[j])
    return out


def _aliased(X: np.ndarray, w: np.ndarray, names: list[str]) -> list[str]:
    """Columns that are (numerically) linear combinations of the columns before them."""
    G = (X * w[:, None]).T @ X
    d = np.sqrt(np.maximum(np.diag(G), 1e-300))
    R = G / np.outer(d, d)
    out = []
    keep: list[int] = []
    for j in range(R.shape[0]):
        if keep:
            A = R[np.ix_(keep, keep)]
            b = R[keep, j]
            resid = R[j, j] - b @ np.linalg.lstsq(A, b, rcond=None)[0]
        else:
            resid = R[j, j]
        if resid < 1e-10 or np.diag(G)[j] == 0:
            out.append(names[j])
        else:
            keep.append(j)
    return out
