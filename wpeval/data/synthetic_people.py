"""The steps of :func:`wpeval.data.synthetic.make_programme` that draw the individuals.

The calendar of referral months, then (in this order, from one ``numpy.random.Generator``)
the referrals and their allocation, the covariates, the attachment and event times, the first
job; then the referral frame of the data contract and the true outcome probabilities of each
person under each prime of the CPA. The draw order is part of the generator's output: a given
seed gives the same frame only while the steps draw in the same order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.data.synthetic_config import (
    _days_to_dt,
    _draw_cat,
    _entry_time,
    _group_mix,
    _month_index,
    _month_weights,
    _p_outcome,
)
from wpeval.exceptions import ParameterError

STREAMS = ["job_ready", "needs_support", "furthest_from_work"]
COLUMNS = [
    "person_id",
    "referral_date",
    "cpa",
    "district",
    "prime",
    "payment_group",
    "attached",
    "attachment_date",
    "job_start_date",
    "job_outcome_date",
    "job_end_date",
    "exit_date",
    "data_end_date",
    "sustainment_payments",
    "age",
    "sex",
    "disability",
    "benefit_duration_days",
    "assessed_stream",
    "allocation_prob",
]
WINDOW_DAYS = 728  # 104 weeks attached
TWO_YEARS = 730


def _calendar(cfg: dict) -> tuple[pd.Period, int, int, np.ndarray]:
    """The referral months: first month, extract day (days since 1970), number of months and the
    first day of each month (the last entry capped at the day after the extract)."""
    cal = cfg["calendar"]
    first = pd.Period(cal["first_referral_month"], "M")
    data_end_ts = pd.Timestamp(cal["data_end_date"])
    data_end = int(np.datetime64(data_end_ts.date(), "D").astype(np.int64))
    # no referral after the extract: an earlier data_end_date cuts the last cohorts
    last = min(pd.Period(cal["last_referral_month"], "M"), data_end_ts.to_period("M"))
    n_months = int((last - first).n) + 1
    if n_months < 1:
        raise ParameterError(
            "calendar: last_referral_month (or data_end_date) is before first_referral_month"
        )
    month_start = np.array(
        [np.datetime64((first + i).start_time.date(), "D") for i in range(n_months + 1)]
    ).astype(np.int64)
    month_start[-1] = min(month_start[-1], data_end + 1)
    return first, data_end, n_months, month_start


def _draw_referrals(rng, cfg, st, groups, n, first, n_months, month_start) -> dict:
    """Step 1: referral dates (sorted), payment group, district, CPA and the prime allocated."""
    counts = rng.multinomial(n, _month_weights(cfg, first, n_months))
    month = np.repeat(np.arange(n_months), counts)
    span = month_start[month + 1] - month_start[month]
    ref_day = month_start[month] + np.floor(rng.random(n) * span).astype(np.int64)
    ref_day.sort()
    g = _draw_cat(rng, np.cumsum(_group_mix(cfg, groups, first, n_months), axis=1)[month])
    dsize = st["size"] / st["size"].sum()
    d = np.minimum(np.searchsorted(np.cumsum(dsize), rng.random(n), side="right"), len(dsize) - 1)
    c = st["d_cpa"][d]
    step_from = np.array([_month_index(s["from"], first) for s in st["steps"]], int)
    step = np.searchsorted(step_from, month, side="right")
    p_rows = st["probs"][c, g, step]  # n x 3
    slot = _draw_cat(rng, np.cumsum(p_rows, axis=1))
    return {
        "month": month,
        "ref_day": ref_day,
        "g": g,
        "dsize": dsize,
        "d": d,
        "c": c,
        "slot": slot,
        "alloc_prob": p_rows[np.arange(n), slot],
        "con": st["off"][c] + slot,
    }


def _draw_covariates(rng, cfg, ga, g, n) -> dict:
    """Step 2: age, sex, disability, benefit duration, latent employability ``u``, the
    covariates' part of the log hazard ``x_lp`` and the provider's assessed stream."""
    amin, amax, aa, ab = (ga["age"][g, i] for i in range(4))
    age = np.floor(amin + (amax - amin + 1) * rng.beta(aa, ab)).astype(np.int64)
    age = np.minimum(age, amax.astype(np.int64))
    male = rng.random(n) < ga["male"][g]
    disabled = rng.random(n) < ga["disabled"][g]
    bd = (ga["bd"][g, 0] + rng.gamma(1.5, ga["bd"][g, 1] / 1.5)).astype(np.int64)
    hz = cfg["hazard"]
    u = rng.normal(0.0, float(hz["frailty_sd"]), n)
    x_lp = (
        float(hz["age_per_decade"]) * (age - 40) / 10
        + float(hz["disability"]) * disabled
        + float(hz["male"]) * male
        + float(hz["benefit_log_years"]) * np.log(np.maximum(bd, 1) / 365.0)
    )
    sc = cfg["streams"]
    score = (
        x_lp + u + rng.normal(0.0, float(sc["noise_sd"]), n) + float(sc["esa_shift"]) * ga["esa"][g]
    )
    stream = np.where(
        score > float(sc["cut_job_ready"]),
        0,
        np.where(score > float(sc["cut_needs_support"]), 1, 2),
    )
    return {
        "age": age,
        "male": male,
        "disabled": disabled,
        "bd": bd,
        "u": u,
        "x_lp": x_lp,
        "stream": stream,
    }


def _draw_spells(rng, cfg, st, ga, p, n, first, data_end) -> dict:
    """Step 3: attachment, the hazards of job entry and of other exit, and the first job start
    and benefit exit inside the 104 weeks (or the extract); never-attached referrals may leave
    benefit soon after referral."""
    g, month, ref_day = p["g"], p["month"], p["ref_day"]
    hz, ac = cfg["hazard"], cfg["attachment"]
    flat = max(1, _month_index(hz["cohort_flat_month"], first))
    cohort = float(hz["cohort_start"]) * np.maximum(1 - month / flat, 0)
    base_lp = ga["log_rate"][g] + cohort + st["d_eff"][p["d"]] + p["x_lp"] + p["u"]
    lam = np.exp(base_lp + st["eff"][p["con"], g]) / 365.0
    mu = ga["exit_rate"][g] / 365.0
    never = rng.random(n) < ga["never"][g]
    delay = (
        int(ac["delay_min_days"])
        + np.floor(
            rng.gamma(
                float(ac["delay_shape"]), float(ac["delay_mean_days"]) / float(ac["delay_shape"]), n
            )
        )
    ).astype(np.int64)
    att_day = ref_day + delay
    attached = ~never & (att_day <= data_end)
    t0, a_early = float(hz["early_days"]), float(hz["early_multiplier"])
    t_job = _entry_time(rng.exponential(1.0, n), lam, t0, a_early)
    t_exit = rng.exponential(1.0, n) / mu
    follow = np.minimum(WINDOW_DAYS, data_end - att_day)
    job_off = np.floor(np.minimum(t_job, 1e6)).astype(np.int64)
    exit_off = np.floor(np.minimum(t_exit, 1e6)).astype(np.int64)
    has_job = attached & (t_job < t_exit) & (job_off <= follow)
    has_exit = attached & (t_exit <= t_job) & (exit_off <= follow)
    exit_day = att_day + exit_off
    # never-attached: some leave benefit soon after referral
    ne = never & (rng.random(n) < float(ac["never_attached_exit"]))
    ne_day = (
        ref_day
        + 7
        + np.floor(rng.random(n) * (int(ac["never_attached_exit_max_days"]) - 6)).astype(np.int64)
    )
    ne &= ne_day <= data_end
    return {
        "base_lp": base_lp,
        "mu": mu,
        "delay": delay,
        "att_day": att_day,
        "attached": attached,
        "t0": t0,
        "a_early": a_early,
        "job_off": job_off,
        "has_job": has_job,
        "job_day": att_day + job_off,
        "has_exit": has_exit | ne,
        "exit_day": np.where(ne, ne_day, exit_day),
    }


def _draw_first_jobs(rng, cfg, ga, p, n, data_end) -> dict:
    """Step 4: first-job duration (Weibull), job outcome at the group's trigger and the
    sustainment payments up to the group's cap and the extract date."""
    g, job_day, has_job = p["g"], p["job_day"], p["has_job"]
    rc = cfg["retention"]
    scale_g = float(rc["scale_days"]) * ga["retention"]
    dur = np.floor(scale_g[g] * rng.weibull(float(rc["shape"]), n)).astype(np.int64)
    end_day = job_day + dur
    trig_days = 7 * ga["trig"][g]
    out_day = job_day + trig_days
    has_out = (
        has_job
        & (dur >= trig_days)
        & (p["job_off"] + trig_days <= WINDOW_DAYS)
        & (out_day <= data_end)
    )
    has_end = has_job & (end_day <= data_end)
    sus = np.where(has_out, (np.minimum(end_day, data_end) - out_day) // 28, 0)
    sus = np.clip(sus, 0, ga["cap"][g]).astype(np.int64)
    return {
        "scale_g": scale_g,
        "trig_days": trig_days,
        "end_day": end_day,
        "out_day": out_day,
        "has_out": has_out,
        "has_end": has_end,
        "sus": sus,
    }


def _referral_frame(p, st, cpas, groups, n, data_end, district_cats) -> pd.DataFrame:
    """Step 5: the referral-level frame with the columns of the data contract."""
    prime_cats = sorted(set(st["con_prime"]))
    con_prime_code = np.array([prime_cats.index(x) for x in st["con_prime"]])
    d_code = np.array([district_cats.index(x) for x in st["d_name"]])
    cat = pd.Categorical.from_codes
    return pd.DataFrame(
        {
            "person_id": np.arange(1, n + 1, dtype=np.int64),
            "referral_date": _days_to_dt(p["ref_day"]),
            "cpa": cat(p["c"], categories=cpas),
            "district": cat(d_code[p["d"]], categories=district_cats),
            "prime": cat(con_prime_code[p["con"]], categories=prime_cats),
            "payment_group": cat(p["g"], categories=groups),
            "attached": p["attached"],
            "attachment_date": _days_to_dt(p["att_day"], p["attached"]),
            "job_start_date": _days_to_dt(p["job_day"], p["has_job"]),
            "job_outcome_date": _days_to_dt(p["out_day"], p["has_out"]),
            "job_end_date": _days_to_dt(p["end_day"], p["has_end"]),
            "exit_date": _days_to_dt(p["exit_day"], p["has_exit"]),
            "data_end_date": _days_to_dt(np.full(n, data_end, dtype=np.int64)),
            "sustainment_payments": p["sus"],
            "age": p["age"],
            "sex": cat(p["male"].astype(np.int8), categories=["F", "M"]),
            "disability": p["disabled"],
            "benefit_duration_days": p["bd"],
            "assessed_stream": cat(p["stream"], categories=STREAMS),
            "allocation_prob": p["alloc_prob"],
        },
        columns=COLUMNS,
    )


def _outcome_probs(p, st, ga, cfg, n) -> np.ndarray:
    """Step 6: each person's closed-form probability of a job outcome within two years under
    each prime (slot) of the CPA, ``n x 3`` (NaN where the CPA has fewer primes)."""
    g, c = p["g"], p["c"]
    tau = np.minimum(WINDOW_DAYS, TWO_YEARS - p["delay"]) - p["trig_days"] + 1
    s_trig = np.exp(-((p["trig_days"] / p["scale_g"][g]) ** float(cfg["retention"]["shape"])))
    lam0 = np.exp(p["base_lp"]) / 365.0
    p_slot = np.full((n, 3), np.nan)
    for j in range(3):
        ok = j < st["k_cpa"][c]
        cj = np.where(ok, st["off"][c] + j, 0)
        pj = _p_outcome(
            lam0 * np.exp(st["eff"][cj, g]),
            p["mu"],
            tau,
            ga["never"][g],
            s_trig,
            p["t0"],
            p["a_early"],
        )
        p_slot[ok, j] = pj[ok]
    return p_slot
