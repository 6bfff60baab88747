"""Simulation of one programme for a design-diagnosis replication
(:mod:`wpeval.inference.replicate`): the generator's programme with the diagnosis columns
derived, and its allocation table."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: the outcome of the diagnosis: a job outcome within this many days of referral, the
#: horizon of the generator's truth (``Truth.contrasts.diff_p_jo_2y``)
OUTCOME_DAYS = 730


def _days(col: pd.Series) -> np.ndarray:
    """Days since 1970 (NaT -> a large sentinel)."""
    v = col.to_numpy(dtype="datetime64[D]").astype(np.int64)
    return np.where(col.isna().to_numpy(), np.iinfo(np.int64).max // 4, v)


def _prob_table(prog, district_cats, quarter0: int, n_q: int):
    """P[district, quarter, group, prime-of-CPA slot] from the generator's design table."""
    d = prog.design
    dist = pd.Categorical(d["district"], categories=district_cats).codes
    pcode, plabels = pd.factorize(d["period"])  # parse each distinct quarter once
    q = pd.PeriodIndex(list(plabels), freq="Q").asi8[pcode] - quarter0
    groups = list(prog.referrals["payment_group"].cat.categories)
    g = pd.Categorical(d["payment_group"], categories=groups).codes
    primes = list(prog.referrals["prime"].cat.categories)
    pr = pd.Categorical(d["prime"], categories=primes).codes
    P = np.zeros((len(district_cats), n_q, len(groups), len(primes)))
    P[dist, q, g, pr] = d["allocation_prob"].to_numpy()
    return P


def simulate(spec: dict, ss: np.random.SeedSequence):
    """One programme of the design (structure from ``spec["structure_seed"]``, individuals from
    ``ss``) with the diagnosis columns derived."""
    from wpeval.data.synthetic import make_programme

    prog = make_programme(int(spec["n"]), int(spec["structure_seed"]), spec["config"], replicate=ss)
    r = prog.referrals
    ref = _days(r["referral_date"])
    out = _days(r["job_outcome_date"])
    att = _days(r["attachment_date"])
    job = _days(r["job_start_date"])
    ext = _days(r["exit_date"])
    end = _days(r["data_end_date"])
    months = r["referral_date"].to_numpy(dtype="datetime64[M]").astype(np.int64)
    quarter = months // 3
    q0 = int(quarter.min())
    # job entry from attachment: event if the first job starts before any other exit,
    # within the 104 weeks and the extract (cause-specific hazard; other exits censor)
    horizon = np.minimum(att + 728, end)
    t_end = np.minimum(np.minimum(job, ext), horizon)
    frame = pd.DataFrame(
        {
            "y": (out - ref <= OUTCOME_DAYS).astype(float),
            "entry_days": np.maximum(t_end - att, 0).astype(float),
            "entry_event": ((job <= ext) & (job <= horizon)).astype(np.int8),
            "attached": r["attached"].to_numpy(),
            "age": r["age"].to_numpy(dtype=float),
            "disability": r["disability"].to_numpy(dtype=float),
            "male": (r["sex"] == "M").to_numpy(dtype=float),
        }
    )
    return prog, frame, quarter - q0, q0
