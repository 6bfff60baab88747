"""The blocked contrasts of :func:`wpeval.estimators.survival.blocked.compare_primes_survival`:
per CPA and pair of primes the within-stratum differences at each horizon combined with the
design weights, the table's order, warnings, adjusted p-values and method."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from wpeval.estimators.survival._common import zcrit
from wpeval.exceptions import StatisticalWarning
from wpeval.inference.multiplicity import adjust_pvalues


def _pair_contrasts(dd, cc, H, min_n, alpha):
    """Rows of every CPA x pair x horizon x quantity, the strata used / dropped per pair and
    what the randomisation needs per pair ``(cpa, a, b, strata, usable, weights)``."""
    P = len(dd.primes)
    at = [cc.at(h) for h in H]
    n = cc.n.reshape(dd.n_strata, P)
    rows, strata_info, perms = [], [], []
    for ci, cpa_label in enumerate(dd.cpas):
        ss = np.flatnonzero(dd.s_cpa == ci)
        have = n[ss] > 0
        cp = np.flatnonzero(have.any(axis=0))
        for a, b in itertools.combinations(cp, 2):
            pair_rows, info, usable, weights = _one_pair(
                dd, at, n, ss, a, b, cpa_label, H, min_n, alpha
            )
            rows += pair_rows
            strata_info.append(info)
            perms.append((ci, a, b, ss, usable, weights))
    return rows, strata_info, perms


def _one_pair(dd, at, n, ss, a, b, cpa_label, H, min_n, alpha):
    """Rows of one pair (primes a, b over the CPA's strata ss) at every horizon, its strata
    counts, the usable strata and the weights ``(H, strata)``."""
    P = len(dd.primes)
    na, nb = n[ss, a], n[ss, b]
    present = (na > 0) & (nb > 0)
    usable = (na >= min_n) & (nb >= min_n)
    info = {
        "cpa": cpa_label,
        "prime_a": dd.primes[a],
        "prime_b": dd.primes[b],
        "n_strata_cpa": int(len(ss)),
        "n_dropped": int((~present).sum()),
        "n_dropped_small": int((present & ~usable).sum()),
    }
    rows = []
    weights = np.zeros((len(H), len(ss)))
    for k, h in enumerate(H):
        q = at[k]
        ia, ib = ss * P + a, ss * P + b
        reach = (q["at_risk"][ia] + q["at_risk"][ib]) > 0
        used = usable & reach
        ext = used & ~(q["determined"][ia] & q["determined"][ib])
        size = (na + nb) * used
        info[f"n_used_{h:g}"] = int(used.sum())
        info[f"n_dropped_horizon_{h:g}"] = int((usable & ~reach).sum())
        info[f"n_extended_{h:g}"] = int(ext.sum())
        if size.sum() > 0:
            weights[k] = size / size.sum()
        for kind in ("surv", "rmst"):
            rows.append(
                _row(q, kind, ia, ib, weights[k], used, h, alpha, info, ext, na, nb, usable)
            )
    return rows, info, usable, weights


def _row(q, kind, ia, ib, w, used, h, alpha, info, ext, na, nb, usable) -> dict:
    est_key, var_key = (kind, f"var_{kind}") if kind == "rmst" else ("surv", "var_surv")
    qa, qb = q[est_key][ia], q[est_key][ib]
    va, vb = q[var_key][ia], q[var_key][ib]
    label = "S" if kind == "surv" else "RMST"
    row = {
        "term": f"{info['prime_a']} - {info['prime_b']}: {label}({h:g})",
        "cpa": info["cpa"],
        "prime_a": info["prime_a"],
        "prime_b": info["prime_b"],
        "quantity": kind,
        "horizon": float(h),
        "horizon_weeks": float(h) / 7.0,
        "n_strata_used": int(used.sum()),
        "n_dropped": info["n_dropped"],
        "n_dropped_small": info["n_dropped_small"],
        "n_dropped_horizon": int((usable & ~used).sum()),
        "n_extended": int(ext.sum()),
        "n": int(((na + nb) * used).sum()),
    }
    if not used.any():
        row.update(estimate=np.nan, std_error=np.nan, estimate_a=np.nan, estimate_b=np.nan)
        return row
    row.update(_combine(qa, qb, va, vb, w, alpha))
    return row


def _combine(qa, qb, va, vb, w, alpha) -> dict:
    """``sum w (qa - qb)``, its SE ``sqrt(sum w^2 (va + vb))``, normal test and interval."""
    est = float(w @ (qa - qb))
    se = float(np.sqrt(w**2 @ (va + vb)))
    z = zcrit(alpha)
    stat = est / se if se > 0 else np.nan
    return {
        "estimate": est,
        "std_error": se,
        "statistic": stat,
        "p_value": float(2 * stats.norm.sf(abs(stat))) if np.isfinite(stat) else np.nan,
        "conf_low": est - z * se,
        "conf_high": est + z * se,
        "estimate_a": float(w @ qa),
        "estimate_b": float(w @ qb),
    }


def _sorted_table(tab: pd.DataFrame) -> pd.DataFrame:
    """Rows by CPA, pair, quantity (survival before RMST) and horizon; quantity labels."""
    order = {"surv": 0, "rmst": 1}
    tab["_o"] = tab["quantity"].map(order)
    tab = tab.sort_values(["cpa", "prime_a", "prime_b", "_o", "horizon"], kind="stable")
    tab = tab.drop(columns="_o").reset_index(drop=True)
    tab["quantity"] = tab["quantity"].map({"surv": "survival", "rmst": "rmst"})
    return tab


def _warn(tab: pd.DataFrame, min_n: int) -> None:
    first = tab.drop_duplicates(["cpa", "prime_a", "prime_b"])
    small = int(first["n_dropped_small"].sum())
    if small:
        warnings.warn(
            f"{small} stratum x pair combination(s) dropped because a prime had fewer than "
            f"{min_n} referrals there (counted in n_dropped_small)",
            StatisticalWarning,
            stacklevel=3,
        )
    ext = tab.loc[tab["quantity"] == "survival"]
    if int(ext["n_extended"].sum()):
        warnings.warn(
            f"{int(ext['n_extended'].sum())} stratum x pair x horizon combination(s) have a "
            "prime curve ending (censored) before the horizon; carried flat to the horizon "
            "(counted in n_extended)",
            StatisticalWarning,
            stacklevel=3,
        )
    none = tab.loc[~np.isfinite(tab["estimate"].to_numpy(dtype=float)), "term"]
    if len(none):
        warnings.warn(
            f"{len(none)} contrast(s) have no usable stratum and are not estimated: "
            f"{list(none[:5])}",
            StatisticalWarning,
            stacklevel=3,
        )


def _add_adjusted_pvalues(tab: pd.DataFrame, adjust: str) -> None:
    """``p_adjusted_cpa`` (every row of a CPA), ``p_adjusted_cpa_quantity`` (the pairs of a
    CPA for one quantity) and ``p_randomisation_adjusted_cpa``, in place."""
    ok = np.isfinite(tab["p_value"].to_numpy(dtype=float))
    for col, groups, src in (
        ("p_adjusted_cpa", tab["cpa"], "p_value"),
        (
            "p_adjusted_cpa_quantity",
            tab["cpa"] + "|" + tab["term"].str.split(": ").str[1],
            "p_value",
        ),
        ("p_randomisation_adjusted_cpa", tab["cpa"], "p_randomisation"),
    ):
        out = np.full(len(tab), np.nan)
        good = ok & np.isfinite(tab[src].to_numpy(dtype=float))
        if good.any():
            out[good] = adjust_pvalues(
                tab.loc[good, src].to_numpy(dtype=float), adjust, groups=groups[good].to_numpy()
            )
        tab[col] = out


def _contrast_method(estimator, dd, alpha, adjust, H, min_n, draws, cpa_col) -> dict:
    """The ``method`` of the contrast table."""
    return {
        "estimator": estimator,
        "se_type": "blocked Greenwood: sum_s w_s^2 (Var_A,s + Var_B,s), Greenwood for S(h), "
        "Klein-Moeschberger (R survmean) for RMST(h)",
        "ci_method": f"normal (Wald) {100 * (1 - alpha):g}%",
        "design": f"randomised within {cpa_col} x {' x '.join(dd.blocks)} strata; weights = "
        "stratum share of the pair's referrals",
        "alpha": alpha,
        "adjust": adjust,
        "blocks": dd.blocks,
        "horizons": [float(h) for h in H],
        "min_n": min_n,
        "draws": draws,
        "randomisation_statistic": "blocked difference (not studentised); sharp null of no "
        "prime effect on (duration, event); labels permuted within strata"
        if draws
        else None,
        "notes": "S(h) and RMST(h) from within-stratum Kaplan-Meier curves combined with the "
        "design weights; time in days (364 = 52 weeks, 728 = 104 weeks); p_adjusted_cpa over "
        "all rows of a CPA, p_adjusted_cpa_quantity over the pairs of a CPA for one quantity",
    }
