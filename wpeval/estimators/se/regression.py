"""Covariance matrices of least-squares coefficients for :func:`wpeval.regress`, registered in
:data:`wpeval.estimators.se.SE_REGISTRY` as ``"lm_classical"``, ``"lm_HC"``, ``"lm_CR"`` and
``"lm_CR2"``.

All take the (square-root weighted, fixed-effect demeaned) design ``X`` (n x k), the residuals
``e`` and the bread ``B = (X'X)^-1``; the absorbed fixed effects enter through ``rank_total``
(small-sample factors and degrees of freedom) and, for HC2 / HC3 / CR2, through their part of
the hat matrix (:class:`wpeval.estimators._absorb.Absorbed`). Conventions are estimatr's
``lm_robust`` (version 1.0.0), with ``r = rank(X) + rank(fixed effects)``:

======================  ==============================================  ==================
SE type                 covariance                                      df
======================  ==============================================  ==================
classical               ``sum e_i^2 / (n - r) * B``                     n - r
HC0 / HC1               ``B X' diag(e^2) X B`` (HC1: ``* n/(n - r)``)   n - r
HC2 / HC3               ``e_i^2 / (1 - h_ii)`` (HC3: squared)           n - r
CR0 / CR1               ``B sum_g X_g'e_g e_g'X_g B`` (CR1: ``* G/(G-1)  G - 1
                        * (n-1)/(n-r)``, Stata's factor)
CR2                     Bell-McCaffrey: ``X_g`` replaced by             Pustejovsky-Tipton
                        ``(I - H_gg)^(-1/2) X_g``                       (per coefficient)
======================  ==============================================  ==================

``h_ii`` and ``H_gg`` are the leverages and cluster blocks of the hat matrix of the *full*
design including the fixed-effect dummies, as estimatr and clubSandwich compute them.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.linalg import blas

from wpeval.estimators.se import register

__all__ = ["leverage", "lm_classical", "lm_cr", "lm_cr2", "lm_hc", "weighted_gram"]


def leverage(X: np.ndarray, bread: np.ndarray, fe_leverage=None) -> np.ndarray:
    """Diagonal of the hat matrix: ``x_i' B x_i`` plus the fixed effects' share."""
    XB = blas.dgemm(1.0, np.asfortranarray(X), bread)
    XB *= X
    h = XB.sum(axis=1)
    return h if fe_leverage is None else h + fe_leverage


def weighted_gram(X: np.ndarray, om: np.ndarray, chunk: int = 1 << 15) -> np.ndarray:
    """``X' diag(om) X`` (``om >= 0``) by BLAS ``dsyrk`` on row blocks of ``sqrt(om) X``
    copied into one reused column-major buffer (no n x k temporary)."""
    n, k = X.shape
    G = np.zeros((k, k), order="F")
    buf = np.empty((min(chunk, n), k), order="F")
    r = np.sqrt(om)
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        b = buf[:m]
        np.multiply(X[s : s + m], r[s : s + m, None], out=b)
        G = blas.dsyrk(1.0, b, beta=1.0, c=G, trans=1, lower=0, overwrite_c=1)
    return np.triu(G) + np.triu(G, 1).T


@register("lm_classical")
def lm_classical(e: np.ndarray, bread: np.ndarray, n: int, rank_total: int):
    """Classical OLS covariance ``s^2 (X'X)^-1``, ``s^2 = sum e^2 / (n - r)``; df ``n - r``."""
    s2 = float(e @ e) / (n - rank_total)
    return s2 * bread, float(n - rank_total)


@register("lm_HC")
def lm_hc(
    X: np.ndarray, e: np.ndarray, bread: np.ndarray, kind: str, n: int, rank_total: int, lev=None
):
    """Heteroskedasticity-consistent covariance (HC0-HC3, MacKinnon & White 1985).

    Parameters
    ----------
    X : (n, k) array
    e : (n,) array
    bread : (k, k) array
    kind : {"HC0", "HC1", "HC2", "HC3"}
    n, rank_total : int
        Rows and parameters (including absorbed fixed effects).
    lev : (n,) array, optional
        Leverages of the full design (HC2, HC3). Rows with leverage 1 (a fixed-effect level
        held by one row) have a zero residual and contribute 0, as in estimatr.

    Returns
    -------
    (k, k) array, float
        Covariance and degrees of freedom ``n - r``.
    """
    om = e * e
    if kind in ("HC2", "HC3"):
        with np.errstate(divide="ignore", invalid="ignore"):
            om = om / (1.0 - lev) if kind == "HC2" else om / (1.0 - lev) ** 2
        om[~np.isfinite(om) | (lev > 1.0 - 1e-10)] = 0.0
    V = bread @ weighted_gram(X, om) @ bread
    if kind == "HC1":
        V *= n / (n - rank_total)
    return V, float(n - rank_total)


def _cluster_sums(X: np.ndarray, e: np.ndarray, cl: np.ndarray, G: int) -> np.ndarray:
    return np.column_stack(
        [np.bincount(cl, weights=X[:, j] * e, minlength=G) for j in range(X.shape[1])]
    )


@register("lm_CR")
def lm_cr(
    X: np.ndarray,
    e: np.ndarray,
    bread: np.ndarray,
    cl: np.ndarray,
    G: int,
    kind: str,
    n: int,
    rank_total: int,
):
    """Cluster-robust covariance CR0, or CR1 with Stata's factor ``G/(G-1) (n-1)/(n-r)``
    (estimatr ``se_type = "stata"``); df ``G - 1``.

    Parameters
    ----------
    X, e, bread : arrays
    cl : (n,) int array
        Cluster codes ``0..G-1``.
    G : int
        Number of clusters.
    kind : {"CR0", "CR1"}
    n, rank_total : int

    Returns
    -------
    (k, k) array, float
    """
    S = _cluster_sums(X, e, cl, G)
    V = bread @ (S.T @ S) @ bread
    if kind == "CR1":
        V *= G / (G - 1) * (n - 1) / (n - rank_total)
    return V, float(G - 1)


def _inv_sqrt_apply(Z: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``(I - Z Z')^(-1/2) M`` as ``M + Z W Z'M`` with ``W = V g(Lambda) V'`` from the
    eigendecomposition ``Z'Z = V Lambda V'`` (m x m), ``g(l) = ((1 - l)^(-1/2) - 1) / l``
    written as ``1 / (r (1 + r))``, ``r = sqrt(1 - l)``, so it is exact near ``l = 0``.
    Eigenvalues of ``I - ZZ'`` below 1e-12 are given weight 0 (``g = -1/l``; estimatr's and
    clubSandwich's generalised inverse). Same as via the thin SVD of ``Z`` (``Z'Z`` has the
    squared singular values, all <= 1 as ``ZZ'`` is a block of a projection), but numpy's SVD
    of a 50,000 x 25 block took 36 ms against 6 ms for this (one thread; 5-10x that on a busy
    machine, where the SVD took 18 s of the 2M-row prime contrasts)."""
    if Z.shape[1] == 0:
        return M
    lam, V = np.linalg.eigh(Z.T @ Z)
    lam = np.clip(lam, 0.0, None)
    ev = 1.0 - lam
    r = np.sqrt(np.maximum(ev, 0.0))
    with np.errstate(divide="ignore"):
        g = np.where(ev > 1e-12, 1.0 / (r * (1.0 + r)), -1.0 / np.maximum(lam, 1e-300))
    return M + Z @ ((V * g) @ (V.T @ (Z.T @ M)))


@register("lm_CR2")
def lm_cr2(
    X: np.ndarray,
    e: np.ndarray,
    bread: np.ndarray,
    cl: np.ndarray,
    G: int,
    absorbed=None,
    dof: bool = True,
):
    """Bell-McCaffrey (CR2) cluster-robust covariance with Pustejovsky-Tipton degrees of
    freedom (working model ``Phi = I``), as ``estimatr::lm_robust(se_type = "CR2")`` and
    ``clubSandwich::coef_test(vcov = "CR2", test = "Satterthwaite")``.

    With ``Z_g = [X_g L, F_g L_F]`` (``L L' = (X'X)^-1``; ``F_g L_F`` the absorbed effects'
    part, so ``H_gg = Z_g Z_g'``) and ``A_g = (I - H_gg)^(-1/2)``::

        V = B sum_g X_g' A_g e_g e_g' A_g X_g B.

    For coefficient j let ``p_g = A_g X_g B e_j``, ``P_g = p_g'p_g`` and ``u_g = Z_g' p_g``.
    Then ``Omega_gh = P_g 1[g = h] - u_g'u_h`` and ``df_j = tr(Omega)^2 / sum(Omega^2)``,
    computed as ``(sum P - sum |u_g|^2)^2 / (sum P^2 - 2 sum P_g |u_g|^2 + |U U'|_F^2)``
    so no G x G (or n x n) matrix is formed. ``A_g`` uses the thin SVD of ``Z_g``, O(n_g m^2)
    per cluster, so a cluster of 50,000 rows costs no n_g x n_g matrix.

    Parameters
    ----------
    X, e, bread : arrays
        Unweighted within design, residuals, ``(X'X)^-1``.
    cl : (n,) int array
        Cluster codes.
    G : int
    absorbed : Absorbed, optional
        The absorbed fixed effects (with their projection prepared).
    dof : bool, default True

    Returns
    -------
    (k, k) array, (k,) array
        Covariance and per-coefficient degrees of freedom.
    """
    k = X.shape[1]
    Lx = np.linalg.cholesky(bread)
    order = np.argsort(cl, kind="stable")
    bounds = np.flatnonzero(np.diff(cl[order])) + 1
    groups = np.split(order, bounds)
    half = np.empty((G, k))
    P = np.empty((G, k))
    rows, cols, vals = [], [], []
    mF = 0
    if absorbed is not None:
        mF = absorbed.n_levels[0] if absorbed.single else absorbed.root_pinv.shape[1]
    for g, idx in enumerate(groups):
        Xg = X[idx]
        Zx = Xg @ Lx
        if absorbed is not None:
            Zf = absorbed.cluster_part(idx)
            if absorbed.single:
                fidx = k + np.unique(absorbed.codes[0][idx])
            else:
                fidx = k + np.arange(mF)
            Z = np.hstack([Zx, Zf])
            ridx = np.concatenate([np.arange(k), fidx])
        else:
            Z, ridx = Zx, np.arange(k)
        Bg = _inv_sqrt_apply(Z, Xg)
        half[g] = e[idx] @ Bg
        if dof:
            Pg = Bg @ bread
            P[g] = np.einsum("ij,ij->j", Pg, Pg)
            rows.append(ridx)
            cols.append(np.full(len(ridx), g))
            vals.append(Z.T @ Pg)
    V = bread @ (half.T @ half) @ bread
    if not dof:
        return V, np.full(k, np.nan)
    rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.vstack(vals)
    m = k + mF
    df = np.empty(k)
    for j in range(k):
        U = sparse.csc_matrix((vals[:, j], (rows, cols)), shape=(m, G))
        usq = np.asarray(U.multiply(U).sum(axis=0)).ravel()
        C = (U.T @ U) if G <= m else (U @ U.T)
        frob = float(C.multiply(C).sum())
        tr = P[:, j].sum() - usq.sum()
        ssq = np.sum(P[:, j] ** 2) - 2.0 * np.sum(P[:, j] * usq) + frob
        df[j] = tr * tr / ssq if ssq > 0 else np.nan
    return V, df
