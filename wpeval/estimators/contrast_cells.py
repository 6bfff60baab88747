"""The stratum x prime cell table behind :func:`wpeval.estimators.contrasts.compare_primes` and
the contrasts computed from it: Hajek means and their Neyman variances per cell (one pass of
``np.bincount`` over the rows), each within-CPA contrast over the strata that hold every prime
involved (pairwise and against the CPA average), and the Lin-adjusted pairwise contrast.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wpeval._prepare import group_codes, t_inference
from wpeval.estimators import se as _se
from wpeval.estimators.randomised import lin_adjusted
from wpeval.exceptions import ParameterError


def _codes(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and sorted string labels of the values present (no NaN expected)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.cat.remove_unused_categories()
        labels = [str(c) for c in s.cat.categories]
        codes = s.cat.codes.to_numpy().astype(np.int64)
        order = np.argsort(labels, kind="stable")
        remap = np.empty(len(labels), dtype=np.int64)
        remap[order] = np.arange(len(labels))
        return remap[codes], [labels[i] for i in order]
    codes, uniq = pd.factorize(s.astype(str), sort=True)
    return codes.astype(np.int64), [str(u) for u in uniq]


@dataclass(frozen=True)
class _Cells:
    """Hajek means and their Neyman variances by stratum x prime (S x P arrays)."""

    n: np.ndarray
    mu: np.ndarray
    vmu: np.ndarray
    stratum: np.ndarray  # stratum code per row
    pcode: np.ndarray  # prime code per row
    primes: list
    s_cpa: np.ndarray  # CPA of each stratum
    weighted: bool  # probabilities vary within stratum x prime


def _cell_means(data, y, w, prob, blocks, prime_col, cpa_col) -> _Cells:
    stratum, S = group_codes(data, [cpa_col, *blocks])
    pcode, primes = _codes(data[prime_col])
    P = len(primes)
    cell = stratum * P + pcode
    n = np.bincount(cell, minlength=S * P).astype(float)
    sw = np.bincount(cell, weights=w, minlength=S * P)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.bincount(cell, weights=w * y, minlength=S * P) / sw
    dev = y - mu[cell]
    vmu = _se.hajek_mean_var(n, sw, np.bincount(cell, weights=(w * dev) ** 2, minlength=S * P))
    weighted = False
    if prob is not None:
        pm = np.bincount(cell, weights=prob, minlength=S * P) / np.maximum(n, 1)
        weighted = bool(np.max(np.abs(prob - pm[cell])) > 1e-9)
    ccode, cpas = _codes(data[cpa_col])
    s_cpa = np.empty(S, dtype=object)
    s_cpa[stratum] = np.asarray(cpas, dtype=object)[ccode]
    n, mu, vmu = (a.reshape(S, P) for a in (n, mu, vmu))
    return _Cells(n, mu, vmu, stratum, pcode, primes, s_cpa, weighted)


def _contrast_rows(
    cells: _Cells,
    data,
    y,
    outcome,
    prime_col,
    method,
    covariates,
    prob,
    stratum_weight,
    vs_average,
    alpha,
):
    """Every pairwise contrast of each CPA, and each prime against the CPA average."""
    n, mu, vmu, primes = cells.n, cells.mu, cells.vmu, cells.primes
    rows, small_total = [], 0
    for c in sorted(set(cells.s_cpa)):
        ss = np.flatnonzero(cells.s_cpa == c)
        have = n[ss] > 0
        cp = np.flatnonzero(have.any(axis=0))
        for a, b in itertools.combinations(cp, 2):
            r = _contrast(
                n, mu, vmu, ss, [a, b], np.array([1.0, -1.0]), stratum_weight, cells.weighted, alpha
            )
            if method == "lin" and r is not None:
                r.update(
                    _lin_pair(
                        data,
                        y,
                        outcome,
                        prime_col,
                        cells.stratum,
                        ss,
                        r.pop("used"),
                        primes[a],
                        primes[b],
                        covariates,
                        alpha,
                        prob,
                        cells.pcode,
                        [a, b],
                    )
                )
            rows.append(_label(r, c, "pairwise", primes[a], primes[b], ss, have, [a, b]))
            small_total += rows[-1]["n_dropped_small"]
        if vs_average and method == "blocked" and len(cp) >= 3:
            k = len(cp)
            for a in cp:
                coef = np.where(cp == a, 1.0 - 1.0 / k, -1.0 / k)
                r = _contrast(n, mu, vmu, ss, list(cp), coef, "stratum", cells.weighted, alpha)
                rows.append(
                    _label(r, c, "vs_cpa_average", primes[a], "CPA average", ss, have, list(cp))
                )
                small_total += rows[-1]["n_dropped_small"]
    return rows, small_total


def _contrast(n, mu, vmu, ss, cols, coef, weighting, weighted, alpha):
    """One contrast sum_j coef_j mu_j over the strata ``ss`` holding every prime in ``cols``
    with >= 2 referrals each. Returns a dict or None (no usable stratum)."""
    nn = n[np.ix_(ss, cols)]
    present = (nn > 0).all(axis=1)
    usable = (nn >= 2).all(axis=1)
    out = {"n_dropped_small": int((present & ~usable).sum()), "used": ss[usable]}
    if not usable.any():
        out["estimate"] = None
        return out
    su = ss[usable]
    m = mu[np.ix_(su, cols)]
    v = vmu[np.ix_(su, cols)]
    tau_s = m @ coef
    v_s = v @ coef**2
    size = nn[usable].sum(axis=1) if weighting == "pair" else n[su].sum(axis=1)
    omega = size / size.sum()
    tau = float(omega @ tau_s)
    se = float(np.sqrt(omega**2 @ v_s))
    n_used = int(nn[usable].sum())
    df = None if weighted else float(n_used - len(cols) * len(su))
    stat, p, lo, hi = t_inference(tau, se, df, alpha)
    out.update(
        estimate=tau,
        std_error=se,
        statistic=stat,
        p_value=p,
        conf_low=lo,
        conf_high=hi,
        df=np.nan if df is None else df,
        n=n_used,
        n_strata_used=int(len(su)),
    )
    return out


def _label(r, cpa, kind, a, b, ss, have, cols):
    r = dict(r)
    r.pop("used", None)
    r["term"] = f"{a} - {b}"
    r.update(
        cpa=cpa,
        contrast=kind,
        prime_a=a,
        prime_b=b,
        n_dropped=int((~have[:, cols].all(axis=1)).sum()),
    )
    return r


def _lin_pair(
    data, y, outcome, prime_col, stratum, ss, used, a, b, covariates, alpha, prob, pcode, cols
):
    """Lin-adjusted A - B on the rows of the usable strata."""
    rows = np.isin(stratum, used) & np.isin(pcode, cols)
    if prob is not None:
        pr = prob[rows]
        cellp = pd.Series(pr).groupby([stratum[rows], pcode[rows]]).transform("std").fillna(0)
        if cellp.max() > 1e-9:
            raise ParameterError(
                "method='lin' needs allocation probabilities constant within "
                "stratum x prime; add payment_group to blocks"
            )
    sub = pd.DataFrame(
        {"_y": y[rows], "_arm": np.where(pcode[rows] == cols[0], 1, 0), "_stratum": stratum[rows]}
    )
    for c in covariates:
        sub[c] = data[c].to_numpy()[rows]
    res = lin_adjusted(sub, "_y", "_arm", covariates, blocks="_stratum", alpha=alpha)
    t = res.tidy().iloc[0]
    return {
        k: t[k]
        for k in (
            "estimate",
            "std_error",
            "statistic",
            "p_value",
            "conf_low",
            "conf_high",
            "df",
            "n",
        )
    }
