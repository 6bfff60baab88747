"""League tables with their uncertainty: within-CPA contract effects, empirical-Bayes
shrinkage, confidence sets for ranks and funnel-plot control limits.

Published star ratings and league tables of Work Programme contracts showed a rank or a rate
and nothing else. Each function here returns the uncertainty next to the number:

- :func:`contract_effects` -- each contract (cpa, prime) against its CPA average, estimated
  only from comparisons inside randomisation strata (district x period), with a Neyman
  variance and the full within-CPA covariance;
- :func:`eb_shrink` -- normal-normal empirical-Bayes shrinkage (tau^2 by REML or
  DerSimonian-Laird), posterior means and SDs as in ``metafor::blup``;
- :func:`rank_confidence_sets` -- marginal confidence sets for ranks, Mogstad, Romano,
  Shaikh & Wilhelm (2023), or an (approximate) parametric bootstrap of ranks;
- :func:`funnel_limits`, :func:`funnel_data` -- exact binomial funnel-plot limits
  (Spiegelhalter 2005) and contracts outside them;
- :func:`league_table` -- all of the above in one :class:`~wpeval.results.EffectTable`.

The estimators are written by hand: no Python library offers block-adjusted contrasts
against a group average with their covariance, MRSW rank sets, or Spiegelhalter's
interpolated binomial limits; statsmodels' ``combine_effects`` offers DerSimonian-Laird and
Paule-Mandel tau^2 but neither REML nor the EB predictions with standard errors that include
the uncertainty of the pooled mean (``metafor::blup``), which are checked against R here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import DataContractError, DesignError, ParameterError, StatisticalWarning
from ..results import EffectTable, ci_normal
from ._prep import check_seed, numeric

__all__ = ["contract_effects", "eb_shrink", "Shrinkage", "rank_confidence_sets",
           "funnel_limits", "funnel_data", "league_table"]

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
        raise DataContractError(f"outcome column {outcome!r} not found", column=str(outcome),
                                rule="required_column")
    keep = list(dict.fromkeys([outcome] + [c for c in cols if c in data.columns]))
    if _ID in data.columns and _ID not in keep:
        keep.append(_ID)
    if not data.columns.is_unique:
        dup = [c for c in keep if int((data.columns == c).sum()) > 1]
        if dup:
            raise DataContractError(f"column(s) {dup} appear more than once in the data; rename "
                                    "or drop the copies", column=dup[0], rule="unique_columns")
    work = data[keep].copy()
    for c in cols:
        if c in work.columns:
            continue
        if c == "period" and "referral_date" in data.columns:
            dates = pd.to_datetime(data["referral_date"], errors="coerce")
            if dates.isna().any():
                raise DataContractError("referral_date missing or not a date; cannot derive "
                                        "the quarter period", column="referral_date",
                                        rule="not_null", examples=_examples(data, dates.isna()))
            # integer year*10 + quarter (e.g. 20113 = "2011Q3"): same strata, cheap to group
            work["period"] = (dates.dt.year * 10 + dates.dt.quarter).to_numpy()
        else:
            raise DataContractError(f"column {c!r} not found", column=c, rule="required_column")
    for c in cols:
        bad = work[c].isna()
        if bad.any():
            raise DataContractError(f"{int(bad.sum())} rows with missing {c!r}", column=c,
                                    rule="not_null", examples=_examples(work, bad))
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
def _effects(data, outcome, cpa_col, prime_col, blocks, reference):
    """Core of :func:`contract_effects`: (table, covariance, info)."""
    if reference not in ("stratum", "equal"):
        raise ParameterError("reference must be 'stratum' or 'equal'")
    blocks = [blocks] if isinstance(blocks, str) else list(blocks)
    if not blocks or any(not isinstance(b, str) for b in blocks):
        raise ParameterError("blocks must be a non-empty sequence of column names")
    work, n_missing = _prepare(data, outcome, [cpa_col, prime_col, *blocks])
    n_all = len(work)
    agg = (work.groupby([cpa_col, *blocks, prime_col], observed=True, sort=True)[outcome]
           .agg(n="size", mean="mean", var="var").reset_index())
    agg = agg.rename(columns={cpa_col: "cpa", prime_col: "prime"})
    agg["cpa"], agg["prime"] = agg["cpa"].astype(str), agg["prime"].astype(str)
    raw = work.groupby([cpa_col, prime_col], observed=True, sort=True)[outcome].agg(["size",
                                                                                   "mean"])
    raw.index = pd.MultiIndex.from_arrays([raw.index.get_level_values(i).astype(str)
                                           for i in range(2)])
    # arms of one person have no variance: treat the prime as absent from that stratum
    small = agg["n"] < 2
    n_small_rows = int(agg.loc[small, "n"].sum())
    agg = agg.loc[~small].copy()
    agg["stratum"] = agg.groupby(["cpa", *blocks], observed=True, sort=True).ngroup()
    agg["k"] = agg.groupby("stratum")["prime"].transform("size")
    one_arm = agg["k"] < 2
    n_one_arm_strata = int(agg.loc[one_arm, "stratum"].nunique())
    n_one_arm_rows = int(agg.loc[one_arm, "n"].sum())
    agg = agg.loc[~one_arm].copy()
    if agg.empty:
        raise DesignError("no stratum holds two or more primes with at least 2 referrals each; "
                          "within-CPA comparisons are impossible")
    if n_small_rows or n_one_arm_rows:
        warnings.warn(f"contract effects: dropped {n_small_rows} referrals in prime x stratum "
                      f"cells of size 1 and {n_one_arm_rows} referrals in {n_one_arm_strata} "
                      "strata with a single prime", StatisticalWarning, stacklevel=3)
    lost = set(map(tuple, raw.index)) - set(zip(agg["cpa"], agg["prime"]))
    if lost:
        raise DesignError(f"contracts {sorted(lost)[:5]} share no stratum with another prime "
                          f"of their CPA; their effect relative to the CPA is not identified")
    g = agg.groupby("stratum")
    agg["n_s"] = g["n"].transform("sum")
    agg["a"] = agg["n"] / agg["n_s"] if reference == "stratum" else 1.0 / agg["k"]
    agg["u"] = agg["var"] / agg["n"]                                 # Var(arm mean)
    agg["d"] = agg["mean"] - (agg["a"] * agg["mean"]).groupby(agg["stratum"]).transform("sum")
    agg["S"] = (agg["a"] ** 2 * agg["u"]).groupby(agg["stratum"]).transform("sum")
    agg["W"] = agg["n_s"] / agg.groupby(["cpa", "prime"])["n_s"].transform("sum")
    # all (j, k) pairs of primes sharing a stratum: Cov(d_sj, d_sk)
    left = agg[["stratum", "cpa", "prime", "a", "u", "S", "W"]]
    pairs = left.merge(left[["stratum", "prime", "a", "u", "W"]], on="stratum",
                       suffixes=("", "_k"))
    same = pairs["prime"] == pairs["prime_k"]
    cov_s = np.where(same, pairs["S"] + (1 - 2 * pairs["a"]) * pairs["u"],
                     pairs["S"] - pairs["a"] * pairs["u"] - pairs["a_k"] * pairs["u_k"])
    pairs["c"] = pairs["W"] * pairs["W_k"] * cov_s
    cov = pairs.groupby(["cpa", "prime", "prime_k"], sort=True)["c"].sum()

    agg["Wd"] = agg["W"] * agg["d"]
    tab = agg.groupby(["cpa", "prime"], sort=True).agg(estimate=("Wd", "sum"), n=("n", "sum"),
                                                       n_strata=("stratum", "nunique"))
    tab = tab.reset_index()
    terms = list(zip(tab["cpa"], tab["prime"]))
    pos = {t: i for i, t in enumerate(terms)}
    V = np.zeros((len(terms), len(terms)))
    for (c, j, k), val in cov.items():
        V[pos[(c, j)], pos[(c, k)]] = val
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    if np.any(se <= 0):
        bad = [f"{c}: {p}" for (c, p), s in zip(terms, se) if s <= 0]
        raise DesignError(f"standard error is zero for {bad[:5]} (outcome constant within "
                          "every stratum); no uncertainty can be stated")
    tab["std_error"] = se
    tab["rate"] = [float(raw.loc[t, "mean"]) for t in terms]
    tab["n_all"] = [int(raw.loc[t, "size"]) for t in terms]
    info = {"n_rows_used": int(agg["n"].sum()), "n_rows_with_outcome": n_all,
            "n_dropped_missing_outcome": n_missing, "n_dropped_singleton_cells": n_small_rows,
            "n_dropped_single_prime_strata": n_one_arm_rows,
            "n_single_prime_strata": n_one_arm_strata, "n_strata": int(agg["stratum"].nunique())}
    return tab, V, info


def _effect_method(outcome, blocks, reference, alpha):
    ref = ("the stratum mean (primes weighted by their allocation shares)"
           if reference == "stratum" else "the unweighted mean of the primes in the stratum")
    return {
        "estimator": "block-adjusted contrast of each contract with its CPA average",
        "se_type": "Neyman (stratified, conservative), full within-CPA covariance",
        "ci_method": "normal",
        "design": f"randomised within {' x '.join(blocks)} strata",
        "alpha": alpha, "blocks": list(blocks), "outcome": outcome, "reference": reference,
        "notes": (f"Within each stratum: prime mean minus {ref}; averaged over the strata the "
                  "prime appears in, weighted by stratum size."),
    }


def contract_effects(data: pd.DataFrame, outcome: str, *, cpa_col: str = "cpa",
                     prime_col: str = "prime", blocks=("district", "period"),
                     reference: str = "stratum", alpha: float = 0.05) -> EffectTable:
    """Effect of each contract relative to its CPA average, from within-stratum comparisons.

    Parameters
    ----------
    data : pandas.DataFrame
        Referral-level data (one row per referral). Not modified.
    outcome : str
        Numeric outcome column (e.g. ``"job_outcome_24m"``, 0/1). Rows where it is missing
        are dropped and counted (``extra["n_dropped_missing_outcome"]``).
    cpa_col, prime_col : str
        Columns naming the contract package area and the prime.
    blocks : sequence of str
        Columns defining the randomisation strata within a CPA. ``"period"`` is derived as the
        quarter of ``referral_date`` when absent. Add ``"payment_group"`` when allocation
        shares differ by payment group (after the 2013 market-share shift).
    reference : {"stratum", "equal"}
        The "CPA average" inside a stratum: the stratum mean (primes weighted by their
        shares ``n_sk / n_s``; the default) or the unweighted mean of the primes present.
        The two coincide under equal allocation.
    alpha : float
        1 - confidence level of the normal intervals.

    Returns
    -------
    EffectTable
        One row per contract: ``term`` ("CPA01: A4e"), ``estimate``, ``std_error``,
        ``statistic``/``p_value`` (H0: no different from the CPA average), ``conf_low``,
        ``conf_high``, ``n`` (referrals used), plus ``cpa``, ``prime``, ``rate`` (raw
        outcome mean), ``n_strata``. ``extra["covariance"]`` holds each CPA's covariance
        matrix of the effects.

    Notes
    -----
    Estimand: ``theta_j = sum_s W_s (mu_sj - sum_k a_sk mu_sk)``, with ``mu_sk`` the mean
    potential outcome in stratum ``s`` under allocation to prime ``k``, ``a_sk`` the reference
    weights and ``W_s = n_s / sum n_s`` over the strata where ``j`` is present.

    Variance (Neyman, conditional on arm sizes, strata independent): with
    ``u_sk = s^2_sk / n_sk`` (sample variance, ddof 1) and ``S_s = sum_k a_sk^2 u_sk``,
    ``Var(d_sj) = S_s + (1 - 2 a_sj) u_sj`` and, for ``j != k``,
    ``Cov(d_sj, d_sk) = S_s - a_sj u_sj - a_sk u_sk``; ``Var(theta_j) = sum_s W_s^2 Var(d_sj)``.
    Conservative under complete randomisation within strata (Neyman 1923).

    Assumptions: complete random allocation within each stratum with fixed shares (use finer
    ``blocks`` when shares vary inside a stratum); no interference between referrals.
    Prime x stratum cells of one referral (no variance) are treated as absent, and strata
    left with one prime are dropped; both are counted and warned about.
    """
    alpha = _check_alpha(alpha)
    blocks = (blocks,) if isinstance(blocks, str) else tuple(blocks)
    tab, V, info = _effects(data, outcome, cpa_col, prime_col, blocks, reference)
    out = _tidy_effects(tab, alpha)
    extra = dict(info, covariance=_cov_blocks(tab, V))
    return EffectTable(out, _effect_method(outcome, blocks, reference, alpha),
                       title=f"Contract effects on {outcome} relative to the CPA average",
                       extra=extra)


def _tidy_effects(tab: pd.DataFrame, alpha: float) -> pd.DataFrame:
    out = pd.DataFrame({"term": tab["cpa"] + ": " + tab["prime"], "estimate": tab["estimate"],
                        "std_error": tab["std_error"]})
    out["statistic"] = out["estimate"] / out["std_error"]
    out["p_value"] = 2 * stats.norm.sf(np.abs(out["statistic"]))
    out["conf_low"], out["conf_high"] = ci_normal(out["estimate"], out["std_error"], alpha)
    out["n"] = tab["n"].astype(int)
    for c in ("cpa", "prime", "rate", "n_strata"):
        out[c] = tab[c].to_numpy()
    return out


def _cov_blocks(tab, V) -> dict:
    out = {}
    for cpa, idx in tab.groupby("cpa", sort=True).indices.items():
        out[cpa] = {"primes": list(tab["prime"].iloc[idx]), "matrix": V[np.ix_(idx, idx)]}
    return out


# ------------------------------------------------------------------- empirical Bayes
@dataclass(frozen=True)
class Shrinkage:
    """Result of :func:`eb_shrink` (arrays in input order)."""

    tau2: float
    tau2_method: str
    mu: float
    mu_se: float
    Q: float
    posterior_mean: np.ndarray
    posterior_sd: np.ndarray
    weight: np.ndarray


def _tau2_dl(y, v):
    w = 1 / v
    ybar = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - ybar) ** 2))
    c = np.sum(w) - np.sum(w ** 2) / np.sum(w)
    return max(0.0, (q - (len(y) - 1)) / c), q


def _tau2_reml(y, v, start, eps=1e-12, maxiter=100):
    """REML estimate of tau^2 by Fisher scoring (as metafor), in the kit's shared Newton loop.

    Restricted log-likelihood ``l = -(sum log(v + t) + log sum w + sum w (y - mu)^2) / 2`` with
    ``w = 1 / (v + t)``; score ``(sum w^2 (y - mu)^2 - tr P) / 2`` and expected information
    ``tr(P P) / 2``, ``P = W - w w' / sum w``. The loop (:func:`wpeval.estimators._newton.maximise`)
    stops when the relative change in ``l`` is below ``eps`` or the step is below ``eps``
    on the scale of the sampling variances (``mean(v)``), halves steps that lower ``l`` and
    keeps ``t >= 0``. Scoring converges linearly, hence the tighter ``eps`` than Cox's 1e-9.
    """
    from ._newton import NewtonControl, maximise

    k = len(y)
    off = 1.0 - np.eye(k)

    def evaluate(theta):
        tau2 = float(theta[0])
        w = 1 / (v + tau2)
        sw = w.sum()
        mu = np.sum(w * y) / sw
        # P = W - w w'/sum(w); its traces from the sums over the *other* weights, which
        # avoids the cancellation of sum w^2 - 2 sum w^3/sw + (sum w^2/sw)^2 when one weight
        # dominates (it gave 0 and a division by zero)
        others = off @ w
        P = -np.outer(w, w) / sw
        P[np.diag_indices(k)] = w * others / sw
        tr_p = float(np.sum(w * others) / sw)
        tr_pp = float(np.sum(P * P))
        if not tr_pp > 0:
            raise DesignError("REML for tau^2 is degenerate (one standard error dominates "
                              "all others); use tau2_method='dl'")
        r2 = float(np.sum(w * (y - mu) ** 2))
        ll = -0.5 * (float(np.sum(np.log(v + tau2))) + float(np.log(sw)) + r2)
        score = 0.5 * (float(np.sum(w ** 2 * (y - mu) ** 2)) - tr_p)
        return ll, np.array([score]), np.array([[0.5 * tr_pp]])

    fit = maximise(evaluate, [start], NewtonControl(eps=eps, iter_max=maxiter),
                   scale=[float(np.mean(v))], lower=[0.0])
    if not fit.converged:
        raise DesignError("REML estimate of tau^2 did not converge; use tau2_method='dl'")
    return float(fit.beta[0])


def eb_shrink(estimate, std_error, *, tau2_method: str = "reml", tau2: float | None = None,
              mu: float | None = None) -> Shrinkage:
    """Empirical-Bayes shrinkage under the normal-normal model.

    Model: ``estimate_j ~ N(theta_j, se_j^2)``, ``theta_j ~ N(mu, tau^2)``, independent.

    Parameters
    ----------
    estimate, std_error : array-like
        Estimates and their standard errors (all finite, SEs > 0).
    tau2_method : {"reml", "dl"}
        REML (Fisher scoring, as ``metafor::rma(method="REML")``) or the DerSimonian-Laird
        method-of-moments estimator ``max(0, (Q - (k-1)) / (sum w - sum w^2 / sum w))``,
        ``w = 1/se^2``. Ignored when ``tau2`` is given.
    tau2 : float, optional
        Known between-contract variance (skips estimation).
    mu : float, optional
        Known prior mean (e.g. 0 for contrasts that average to zero); by default
        ``mu_hat = sum w_j y_j / sum w_j`` with ``w_j = 1/(se_j^2 + tau^2)``, ``Var = 1/sum w``.

    Returns
    -------
    Shrinkage
        ``posterior_mean = B_j y_j + (1 - B_j) mu`` with ``B_j = tau^2/(tau^2 + se_j^2)``;
        ``posterior_sd = sqrt(B_j se_j^2 + (1 - B_j)^2 Var(mu_hat))`` -- the posterior SD plus
        the uncertainty of the estimated mean, as ``metafor::blup``. The uncertainty of
        ``tau^2`` itself is ignored (intervals from it can undercover when k is small).
    """
    y = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    if y.ndim != 1 or y.shape != se.shape or len(y) < 2:
        raise ParameterError("estimate and std_error must be 1-d arrays of equal length >= 2")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(se)) and np.all(se > 0)):
        raise ParameterError("estimates and standard errors must be finite, SEs positive")
    v = se ** 2
    if not (np.all(v > 0) and np.all(np.isfinite(1 / v)) and np.all(np.isfinite(v))):
        raise ParameterError("standard errors are too small or too large to square in float64 "
                             f"(range {se.min():.3g} to {se.max():.3g}); rescale them")
    dl, q = _tau2_dl(y, v)
    if tau2 is not None:
        if not np.isfinite(tau2) or tau2 < 0:
            raise ParameterError("tau2 must be a finite number >= 0")
        t2, how = float(tau2), "given"
    elif tau2_method == "dl":
        t2, how = dl, "DerSimonian-Laird"
    elif tau2_method == "reml":
        t2, how = _tau2_reml(y, v, dl), "REML"
    else:
        raise ParameterError("tau2_method must be 'reml' or 'dl'")
    w = 1 / (v + t2)
    if mu is None:
        m, m_var = float(np.sum(w * y) / np.sum(w)), float(1 / np.sum(w))
    else:
        m, m_var = float(mu), 0.0
    b = t2 / (t2 + v)
    post = b * y + (1 - b) * m
    psd = np.sqrt(b * v + (1 - b) ** 2 * m_var)
    if t2 == 0 and tau2 is None:
        warnings.warn("tau^2 estimated as 0: every estimate is shrunk to the common mean; the "
                      "data show no between-contract variation beyond sampling error",
                      StatisticalWarning, stacklevel=2)
    return Shrinkage(tau2=t2, tau2_method=how, mu=m, mu_se=float(np.sqrt(m_var)), Q=q,
                     posterior_mean=post, posterior_sd=psd, weight=b)


# -------------------------------------------------------------------------- rank sets
def _point_ranks(est, groups, sign):
    r = np.empty(len(est), dtype=int)
    for idx in groups:
        e = sign * est[idx]
        r[idx] = 1 + (e[None, :] > e[:, None]).sum(axis=1)
    return r


def rank_confidence_sets(estimate, cov, *, groups=None, alpha: float = 0.05,
                         method: str = "mrsw", critical: str = "maxt", draws: int = 2000,
                         seed=None, higher_is_better: bool = True) -> pd.DataFrame:
    """Marginal confidence sets for the rank of each estimate (rank 1 = best).

    Parameters
    ----------
    estimate : array-like, shape (p,)
        Estimates to rank.
    cov : array-like, shape (p,) or (p, p)
        Their variances, or the covariance matrix (entries across groups are ignored).
    groups : array-like, shape (p,), optional
        Rank within each group (e.g. CPA); default one group.
    alpha : float
        Each set covers the true rank with probability >= 1 - alpha ("mrsw").
    method : {"mrsw", "bootstrap"}
        ``"mrsw"``: Mogstad, Romano, Shaikh & Wilhelm (2023, Review of Economic Studies),
        marginal sets. For unit ``j`` the 2(p-1) one-sided hypotheses ``theta_k <= theta_j``
        and ``theta_k >= theta_j`` are tested with a step-down procedure controlling the
        family-wise error at ``alpha``; with ``N-`` units significantly better and ``N+``
        significantly worse, the set is ``[1 + N-, p - N+]``. Coverage is guaranteed
        (asymptotically, given normal estimates with the stated covariance).
        ``"bootstrap"``: parametric bootstrap of ranks -- draw ``N(est, cov)``, rank each
        draw, take the ``alpha/2`` and ``1 - alpha/2`` quantiles. Approximate only: it can
        undercover badly when true effects are close or tied.
    critical : {"maxt", "holm"}
        MRSW critical values: ``"maxt"`` simulates the maximum of the studentised
        differences from ``N(0, cov)`` (``draws`` draws; MRSW's proposal), ``"holm"`` uses
        Bonferroni-Holm ``z_{1 - alpha/m}`` (no simulation, more conservative).
    draws : int
        Simulation draws (``maxt`` and ``bootstrap``).
    seed : int or numpy.random.Generator, optional
        Randomness for the draws.
    higher_is_better : bool
        Rank 1 is the largest estimate when True.

    Returns
    -------
    pandas.DataFrame
        Columns ``rank`` (1 + number of strictly better estimates), ``rank_low``,
        ``rank_high``, ``n_ranked`` (units in the group), in input order.
    """
    est = np.asarray(estimate, dtype=float)
    p = len(est)
    alpha = _check_alpha(alpha)
    V = np.asarray(cov, dtype=float)
    V = np.diag(V) if V.ndim == 1 else V
    if est.ndim != 1 or V.shape != (p, p) or not np.all(np.isfinite(V)) or not np.all(
            np.isfinite(est)):
        raise ParameterError("estimate must be (p,), cov (p,) or (p, p), all finite")
    if method not in ("mrsw", "bootstrap") or critical not in ("maxt", "holm"):
        raise ParameterError("method must be 'mrsw' or 'bootstrap'; critical 'maxt' or 'holm'")
    if int(draws) < 100 and (method == "bootstrap" or critical == "maxt"):
        raise ParameterError("draws must be >= 100")
    rng = np.random.default_rng(seed)
    sign = 1.0 if higher_is_better else -1.0
    labels = np.zeros(p, dtype=int) if groups is None else pd.factorize(
        np.asarray(groups), sort=True)[0]
    idx_groups = [np.flatnonzero(labels == g) for g in np.unique(labels)]
    rank = _point_ranks(est, idx_groups, sign)
    low = np.ones(p, dtype=int)
    high = np.empty(p, dtype=int)
    size = np.empty(p, dtype=int)
    for idx in idx_groups:
        k = len(idx)
        size[idx], high[idx] = k, k
        if k == 1:
            continue
        e = sign * est[idx]
        Vg = V[np.ix_(idx, idx)]
        sims = None
        if method == "bootstrap" or critical == "maxt":
            sims = sign * rng.multivariate_normal(np.zeros(k), Vg, size=int(draws),
                                                  method="eigh")
        if method == "bootstrap":
            d = sims + e
            rk = 1 + (d[:, None, :] > d[:, :, None]).sum(axis=2)
            low[idx] = np.quantile(rk, alpha / 2, axis=0, method="lower")
            high[idx] = np.quantile(rk, 1 - alpha / 2, axis=0, method="higher")
            continue
        var = np.diag(Vg)
        for a, j in enumerate(idx):
            others = np.array([b for b in range(k) if b != a])
            s = np.sqrt(var[others] + var[a] - 2 * Vg[others, a])
            if np.any(s <= 0):
                raise DesignError("a difference between two estimates has zero variance")
            t = (e[others] - e[a]) / s
            tstat = np.concatenate([t, -t])        # "k better than j", "k worse than j"
            z = None
            if sims is not None:
                zk = (sims[:, others] - sims[:, [a]]) / s
                z = np.concatenate([zk, -zk], axis=1)
            active = np.ones(2 * (k - 1), dtype=bool)
            while active.any():
                if critical == "holm":
                    c = stats.norm.isf(alpha / active.sum())
                else:
                    c = np.quantile(z[:, active].max(axis=1), 1 - alpha)
                new = active & (tstat > c)
                if not new.any():
                    break
                active &= ~new
            rejected = ~active
            low[j] = 1 + rejected[: k - 1].sum()
            high[j] = k - rejected[k - 1:].sum()
    return pd.DataFrame({"rank": rank, "rank_low": low, "rank_high": high, "n_ranked": size})


# ------------------------------------------------------------------------------ funnel
def funnel_limits(target, n, level: float = 0.95):
    """Exact binomial control limits for a proportion at sample size ``n`` (Spiegelhalter 2005).

    Parameters
    ----------
    target : float or array-like
        Target proportion ``p0`` in (0, 1).
    n : int or array-like
        Denominators (>= 1).
    level : float
        Two-sided level, e.g. 0.95 or 0.998; each tail has probability ``q = (1-level)/2``.

    Returns
    -------
    (lower, upper) : arrays of proportions
        With ``F`` the Binomial(n, p0) cdf and ``f`` its pmf: lower ``(r - a)/n`` where
        ``r = F^{-1}(q)`` (smallest r with ``F(r) >= q``) and ``a = (F(r) - q)/f(r)``; upper
        ``(r' + 1 - a')/n`` with ``r' = F^{-1}(1-q)``, ``a' = (F(r') - (1-q))/f(r')``. The
        interpolation makes the funnel smooth in ``n``, symmetric about ``p0 = 0.5``, and keeps
        each tail's exact probability ``P(Y/n < lower)``, ``P(Y/n > upper)`` below ``q``.
    """
    if not 0 < level < 1:
        raise ParameterError("level must be in (0, 1)")
    p0 = np.asarray(target, dtype=float)
    n = np.asarray(n)
    if np.any((p0 <= 0) | (p0 >= 1)) or np.any(n < 1) or np.any(n != np.round(n)):
        raise ParameterError("target must be in (0, 1) and n a positive integer")
    n = n.astype(float)
    q = (1 - level) / 2
    r = stats.binom.ppf(q, n, p0)
    lower = (r - (stats.binom.cdf(r, n, p0) - q) / stats.binom.pmf(r, n, p0)) / n
    r2 = stats.binom.ppf(1 - q, n, p0)
    upper = (r2 + 1 - (stats.binom.cdf(r2, n, p0) - (1 - q)) / stats.binom.pmf(r2, n, p0)) / n
    return np.clip(lower, 0, 1), np.clip(upper, 0, 1)


def funnel_data(data: pd.DataFrame, outcome: str, *, cpa_col: str = "cpa",
                prime_col: str = "prime", target: str = "cpa",
                levels=(0.95, 0.998)) -> EffectTable:
    """Contract outcome rates against their size, with funnel-plot control limits.

    Parameters
    ----------
    data : pandas.DataFrame
        Referral-level data; rows with a missing ``outcome`` are dropped and counted.
    outcome : str
        Binary (0/1) outcome column.
    cpa_col, prime_col : str
        Contract columns.
    target : {"cpa", "national"}
        Target rate ``p0``: the contract's CPA rate (primes were randomised within CPAs, so
        this comparison is balanced by design) or the national rate (also reflects the CPAs'
        labour markets and caseloads, as the published comparisons did).
    levels : sequence of float
        Control-limit levels (default 95% "alert" and 99.8% "alarm").

    Returns
    -------
    EffectTable
        One row per contract: ``estimate`` = outcome rate, ``n`` referrals, ``events``,
        ``target``, ``lower_95``/``upper_95``, ``lower_998``/``upper_998`` (per level),
        ``flag`` ("high_alarm"/"low_alarm" strictly beyond the widest limits,
        "high_alert"/"low_alert" beyond a narrower one only, "" inside), and
        ``z`` = (rate - p0)/sqrt(p0(1-p0)/n).
        ``extra["dispersion"]`` is mean(z^2) (Spiegelhalter's over-dispersion check: values
        well above 1 mean many contracts will fall outside limits that assume pure binomial
        noise; no over-dispersion adjustment is applied).

    Notes
    -----
    Limits from :func:`funnel_limits`. Assumes referrals are independent Bernoulli trials
    with the target probability; the target is estimated from the same data (including the
    contract itself), which the limits ignore.
    """
    if target not in ("cpa", "national"):
        raise ParameterError("target must be 'cpa' or 'national'")
    levels = sorted(float(v) for v in levels)
    if not levels:
        raise ParameterError("levels must hold at least one level")
    work, n_missing = _prepare(data, outcome, [cpa_col, prime_col])
    y = work[outcome].to_numpy()
    if not np.all((y == 0) | (y == 1)):
        raise DataContractError("funnel plots need a 0/1 outcome", column=outcome, rule="binary",
                                examples=_examples(work, ~((y == 0) | (y == 1))))
    tab = (work.groupby([cpa_col, prime_col], observed=True, sort=True)[outcome]
           .agg(n="size", events="sum").reset_index()
           .rename(columns={cpa_col: "cpa", prime_col: "prime"}))
    tab["cpa"], tab["prime"] = tab["cpa"].astype(str), tab["prime"].astype(str)
    tab = tab.sort_values(["cpa", "prime"], kind="mergesort").reset_index(drop=True)
    if target == "cpa":
        cp = tab.groupby("cpa")[["events", "n"]].transform("sum")
        p0 = cp["events"] / cp["n"]
    else:
        p0 = pd.Series(tab["events"].sum() / tab["n"].sum(), index=tab.index)
    if np.any((p0 <= 0) | (p0 >= 1)):
        raise DesignError("target rate is 0 or 1; funnel limits are degenerate")
    out = pd.DataFrame({"term": tab["cpa"] + ": " + tab["prime"],
                        "estimate": tab["events"] / tab["n"], "n": tab["n"],
                        "cpa": tab["cpa"], "prime": tab["prime"], "events": tab["events"],
                        "target": p0.to_numpy()})
    out["z"] = (out["estimate"] - out["target"]) / np.sqrt(
        out["target"] * (1 - out["target"]) / out["n"])
    flag = np.full(len(out), "", dtype=object)
    for i, lev in enumerate(levels):
        lo, hi = funnel_limits(out["target"].to_numpy(), out["n"].to_numpy(), lev)
        tag = f"{lev * 100:g}".replace(".", "")
        out[f"lower_{tag}"], out[f"upper_{tag}"] = lo, hi
        suffix = "_alarm" if i == len(levels) - 1 else "_alert"
        flag = np.where(out["estimate"] < lo, "low" + suffix,
                        np.where(out["estimate"] > hi, "high" + suffix, flag))
    out["flag"] = flag
    method = {"estimator": "contract outcome rate against a target (funnel plot)",
              "se_type": "binomial at the target rate",
              "ci_method": "exact binomial control limits, interpolated (Spiegelhalter 2005)",
              "design": "none (raw rates, no adjustment for strata)",
              "target": target, "levels": levels, "outcome": outcome,
              "notes": "Control limits show where a contract with the target rate would fall "
                       "by chance; points outside are flags for inquiry, not rankings."}
    extra = {"n_dropped_missing_outcome": n_missing,
             "dispersion": float(np.mean(out["z"] ** 2)),
             "n_flagged": int((out["flag"] != "").sum())}
    return EffectTable(out, method, title=f"Funnel plot data: {outcome} by contract",
                       extra=extra)


# ------------------------------------------------------------------------ league table
def league_table(data: pd.DataFrame, outcome: str, *, cpa_col: str = "cpa",
                 prime_col: str = "prime", blocks=("district", "period"),
                 alpha: float = 0.05, shrinkage: str | None = "eb", tau2_method: str = "reml",
                 rank_ci: str = "mrsw", critical: str = "maxt", draws: int = 2000, seed=None,
                 reference: str = "stratum", higher_is_better: bool = True) -> EffectTable:
    """League table of contracts within their CPA, with every source of uncertainty shown.

    Parameters
    ----------
    data : pandas.DataFrame
        Referral-level data (not modified).
    outcome : str
        Outcome column, e.g. ``"job_outcome_24m"`` (missing values dropped and counted).
    cpa_col, prime_col : str
        Contract columns.
    blocks : sequence of str
        Randomisation strata within a CPA (``period`` derived from ``referral_date``).
    alpha : float
        1 - level of the effect intervals, posterior intervals and rank sets.
    shrinkage : {"eb", None}
        Empirical-Bayes shrinkage of the contract effects (pooled over all contracts) or none.
    tau2_method : {"reml", "dl"}
        Between-contract variance estimator (see :func:`eb_shrink`).
    rank_ci : {"mrsw", "bootstrap"}
        Rank confidence sets (see :func:`rank_confidence_sets`); "bootstrap" is approximate.
    critical : {"maxt", "holm"}
        MRSW critical values.
    draws : int
        Simulation draws for the rank sets.
    seed : int, optional
        Seed for the draws.
    reference : {"stratum", "equal"}
        CPA average within a stratum (see :func:`contract_effects`).
    higher_is_better : bool
        Rank 1 = highest effect (True for job outcomes).

    Returns
    -------
    EffectTable
        Per contract: the tidy columns for the raw effect (estimate = ``raw_effect``), and
        ``cpa, prime, raw_effect, shrunk_effect, posterior_sd, shrunk_low, shrunk_high, rank,
        rank_low, rank_high`` (within the CPA), ``rank_national, rank_national_low,
        rank_national_high`` (all contracts, effects relative to their CPA averages),
        ``n``, ``rate``, ``n_strata``. ``extra`` holds tau^2, mu, Q, the row counts and the
        covariance blocks.

    Notes
    -----
    Estimand and variance of the effects as :func:`contract_effects`. Shrinkage treats the
    contract effects as independent draws from N(mu, tau^2); effects within a CPA are in
    fact negatively correlated (with two primes and equal shares, one is minus the other),
    which the shrinkage ignores and the rank sets (which use the full covariance) do not.
    Ranks and rank sets are for the raw (unshrunk) effects, as in MRSW.
    """
    alpha = _check_alpha(alpha)
    check_seed(seed)
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)):
        raise ParameterError(f"draws must be an integer, got {draws!r}")
    if shrinkage not in ("eb", None, "none"):
        raise ParameterError("shrinkage must be 'eb' or None")
    blocks = (blocks,) if isinstance(blocks, str) else tuple(blocks)
    tab, V, info = _effects(data, outcome, cpa_col, prime_col, blocks, reference)
    out = _tidy_effects(tab, alpha)
    out["raw_effect"] = out["estimate"]
    extra = dict(info)
    if shrinkage == "eb":
        if len(out) < 5:
            warnings.warn(f"tau^2 estimated from only {len(out)} contracts",
                          StatisticalWarning, stacklevel=2)
        sh = eb_shrink(out["estimate"], out["std_error"], tau2_method=tau2_method)
        out["shrunk_effect"], out["posterior_sd"] = sh.posterior_mean, sh.posterior_sd
        out["shrunk_low"], out["shrunk_high"] = ci_normal(sh.posterior_mean, sh.posterior_sd,
                                                          alpha)
        out["shrinkage_weight"] = sh.weight
        extra.update(tau2=sh.tau2, tau2_method=sh.tau2_method, mu=sh.mu, mu_se=sh.mu_se, Q=sh.Q)
        shrink_txt = (f"empirical-Bayes normal-normal shrinkage (tau^2 by {sh.tau2_method}, "
                      "pooled over all contracts; posterior SD includes the uncertainty of mu)")
    else:
        for c in ("shrunk_effect", "posterior_sd", "shrunk_low", "shrunk_high"):
            out[c] = np.nan
        shrink_txt = "no shrinkage"
    rng = np.random.default_rng(seed)
    kw = dict(alpha=alpha, method=rank_ci, critical=critical, draws=draws, seed=rng,
              higher_is_better=higher_is_better)
    within = rank_confidence_sets(out["estimate"], V, groups=out["cpa"], **kw)
    national = rank_confidence_sets(out["estimate"], V, **kw)
    out["rank"], out["rank_low"], out["rank_high"] = (within["rank"], within["rank_low"],
                                                      within["rank_high"])
    for c in ("rank", "rank_low", "rank_high"):
        out[c.replace("rank", "rank_national")] = national[c]
    rank_txt = (f"MRSW (2023) marginal rank confidence sets, step-down with {critical} "
                "critical values (coverage guaranteed)" if rank_ci == "mrsw" else
                "parametric bootstrap of ranks (approximate; can undercover for close effects)")
    method = _effect_method(outcome, blocks, reference, alpha)
    method.update(
        estimator=method["estimator"] + "; " + shrink_txt + "; " + rank_txt,
        ci_method="normal (effects); normal posterior (shrunk); " + rank_txt.split(",")[0],
        shrinkage=shrinkage or "none", rank_ci=rank_ci, critical=critical, draws=int(draws),
        seed=seed if isinstance(seed, (int, type(None))) else "generator",
        notes=method["notes"] + (
            " What published star ratings and league tables never showed: each rank comes "
            f"with a {100 * (1 - alpha):g}% confidence set; a set covering every position "
            "means the data cannot order that contract. Rows dropped: "
            f"{info['n_dropped_missing_outcome']} with a missing outcome, "
            f"{info['n_dropped_singleton_cells'] + info['n_dropped_single_prime_strata']} "
            "in cells/strata without a comparison."))
    extra["covariance"] = _cov_blocks(tab, V)
    return EffectTable(out, method, title=f"League table: {outcome}, contracts within CPA",
                       extra=extra)
