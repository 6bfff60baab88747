"""The per-CPA fit behind :func:`wpeval.estimators.heterogeneity.group_differences`: OLS of
the outcome on prime x payment-group indicators with stratum x group fixed effects, HC2
covariances, the within-group prime effect rows and the Wald test that a CPA's prime effects
are equal across payment groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def _dense(codes: np.ndarray) -> np.ndarray:
    """Renumber non-negative integer codes 0..k-1 in sorted order (O(n) when compact)."""
    codes = np.asarray(codes, dtype=np.int64)
    top = int(codes.max(initial=-1)) + 1
    if top > 10_000_000:
        return np.unique(codes, return_inverse=True)[1].astype(np.int64)
    present = np.flatnonzero(np.bincount(codes, minlength=top))
    lookup = np.full(top, -1, dtype=np.int64)
    lookup[present] = np.arange(present.size)
    return lookup[codes]


def _cpa_fit(y, cell, grp, prime, groups, primes):
    """Within-cell OLS of y on group x (prime != reference) indicators with HC2 SEs,
    computed from (cell, prime) sufficient statistics.

    Because every regressor is an indicator and cells nest within groups, the demeaned
    regressor of a row depends only on its (cell, prime): ``x~_cp = e_p - pi_c`` (pi_c = the
    cell's prime shares). So X'X, X'y, the leverages ``h_cp`` and the HC2 meat
    ``sum_cp (SSE_cp / (1 - h_cp)) x~_cp x~_cp'`` (SSE_cp = sum of squared residuals of the
    (cell, prime) rows) need only per-(cell, prime) counts, sums and sums of squares: O(n)
    work and O(cells) memory. The model is block diagonal by group.

    Returns (beta, V, columns, n_used, dropped_rows, dropped_cells, leverage_one_rows), or
    beta None (no usable cell) / "collinear" (effects not separately identified).
    """
    P = len(primes)
    C = int(cell.max()) + 1
    k = cell * P + prime
    n_cp = np.bincount(k, minlength=C * P).reshape(C, P).astype(float)
    s_cp = np.bincount(k, weights=y, minlength=C * P).reshape(C, P)
    q_cp = np.bincount(k, weights=y * y, minlength=C * P).reshape(C, P)
    g_c = np.zeros(C, dtype=np.int64)
    g_c[cell] = grp
    good = (n_cp > 0).sum(axis=1) >= 2
    dropped_rows = int(n_cp[~good].sum())
    dropped_cells = int((~good & (n_cp.sum(axis=1) > 0)).sum())
    n_cp, s_cp, q_cp, g_c = n_cp[good], s_cp[good], q_cp[good], g_c[good]
    n_used = int(n_cp.sum())
    if n_used == 0:
        return None, None, [], 0, dropped_rows, dropped_cells, 0
    n_c = n_cp.sum(axis=1)
    s_c = s_cp.sum(axis=1)
    pi = n_cp / n_c[:, None]
    ybar_c = s_c / n_c
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar_cp = np.where(n_cp > 0, s_cp / np.where(n_cp > 0, n_cp, 1), 0.0)
    ss_within = np.clip(q_cp - np.where(n_cp > 0, s_cp * ybar_cp, 0.0), 0, None)
    cols, betas, blocks = [], [], []
    lev_one = 0
    for g in range(len(groups)):
        sel = g_c == g
        if not sel.any():
            continue
        nc, pic = n_c[sel], pi[sel]
        xtx = (np.diag((nc[:, None] * pic).sum(axis=0)) - (pic * nc[:, None]).T @ pic)[1:, 1:]
        xty = (s_cp[sel] - pic * s_c[sel][:, None]).sum(axis=0)[1:]
        ident = np.diag(xtx) > 1e-9
        if not ident.any():
            continue
        xtx, xty = xtx[np.ix_(ident, ident)], xty[ident]
        if not np.isfinite(xtx).all() or np.linalg.matrix_rank(xtx) < ident.sum():
            return "collinear", None, [], n_used, dropped_rows, dropped_cells, 0
        inv = np.linalg.inv(xtx)
        beta = inv @ xty
        ps = np.flatnonzero(ident) + 1  # prime codes of the columns
        # x~_cp for every (cell, prime): e_p - pi_c restricted to the identified columns
        xt = (np.arange(P)[None, :, None] == ps[None, None, :]).astype(float) - pic[:, ps][
            :, None, :
        ]
        fitted = ybar_c[sel][:, None] + xt @ beta  # (cells, P)
        h = 1.0 / nc[:, None] + np.einsum("cpj,jk,cpk->cp", xt, inv, xt)
        sse = ss_within[sel] + n_cp[sel] * (ybar_cp[sel] - fitted) ** 2
        one = (1 - h) < 1e-10
        lev_one += int(n_cp[sel][one].sum())
        w = np.where(one | (n_cp[sel] == 0), 0.0, sse / np.where(one, 1.0, 1 - h))
        meat = np.einsum("cp,cpj,cpk->jk", w, xt, xt)
        cols += [(g, int(p)) for p in ps]
        betas.append(beta)
        blocks.append(inv @ meat @ inv)
    if not cols:
        return None, None, [], n_used, dropped_rows, dropped_cells, 0
    from scipy.linalg import block_diag

    return (
        np.concatenate(betas),
        block_diag(*blocks),
        cols,
        n_used,
        dropped_rows,
        dropped_cells,
        lev_one,
    )


def _cpa_interaction(c, y, cell_all, grp, prime_all, groups, prime_labels, alpha):
    """One CPA: within-group prime effects, the Wald test of equal effects, and its checks
    row. Returns ``(effects, test or None, check)``."""
    used_primes = np.flatnonzero(np.bincount(prime_all, minlength=len(prime_labels)))
    p_codes = np.searchsorted(used_primes, prime_all)
    primes = [prime_labels[i] for i in used_primes]
    row = {"cpa": c, "rows": int(y.size), "primes": len(primes)}
    if len(primes) < 2:
        return (
            [],
            None,
            {
                **row,
                "rows_used": 0,
                "rows_dropped": int(y.size),
                "cells_dropped": 0,
                "groups_tested": 0,
                "leverage_one": 0,
                "tested": False,
                "reason": "one prime only",
            },
        )
    beta, V, cols, n_used, d_rows, d_cells, lev1 = _cpa_fit(
        y, _dense(cell_all), grp, p_codes, groups, primes
    )
    row.update(rows_used=n_used, rows_dropped=d_rows, cells_dropped=d_cells, leverage_one=lev1)
    if beta is None or isinstance(beta, str):
        reason = (
            "no stratum x group cell with two primes"
            if beta is None
            else "prime effects not separately identified (strata of a group lack the "
            "reference prime)"
        )
        return [], None, {**row, "groups_tested": 0, "tested": False, "reason": reason}
    effects = _effect_rows(c, beta, V, cols, groups, primes, alpha, n_used)
    groups_tested = len({g for g, _ in cols})
    test, reason = _equal_effects_test(beta, V, cols, len(primes))
    if test is None:
        return (
            effects,
            None,
            {**row, "groups_tested": groups_tested, "tested": False, "reason": reason},
        )
    test.update(term=c, n=n_used, groups=groups_tested, primes=len(primes))
    return effects, test, {**row, "groups_tested": groups_tested, "tested": True, "reason": ""}


def _effect_rows(c, beta, V, cols, groups, primes, alpha, n_used) -> list:
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    lo, hi = stats.norm.ppf(alpha / 2), stats.norm.ppf(1 - alpha / 2)
    out = []
    for j, (g, p) in enumerate(cols):
        out.append(
            {
                "term": f"{c} | {groups[g]} | {primes[p]} - {primes[0]}",
                "cpa": c,
                "group": groups[g],
                "prime": primes[p],
                "reference": primes[0],
                "estimate": beta[j],
                "std_error": se[j],
                "statistic": beta[j] / se[j] if se[j] > 0 else np.nan,
                "p_value": 2 * stats.norm.sf(abs(beta[j] / se[j])) if se[j] > 0 else np.nan,
                "conf_low": beta[j] + lo * se[j],
                "conf_high": beta[j] + hi * se[j],
                "n": n_used,
            }
        )
    return out


def _equal_effects_test(beta, V, cols, n_primes):
    """Wald test that each prime's effect is equal across groups: ``(dict, "")`` or
    ``(None, reason)``."""
    R = []
    for p in range(1, n_primes):
        js = [j for j, (g, pp) in enumerate(cols) if pp == p]
        for j in js[1:]:
            r = np.zeros(len(cols))
            r[js[0]], r[j] = 1.0, -1.0
            R.append(r)
    if not R:
        return None, "prime effect identified in fewer than two groups"
    R = np.array(R)
    rb = R @ beta
    rvr = R @ V @ R.T
    dfq = int(np.linalg.matrix_rank(rvr))
    if dfq == 0:
        return None, "zero variance of the contrasts"
    W = float(rb @ np.linalg.pinv(rvr) @ rb)
    return {"estimate": W, "statistic": W, "df": dfq, "p_value": float(stats.chi2.sf(W, dfq))}, ""


def _fit_by_cpa(
    y_all, cpa_codes, cpa_labels, cell_all, grp_codes, prime_all, groups, prime_labels, alpha
):
    """Fit the interaction model CPA by CPA: the within-group prime effect rows, the test row
    of each CPA that supports one and each CPA's check row (a DataFrame)."""
    order = np.argsort(cpa_codes, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(cpa_codes[order]) != 0, True])
    effects, tests, checks = [], [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        idx = order[a:b]
        eff, test, check = _cpa_interaction(
            cpa_labels[cpa_codes[idx[0]]],
            y_all[idx],
            cell_all[idx],
            grp_codes[idx],
            prime_all[idx],
            groups,
            prime_labels,
            alpha,
        )
        effects += eff
        tests += [test] if test else []
        checks.append(check)
    return effects, tests, pd.DataFrame(checks)
