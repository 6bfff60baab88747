"""Simulation diagnosis of the prime comparisons (after DeclareDesign: Blair, Cooper, Coppock &
Humphreys 2019, "Declaring and diagnosing research designs", APSR 113(3)).

:func:`diagnose` simulates the programme ``R`` times from the calibrated generator with known
truth (:func:`wpeval.make_programme`: same districts, contract effects and allocation design
in every replication, new referrals, allocations and outcomes), applies each estimator to
each within-CPA contrast (:mod:`wpeval.inference.replicate`) and summarises, per estimator and
contrast, the diagnosands with their Monte Carlo standard errors (``e_r = est_r - theta_r``,
``theta_r`` the replication's true contrast, R replications, S of them significant):

============== ======================================== =====================================
diagnosand     definition                               Monte Carlo SE
============== ======================================== =====================================
bias           ``mean(e_r)``                            ``sd(e_r) / sqrt(R)``
rmse           ``sqrt(mean(e_r^2))``                    ``sd(e_r^2) / (2 rmse sqrt(R))``
coverage       share of intervals holding ``theta_r``   ``sqrt(c (1 - c) / R_ci)``
power          share with ``p < alpha``                 ``sqrt(w (1 - w) / R)``
type_s         share of significant estimates with the  ``sqrt(s (1 - s) / S)``
               wrong sign (Gelman & Carlin 2014)
type_m         ``mean(|est_r| / |theta_r|)`` over the   ``sd(...) / sqrt(S)``
               significant (exaggeration ratio)
mean_ci_width  ``mean(conf_high - conf_low)``           ``sd(width) / sqrt(R)``
============== ======================================== =====================================

(the RMSE's SE is the delta method; type-M is undefined, NaN, when the true effect is 0).
Coverage and interval width are over the ``R_ci`` replications with a finite interval (an
estimator whose variance estimate is negative, e.g. a Horvitz-Thompson Young's bound in a small
block, reports none): the others are counted in ``n_no_interval``; a NaN p-value counts as not
significant.
Replications in which an estimator fails (e.g. a Cox fit that does not converge) are counted
in ``n_failed`` and left out of that estimator's diagnosands.

Seeds: ``numpy.random.SeedSequence(seed).spawn(R)`` gives each replication its own seed before
anything runs, so the diagnosands are identical whatever the backend (serial or Dask) and the
number of workers (:mod:`wpeval.inference.backend`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from wpeval._prepare import as_list, check_alpha
from wpeval.exceptions import ParameterError
from wpeval.inference import replicate as _rep
from wpeval.inference._tables import DesignTable
from wpeval.inference.backend import map_tasks, resolve_backend

__all__ = [
    "DEFAULT_ESTIMATORS",
    "DIAGNOSANDS",
    "Diagnosis",
    "complete_follow_up",
    "diagnosands",
    "diagnose",
]

DIAGNOSANDS = ("bias", "rmse", "coverage", "power", "type_s", "type_m", "mean_ci_width")
DEFAULT_ESTIMATORS = ("blocked_dim", "lin", "horvitz_thompson", "cox", "randomisation_test")
#: the extract date the diagnosis uses by default: every referral followed for 2 years, so the
#: generator's truth (over all referrals) is the estimand of the comparison
COMPLETE_DATA_END = "2018-06-30"


class Diagnosis(DesignTable):
    """Result of :func:`diagnose`: one row per estimator x contrast with the diagnosands
    (:data:`DIAGNOSANDS`), their Monte Carlo SEs (``<name>_mc_se``), ``mean_estimand``,
    ``mean_estimate``, ``sd_estimate``, ``mean_se``, ``n_sims``, ``n_failed``.
    ``extra["draws"]`` keeps the raw (replication x estimator x contrast x field) array."""


def complete_follow_up(config: Mapping | None = None) -> dict:
    """``config`` with the extract date moved to :data:`COMPLETE_DATA_END` (unless set)."""
    cfg = copy.deepcopy(dict(config or {}))
    cal = dict(cfg.get("calendar") or {})
    cal.setdefault("data_end_date", COMPLETE_DATA_END)
    cfg["calendar"] = cal
    return cfg


def diagnosands(est, se, lo, hi, p, theta, alpha: float = 0.05) -> dict:
    """Diagnosands and Monte Carlo SEs of one estimator on one contrast over replications.

    Parameters
    ----------
    est, se, lo, hi, p, theta : array-like, one value per replication
        Estimates, standard errors, interval limits, p-values and true values (NaN estimates
        are failed replications, left out and counted).
    alpha : float
        Significance level for power, type-S and type-M.

    Returns
    -------
    dict
    """
    est, se, lo, hi, p, theta = (np.asarray(a, dtype=float) for a in (est, se, lo, hi, p, theta))
    ok = np.isfinite(est)
    R = int(ok.sum())
    out = {"n_sims": R, "n_failed": int((~ok).sum())}
    if R == 0:
        return out | {k: np.nan for k in DIAGNOSANDS}
    est, se, lo, hi, p, theta = (a[ok] for a in (est, se, lo, hi, p, theta))
    e = est - theta
    rootR = np.sqrt(R)
    sd = lambda x: float(np.std(x, ddof=1)) if len(x) > 1 else np.nan
    rmse = float(np.sqrt(np.mean(e**2)))
    has_ci = np.isfinite(lo) & np.isfinite(hi)  # a NaN SE gives no interval
    Rc = int(has_ci.sum())
    cover = ((lo <= theta) & (theta <= hi))[has_ci]
    sig = p < alpha  # a NaN p-value is not significant
    S = int(sig.sum())
    c = float(cover.mean()) if Rc else np.nan
    w = float(sig.mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(est[sig]) / np.abs(theta[sig])
    ratio = ratio[np.isfinite(ratio)]
    wrong = (np.sign(est[sig]) != np.sign(theta[sig])) & (theta[sig] != 0)
    s = float(wrong.mean()) if S else np.nan
    width = (hi - lo)[has_ci]
    out.update(
        {
            "bias": float(e.mean()),
            "bias_mc_se": sd(e) / rootR,
            "rmse": rmse,
            "rmse_mc_se": sd(e**2) / (2 * rmse * rootR) if rmse > 0 else np.nan,
            "coverage": c,
            "coverage_mc_se": float(np.sqrt(c * (1 - c) / Rc)) if Rc else np.nan,
            "power": w,
            "power_mc_se": float(np.sqrt(w * (1 - w) / R)),
            "type_s": s,
            "type_s_mc_se": float(np.sqrt(s * (1 - s) / S)) if S else np.nan,
            "type_m": float(ratio.mean()) if len(ratio) else np.nan,
            "type_m_mc_se": sd(ratio) / np.sqrt(len(ratio)) if len(ratio) > 1 else np.nan,
            "mean_ci_width": float(np.mean(width)) if Rc else np.nan,
            "mean_ci_width_mc_se": sd(width) / np.sqrt(Rc) if Rc else np.nan,
            "n_no_interval": R - Rc,
            "mean_estimand": float(theta.mean()),
            "mean_estimate": float(est.mean()),
            "sd_estimate": sd(est),
            "mean_se": float(np.nanmean(se)) if np.isfinite(se).any() else np.nan,
        }
    )
    return out


def _contrasts(structure_seed: int, config: Mapping, cpas) -> list[tuple[str, str, str]]:
    from wpeval.data.synthetic import make_programme

    truth = make_programme(200, structure_seed, config).truth.contrasts
    keep = truth if cpas is None else truth[truth["cpa"].isin(as_list(cpas))]
    if keep.empty:
        raise ParameterError(f"no contrast in CPAs {cpas!r}")
    return [(str(r.cpa), str(r.prime), str(r.reference)) for r in keep.itertuples(index=False)]


def _summarise(draws: np.ndarray, names, contrasts, alpha: float) -> list[dict]:
    """Diagnosand rows from the (replication x estimator x contrast x field) array."""
    rows = []
    for i, name in enumerate(names):
        for j, (cpa, a, b) in enumerate(contrasts):
            d = draws[:, i, j, :]
            rows.append(
                {
                    "estimator": name,
                    "estimand": _rep.ESTIMATORS[name].estimand,
                    "cpa": cpa,
                    "term": f"{a} - {b}",
                    **diagnosands(*(d[:, k] for k in range(6)), alpha=alpha),
                }
            )
    return rows


def _method(names, replications, n, alpha, structure_seed, seed) -> dict:
    labels = "; ".join(f"{k}: {_rep.ESTIMATORS[k].label}" for k in names)
    return {
        "estimator": f"simulation diagnosis, {replications} replications of {n:,} "
        f"referrals ({labels})",
        "se_type": "Monte Carlo SEs of the diagnosands (module docstring)",
        "ci_method": f"each estimator's own {100 * (1 - alpha):g}% interval",
        "design": "complete randomisation within district x quarter x allocation-share "
        f"strata (generator design, structure seed {structure_seed}); truth from the "
        "generator",
        "alpha": alpha,
        "replications": int(replications),
        "seed": int(seed),
        "n": int(n),
    }


def diagnose(
    estimators: Sequence[str] | str = DEFAULT_ESTIMATORS,
    config: Mapping | None = None,
    replications: int = 100,
    seed: int = 1,
    *,
    n: int = 200_000,
    structure_seed: int = 20110601,
    cpas: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    backend=None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    processes: bool = True,
    progress: bool = True,
) -> Diagnosis:
    """Diagnose the within-CPA prime comparisons by simulation from the generator's truth.

    Parameters
    ----------
    estimators : str or list of str
        Names in :data:`wpeval.inference.replicate.ESTIMATORS` (default: blocked difference in
        means, Lin, Horvitz-Thompson, stratified Cox, randomisation test).
    config : mapping, optional
        Generator configuration overrides (e.g. ``primes.overrides`` to set true effects).
        The extract date defaults to :data:`COMPLETE_DATA_END` (every referral followed for two
        years; see :func:`complete_follow_up`).
    replications : int, default 100
        Simulated programmes R.
    seed : int, default 1
        Root of the per-replication seeds (``SeedSequence(seed).spawn(R)``).
    n : int, default 200,000
        Referrals per simulated programme.
    structure_seed : int, default 20110601
        Generator seed fixing the programme structure (districts, true effects, shifted CPAs).
    cpas : str or list of str, optional
        Restrict to these CPAs (default: every contrast of every CPA).
    alpha : float, default 0.05
        Level of the tests and 1 - confidence level of the intervals.
    backend : {"serial", "dask"}, distributed.Client or None, default None
        Where replications run (:func:`wpeval.inference.backend.map_tasks`); None: Dask
        when a scheduler address is given (``scheduler`` or ``$WPEVAL_DASK_SCHEDULER``),
        else serial.
    scheduler : str, optional
        Dask scheduler address (default ``$WPEVAL_DASK_SCHEDULER``, else a LocalCluster).
    n_workers : int, optional
        Local cluster workers (default: the machine's cores).
    processes : bool, default True
        Local Dask workers as processes (False: threads).
    progress : bool, default True
        Progress bar.

    Returns
    -------
    Diagnosis
    """
    alpha = check_alpha(alpha)
    names = as_list(estimators)
    unknown = [e for e in names if e not in _rep.ESTIMATORS]
    if not names or unknown:
        raise ParameterError(f"unknown estimators {unknown}; registered: {sorted(_rep.ESTIMATORS)}")
    if not isinstance(replications, (int, np.integer)) or replications < 1:
        raise ParameterError(f"replications must be a positive integer, got {replications!r}")
    cfg = complete_follow_up(config)
    contrasts = _contrasts(int(structure_seed), cfg, cpas)
    spec = {
        "n": int(n),
        "structure_seed": int(structure_seed),
        "config": cfg,
        "estimators": names,
        "contrasts": contrasts,
        "alpha": alpha,
    }
    backend = resolve_backend(backend, scheduler)
    seeds = np.random.SeedSequence(int(seed)).spawn(int(replications))
    t0 = time.perf_counter()
    arrays = map_tasks(
        _rep.run_replicate,
        spec,
        seeds,
        backend=backend,
        scheduler=scheduler,
        n_workers=n_workers,
        processes=processes,
        progress=progress,
        desc="replications",
    )
    elapsed = time.perf_counter() - t0
    draws = np.stack(arrays)  # R x estimators x contrasts x fields
    rows = _summarise(draws, names, contrasts, alpha)
    meth = _method(names, replications, n, alpha, structure_seed, seed)
    return Diagnosis(
        pd.DataFrame(rows),
        meth,
        title=f"Design diagnosis ({replications} simulated programmes)",
        extra={
            "draws": draws,
            "fields": _rep.FIELDS,
            "contrasts": contrasts,
            "estimators": names,
            "elapsed_s": round(elapsed, 2),
            "backend": backend if isinstance(backend, str) else "dask",
        },
    )
