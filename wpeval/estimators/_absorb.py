"""Absorbed fixed effects for :func:`wpeval.regress`: the within transformation, the number of
parameters the absorbed effects use, and the part of the hat matrix they contribute (needed by
HC2, HC3 and CR2, which estimatr and clubSandwich compute on the full design).

One factor: direct (weighted) demeaning by group, O(N) with ``np.bincount``. Several factors:
alternating projections by ``pyhdfe`` (method ``"map"``) to a tolerance of 1e-13.

The absorbed effects use ``sum_a (L_a - 1) + 1`` parameters for factors with ``L_a`` levels
(estimatr's ``fe_rank``; exact for one factor and for connected two-way designs).

Hat matrix of the full design ``[X, F]`` (``F`` the dummies): ``X`` is demeaned, hence
orthogonal to the span of ``F``, so ``H = X_w (X_w'X_w)^-1 X_w' + P_F`` with
``P_F = W^(1/2) F (F'WF)^+ F' W^(1/2)``. With one factor ``P_F`` is block-diagonal by level with
entries ``sqrt(w_i w_j) / sum_level w``; with several factors ``(F'WF)^+`` is formed densely
(``sum_a L_a`` squared entries).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wpeval.exceptions import DesignError

__all__ = ["Absorbed", "absorb"]


@dataclass
class Absorbed:
    """Codes of the fixed-effect factors and what the variance computations need."""

    codes: list[np.ndarray]  # one int array per factor
    n_levels: list[int]
    weights: np.ndarray | None
    rank: int  # parameters used by the absorbed effects
    level_weight: np.ndarray | None = None  # one factor: sum of weights per level
    root_pinv: np.ndarray | None = None  # several factors: L with L L' = (F'WF)^+

    @property
    def single(self) -> bool:
        return len(self.codes) == 1

    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.n_levels)[:-1]]).astype(np.int64)

    def leverage(self) -> np.ndarray:
        """Diagonal of ``P_F`` (each row's leverage from the absorbed effects)."""
        w = np.ones(len(self.codes[0])) if self.weights is None else self.weights
        if self.single:
            return w / self.level_weight[self.codes[0]]
        Z = self.rows(np.arange(len(w)))
        return np.einsum("ij,ij->i", Z, Z)

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` of ``W^(1/2) F L`` (several factors), dense ``len(idx) x r``."""
        off = self.offsets()
        Z = np.zeros((len(idx), self.root_pinv.shape[1]))
        for a, c in enumerate(self.codes):
            Z += self.root_pinv[c[idx] + off[a]]
        if self.weights is not None:
            Z *= np.sqrt(self.weights[idx])[:, None]
        return Z

    def cluster_part(self, idx: np.ndarray) -> np.ndarray:
        """Columns spanning ``P_F`` restricted to rows ``idx``: ``Z_g`` with ``Z_g Z_g'`` the
        cluster's block of ``P_F`` (one factor: one column per level present in the rows)."""
        if not self.single:
            return self.rows(idx)
        c = self.codes[0][idx]
        lev, inv = np.unique(c, return_inverse=True)
        w = np.ones(len(idx)) if self.weights is None else self.weights[idx]
        Z = np.zeros((len(idx), len(lev)))
        Z[np.arange(len(idx)), inv] = np.sqrt(w / self.level_weight[c])
        return Z


def _codes(frame: pd.DataFrame, cols: list[str]) -> tuple[list[np.ndarray], list[int]]:
    codes, levels = [], []
    for c in cols:
        k, u = pd.factorize(frame[c], sort=True)
        codes.append(k.astype(np.int64))
        levels.append(len(u))
    return codes, levels


def _demean_one(
    M: np.ndarray, code: np.ndarray, L: int, w: np.ndarray | None, level_weight: np.ndarray
) -> None:
    """In-place weighted demeaning of every column of ``M`` by one factor."""
    for j in range(M.shape[1]):
        col = M[:, j]
        s = np.bincount(code, weights=col if w is None else col * w, minlength=L)
        col -= (s / level_weight)[code]


def _pinv_root(codes, levels, w) -> np.ndarray:
    """``L`` with ``L L' = (F'WF)^+`` for several factors (eigen-decomposition)."""
    total = int(sum(levels))
    if total > 6000:
        raise DesignError(
            f"{total} fixed-effect levels across several factors: HC2, HC3 and CR2 "
            "need the dense (levels x levels) projection; use HC1/CR1 or fewer "
            "levels"
        )
    off = np.concatenate([[0], np.cumsum(levels)[:-1]])
    wt = np.ones(len(codes[0])) if w is None else w
    G = np.zeros((total, total))
    for a, ca in enumerate(codes):
        for b, cb in enumerate(codes):
            key = (ca + off[a]) * total + (cb + off[b])
            G += np.bincount(key, weights=wt, minlength=total * total).reshape(total, total)
    lam, V = np.linalg.eigh(G)
    keep = lam > 1e-10 * lam.max()
    return V[:, keep] / np.sqrt(lam[keep])


def absorb(
    frame: pd.DataFrame,
    cols: list[str],
    M: np.ndarray,
    weights: np.ndarray | None,
    need_projection: bool,
) -> Absorbed:
    """Sweep the fixed effects ``cols`` out of the columns of ``M`` (in place).

    Parameters
    ----------
    frame : DataFrame
        Rows of the estimation sample (no missing values in ``cols``).
    cols : list of str
        Fixed-effect factor columns.
    M : (n, p) float array
        Outcome and regressors, demeaned in place (column-major, so each column is
        contiguous: ``np.bincount`` on a strided column is ~15x slower).
    weights : (n,) array or None
        Regression weights.
    need_projection : bool
        Prepare the fixed effects' part of the hat matrix (HC2, HC3, CR2).

    Returns
    -------
    Absorbed
    """
    codes, levels = _codes(frame, cols)
    rank = int(sum(L - 1 for L in levels) + 1)
    wt = np.ones(M.shape[0]) if weights is None else weights
    if len(cols) == 1:
        lw = np.bincount(codes[0], weights=wt, minlength=levels[0])
        _demean_one(M, codes[0], levels[0], weights, lw)
        return Absorbed(codes, levels, weights, rank, level_weight=lw)
    import pyhdfe

    algo = pyhdfe.create(
        np.column_stack(codes),
        drop_singletons=False,
        compute_degrees=False,
        residualize_method="map",
        options={"tol": 1e-14, "iteration_limit": 100_000},
    )
    M[:] = algo.residualize(M, None if weights is None else weights[:, None])
    root = _pinv_root(codes, levels, weights) if need_projection else None
    return Absorbed(codes, levels, weights, rank, root_pinv=root)
