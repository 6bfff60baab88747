"""Synthetic referral-level data for a Work-Programme-like payment-by-results programme.

:func:`make_programme` simulates one row per referral with the columns of the data contract
(:mod:`wpeval.data.schema`), calibrated to the published facts in ``domain.md`` (see
``wpeval/config/synthetic.yaml``, where every parameter is documented), together with the
allocation design and the *true* prime effects, so that every estimator in the kit can be
checked against a known answer.

Model (all vectorised; one ``numpy.random.Generator(PCG64)`` stream for the programme
structure, which does not depend on ``n``, and one for the individuals):

1. Structure: the 18 CPAs and 40 contracts of :func:`wpeval.data.programme.load`, 2-4 Jobcentre
   Plus districts per CPA with unequal sizes and district effects, contract effects on the
   log job-entry hazard (plus small contract x payment-group interactions), and the CPAs
   with a market-share shift.
2. Referral month from the intake curve, day uniform in the month; payment group from the
   month's mix (ESA share rising from ~3% to ~1/3); district from the district sizes.
3. Random allocation within district x quarter x payment group: equal shares, then from the
   shift month the stronger prime (by true effect for that group) gains ``points`` from the
   weaker one. ``allocation_prob`` records the probability of the prime received.
4. Covariates by group; latent employability ``u``; the provider's ``assessed_stream``.
5. A few % never attach (they remain referrals: intention to treat). For the attached,
   constant individual hazards of job entry ``lambda_i`` and of other exit ``mu_g``
   (competing risks), clocked from attachment and censored at 104 weeks / the extract date;
   the job-entry hazard is reduced by ``early_multiplier`` in the first ``early_days`` after
   attachment (providers' initial assessment period), so it is piecewise constant.
6. First-job duration: Weibull (25% of jobs end within 13 weeks, 40% within 26). A job outcome
   is achieved when the first job lasts the group's trigger (13 or 26 weeks) inside the 104
   weeks; ``job_outcome_date = job_start + trigger``; sustainment payments = further full
   4-week periods in work, up to the group's cap and the extract date.

Truth: because individual hazards are piecewise constant, the probability of a job outcome within
730 days of referral has the closed form
``P_i(c) = (1 - never_g) * P(job start before tau_i and before exit) * S_D(7 * trigger_g)``
(see :func:`_p_outcome` for the piecewise-exponential formula) with ``lambda = lambda_i(c)``
the hazard had person i been allocated to contract c and
``tau_i = min(728, 730 - delay_i) - 7 * trigger_g + 1`` (the last job-start day that still
gives an outcome by day 730, counted on the day grid used by the simulation). The true
2-year job-outcome rate of contract c is the mean of ``P_i(c)`` over the referrals of its CPA
(a finite-population average of potential-outcome probabilities), so true within-CPA
contrasts are exact, with no Monte Carlo error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from wpeval.data import programme as _programme
from wpeval.data.synthetic_config import (  # noqa: F401 - re-exported
    _days_to_dt,
    _draw_cat,
    _entry_time,
    _group_arrays,
    _group_mix,
    _merge,
    _month_index,
    _month_weights,
    _p_outcome,
    load_config,
)
from wpeval.data.synthetic_people import (  # noqa: F401 - re-exported
    COLUMNS,
    STREAMS,
    TWO_YEARS,
    WINDOW_DAYS,
    _calendar,
    _draw_covariates,
    _draw_first_jobs,
    _draw_referrals,
    _draw_spells,
    _outcome_probs,
    _referral_frame,
)
from wpeval.data.synthetic_structure import Truth, _design_table, _structure, _truth  # noqa: F401 - re-exported
from wpeval.exceptions import ParameterError

DEFAULT_SEED = 20110601


@dataclass(frozen=True)
class SyntheticProgramme:
    """Result of :func:`make_programme`.

    Attributes
    ----------
    referrals : DataFrame
        One row per referral, the data contract columns (see :mod:`wpeval.data.schema`).
    design : DataFrame
        The allocation design: ``district, cpa, period, payment_group, prime, allocation_prob``
        for every district x quarter x payment group x prime of the CPA.
    districts : DataFrame
        ``district, cpa, size_share, effect`` (effect on the log job-entry hazard).
    truth : Truth
        True prime effects and rates.
    seed : int
    config : dict
        The full configuration used (defaults merged with the user's).
    programme : wpeval.data.programme.Programme
        The programme of the data: by default the real payment groups and CPAs with invented
        prime names (:func:`wpeval.data.programme.fictional`); pass it to
        :func:`wpeval.data.schema.validate` (``programme=``).
    """

    referrals: pd.DataFrame
    design: pd.DataFrame
    districts: pd.DataFrame
    truth: Truth
    seed: int
    config: dict = field(repr=False)
    programme: object = field(default=None, repr=False)


# ------------------------------------------------------------------------------ generator
def make_programme(
    n_referrals: int,
    seed: int = DEFAULT_SEED,
    config: str | Path | Mapping | None = None,
    *,
    programme: "_programme.Programme | str | Path | None" = None,
    replicate: np.random.SeedSequence | int | None = None,
) -> SyntheticProgramme:
    """Simulate a Work-Programme-like referral-level data set with known truth.

    Parameters
    ----------
    n_referrals : int
        Number of referrals (rows), >= 1.
    seed : int, default 20110601
        Seed of ``numpy.random.PCG64``; same seed + config gives an identical frame.
    config : path, mapping or None
        Overrides of ``wpeval/config/synthetic.yaml`` (see :func:`load_config`).
    programme : Programme, path or None
        The CPAs and primes to simulate. Default: the GB Work Programme's structure with
        invented prime names (``Prime A``, ``Prime B``... within each CPA, see
        :func:`wpeval.data.programme.fictional`): synthetic data never carry the names of real
        providers. A programme passed here is renamed the same way unless it is already
        fictional.
    replicate : numpy SeedSequence or int, optional
        Seed of the individuals only. The programme structure (districts, contract effects,
        shifted CPAs) still comes from ``seed``, so replicates of one design differ only in
        who is referred, allocated and employed (used by the design diagnosis,
        :func:`wpeval.inference.diagnosis.diagnose`). Default: derived from ``seed``.

    Returns
    -------
    SyntheticProgramme
        ``.referrals``, ``.design``, ``.districts``, ``.truth``, ``.seed``, ``.config``.
    """
    if not isinstance(n_referrals, (int, np.integer)) or n_referrals < 1:
        raise ParameterError(f"n_referrals must be a positive integer, got {n_referrals!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    cfg = load_config(config)
    prog = _programme.fictional(
        programme if isinstance(programme, _programme.Programme) else _programme.load(programme)
    )
    n = int(n_referrals)
    ss_struct, ss_people = np.random.SeedSequence(int(seed)).spawn(2)
    if replicate is not None:
        ss_people = (
            replicate
            if isinstance(replicate, np.random.SeedSequence)
            else np.random.SeedSequence(int(replicate))
        )
    st = _structure(cfg, prog, np.random.Generator(np.random.PCG64(ss_struct)))
    rng = np.random.Generator(np.random.PCG64(ss_people))
    groups, cpas = st["groups"], st["cpas"]
    ga = _group_arrays(cfg, prog, groups)

    first, data_end, n_months, month_start = _calendar(cfg)
    # the draws, in this order, from the individuals' stream
    people = _draw_referrals(rng, cfg, st, groups, n, first, n_months, month_start)
    people |= _draw_covariates(rng, cfg, ga, people["g"], n)
    people |= _draw_spells(rng, cfg, st, ga, people, n, first, data_end)
    people |= _draw_first_jobs(rng, cfg, ga, people, n, data_end)

    district_cats = sorted(st["d_name"])
    ref = _referral_frame(people, st, cpas, groups, n, data_end, district_cats)
    p_slot = _outcome_probs(people, st, ga, cfg, n)
    c, g, slot = people["c"], people["g"], people["slot"]
    p_own = p_slot[np.arange(n), slot]
    observed_2y = people["ref_day"] + TWO_YEARS <= data_end
    truth = _truth(st, prog, c, g, p_slot, p_own, observed_2y, groups)
    design = _design_table(st, prog, first, n_months, district_cats)
    districts = pd.DataFrame(
        {
            "district": st["d_name"],
            "cpa": [cpas[i] for i in st["d_cpa"]],
            "size_share": people["dsize"],
            "effect": st["d_eff"],
        }
    )
    ref.attrs[_programme.SYNTHETIC_ATTR] = synthetic_marker(n, int(seed))
    return SyntheticProgramme(
        referrals=ref,
        design=design,
        districts=districts,
        truth=truth,
        seed=int(seed),
        config=cfg,
        programme=prog,
    )


def synthetic_marker(n: int, seed: int) -> dict:
    """The marker carried by generated data (``DataFrame.attrs`` and Parquet metadata):
    which generator, seed and size, and that the prime names are invented."""
    return {
        "generator": "wpeval.data.synthetic.make_programme",
        "n": int(n),
        "seed": int(seed),
        "names": "fictional",
    }


# ------------------------------------------------------------------------------ calibration
def calibrate(
    n: int = 400_000,
    seed: int = DEFAULT_SEED,
    config: str | Path | Mapping | None = None,
    iterations: int = 6,
) -> dict:
    """Find each group's ``log_rate`` that gives its ``target_2y`` 2-year job-outcome rate.

    The expected 2-year rate among referrals with 2 years observed is computed in closed form
    (see the module docstring) on a simulated sample; each group's rate is monotone in its
    baseline log hazard, so a secant iteration on ``cloglog(rate) - cloglog(target)`` (first
    step with slope 1) converges in a few steps. Used to set the defaults in
    ``synthetic.yaml``; not called by :func:`make_programme`.

    Returns
    -------
    dict
        ``{group: log_rate}`` (rounded to 4 decimals).
    """
    cfg = load_config(config)
    cll = lambda p: np.log(-np.log1p(-np.clip(p, 1e-9, 1 - 1e-9)))  # noqa: E731
    hist: dict[str, list] = {code: [] for code in cfg["groups"]}
    for _ in range(iterations):
        rates = make_programme(n, seed, cfg).truth.group_rates.set_index("payment_group")
        for code, gc in cfg["groups"].items():
            f = cll(float(rates.loc[code, "p_jo_2y_observed"])) - cll(float(gc["target_2y"]))
            x = float(gc["log_rate"])
            hist[code].append((x, f))
            slope = 1.0
            if len(hist[code]) > 1:
                (x0, f0), (x1, f1) = hist[code][-2:]
                if abs(x1 - x0) > 1e-9 and (f1 - f0) / (x1 - x0) > 0.05:
                    slope = (f1 - f0) / (x1 - x0)
            gc["log_rate"] = x - f / slope
    return {code: round(float(gc["log_rate"]), 4) for code, gc in cfg["groups"].items()}


def write_sample(
    path: str | Path, n: int, seed: int = DEFAULT_SEED, config: str | Path | Mapping | None = None
) -> Path:
    """Generate ``n`` referrals and write them as Parquet (deterministic bytes).

    Parameters
    ----------
    path : str or Path
        Output file, must end in ``.parquet``.
    n : int
        Number of referrals.
    seed : int, default 20110601
        Generator seed.
    config : path, mapping or None
        Generator configuration overrides.

    Returns
    -------
    Path
        The file written.
    """
    from wpeval.data.io import write_parquet

    path = Path(path)
    if path.suffix != ".parquet":
        raise ParameterError(f"write_sample writes Parquet; {path} does not end in .parquet")
    prog = make_programme(n, seed, config)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(prog.referrals, path)  # carries the synthetic marker (Parquet metadata)
    return path
