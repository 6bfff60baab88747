"""Linear-algebra helpers shared by the regression-adjusted estimators (Lin, IV): within-cell
demeaning, rank-revealing pseudo-inverse, HC leverage checks."""

from __future__ import annotations

import numpy as np

from wpeval._prepare import Prepared, examples
from wpeval.exceptions import DesignError


# ------------------------------------------------------------------------------ covariates
def _demean(W, cell, ncell):
    """Within-cell demeaned columns and the cell means (n_cell x k)."""
    cnt = np.bincount(cell, minlength=ncell).astype(float)
    means = (
        np.column_stack(
            [np.bincount(cell, weights=W[:, j], minlength=ncell) for j in range(W.shape[1])]
        )
        / cnt[:, None]
    )
    return W - means[cell], means


def _rms(W):
    """Column root mean squares, computed on columns scaled by their largest absolute value
    so that tiny (1e-200) or large values neither underflow nor overflow."""
    top = np.max(np.abs(W), axis=0) if len(W) else np.zeros(W.shape[1])
    safe = np.where(top > 0, top, 1.0)
    return top * np.sqrt(np.mean((W / safe) ** 2, axis=0)) if len(W) else top


def _pinv_rank(W, ref=None):
    """Scaled pseudo-inverse of W'W and its rank (columns with no within-cell variation are
    collinear with the cell dummies and get weight 0, as R's QR drops them).

    A column counts as varying within cells when its within-cell root mean square exceeds
    1e-10 times its root mean square in ``ref`` (the columns before demeaning): a relative
    test, so the result does not depend on the covariates' units (an absolute threshold
    dropped a covariate measured in small units, e.g. x * 1e-12)."""
    if W.shape[1] == 0:
        return np.zeros((0, 0)), 0, W
    sd = _rms(W)
    base = _rms(W if ref is None else ref)
    keep = (sd > 1e-10 * base) & (sd > 0)
    Ws = np.where(keep, W / np.where(keep, sd, 1.0), 0.0)
    G = Ws.T @ Ws
    rank = int(np.linalg.matrix_rank(G, hermitian=True, tol=1e-9 * max(1.0, np.max(np.diag(G)))))
    Ginv = np.linalg.pinv(G, rcond=1e-10, hermitian=True)
    return Ginv, rank, Ws


_HC = ("HC0", "HC1", "HC2", "HC3")


def _check_hc(lev, n: int, rank: int, se_type: str, what: str, p: Prepared) -> None:
    """DesignError when the HC variance is undefined: no residual degrees of freedom, or
    (HC2 / HC3) observations with leverage one, which a rare covariate level or a
    saturated model produces (R gives NaN or Inf there)."""
    if n - rank <= 0:
        raise DesignError(
            f"{what}: {n} rows for {rank} parameters leave no residual degrees "
            "of freedom; use fewer covariates (or covariate levels) or more data"
        )
    if se_type in ("HC2", "HC3"):
        one = np.asarray(lev) > 1 - 1e-8
        if one.any():
            raise DesignError(
                f"{what}: {int(one.sum())} row(s) have leverage one (a covariate "
                f"level or cell held by them alone), so the {se_type} variance "
                "is undefined; merge rare covariate levels or use se_type='HC0' "
                f"or 'HC1'; e.g. person_ids {examples(p.frame, one)}"
            )
