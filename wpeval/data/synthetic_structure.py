"""Programme structure and truth of the synthetic generator (:mod:`wpeval.data.synthetic`):
districts, contract effects and allocation probabilities (independent of ``n``), the allocation
design table, and the true contract rates and contrasts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError


@dataclass(frozen=True)
class Truth:
    """True parameters of a synthetic programme.

    Attributes
    ----------
    contracts : DataFrame
        One row per contract: ``cpa, prime, log_hazard_effect`` (main effect on the log
        job-entry hazard, centred within CPA), ``p_jo_2y`` (true probability of a job outcome
        within 730 days of referral had every referral of the CPA been allocated to this
        prime), ``n_cpa`` (referrals in the CPA).
    contracts_by_group : DataFrame
        Same by payment group (``log_hazard_effect`` includes the interaction).
    contrasts : DataFrame
        Every within-CPA pair: ``cpa, prime, reference, term ("prime - reference"),
        diff_p_jo_2y, log_hr`` (conditional log hazard ratio of the main effects).
    group_rates : DataFrame
        Expected 2-year job-outcome rate by payment group under the realised allocation
        (``p_jo_2y``) over all referrals and over those with 2 years observed.
    """

    contracts: pd.DataFrame
    contracts_by_group: pd.DataFrame
    contrasts: pd.DataFrame
    group_rates: pd.DataFrame


# ------------------------------------------------------------------------------ structure
def _structure(cfg: dict, prog, rng: np.random.Generator) -> dict:
    """Districts, contract effects and allocation probabilities (independent of n)."""
    groups = list(prog.payment_groups)
    cpas = list(prog.cpas)
    # the draws, in this order, from the structure's stream
    n_d, d_cpa, d_name, size, d_eff = _districts(cfg, cpas, rng)
    k_cpa, off, con_cpa, con_prime, main, eff = _contract_effects(cfg, prog, cpas, groups, rng)
    shift_cpa, shift_grp, steps = _shifts(cfg, cpas, groups, rng)
    probs = _allocation_probs(cpas, groups, k_cpa, off, eff, shift_cpa, shift_grp, steps)
    return dict(
        groups=groups,
        cpas=cpas,
        n_d=n_d,
        d_cpa=d_cpa,
        d_name=d_name,
        size=size,
        d_eff=d_eff,
        k_cpa=k_cpa,
        off=off,
        con_cpa=con_cpa,
        con_prime=con_prime,
        main=main,
        eff=eff,
        shift_cpa=shift_cpa,
        steps=steps,
        probs=probs,
    )


def _districts(cfg: dict, cpas: list, rng: np.random.Generator):
    """Jobcentre Plus districts: number per CPA, each district's CPA, name, size and effect on
    the log job-entry hazard."""
    dc = cfg["districts"]
    lo, hi = int(dc["per_cpa_min"]), int(dc["per_cpa_max"])
    if not 1 <= lo <= hi:
        raise ParameterError("districts.per_cpa_min/max must satisfy 1 <= min <= max")
    n_d = rng.integers(lo, hi + 1, size=len(cpas))
    d_cpa = np.repeat(np.arange(len(cpas)), n_d)
    d_name = [f"{cpas[c]}-D{j + 1:02d}" for c, k in enumerate(n_d) for j in range(k)]
    size = rng.lognormal(0.0, float(dc["size_sigma"]), size=len(d_cpa))
    d_eff = rng.normal(0.0, float(dc["effect_sd"]), size=len(d_cpa))
    return n_d, d_cpa, d_name, size, d_eff


def _contract_effects(cfg: dict, prog, cpas: list, groups: list, rng: np.random.Generator):
    """Contract effects on the log job-entry hazard, centred within CPA (main effect plus
    contract x payment-group interactions; ``primes.overrides`` set main effects). Returns
    primes per CPA, each CPA's first contract, each contract's CPA and prime, the main effects
    and the contract x group effects."""
    k_cpa = np.array([len(prog.cpas[c]["primes"]) for c in cpas])
    off = np.concatenate([[0], np.cumsum(k_cpa)[:-1]])
    n_con = int(k_cpa.sum())
    pc = cfg["primes"]
    main = rng.normal(0.0, float(pc["effect_sd"]), size=n_con)
    inter = rng.normal(0.0, float(pc["group_interaction_sd"]), size=(n_con, len(groups)))
    con_cpa = np.repeat(np.arange(len(cpas)), k_cpa)
    con_prime = [p for c in cpas for p in prog.cpas[c]["primes"]]
    for c in range(len(cpas)):  # centre within CPA
        sl = slice(off[c], off[c] + k_cpa[c])
        main[sl] -= main[sl].mean()
        inter[sl] -= inter[sl].mean(axis=0)
    for key, val in (pc.get("overrides") or {}).items():
        try:
            cpa, prime = key.split("|")
            i = off[cpas.index(cpa)] + prog.cpas[cpa]["primes"].index(prime)
        except (ValueError, KeyError) as exc:
            raise ParameterError(
                f"primes.overrides: {key!r} is not 'CPA|prime' of a contract"
            ) from exc
        main[i] = float(val)
    eff = main[:, None] + inter  # contract x group
    return k_cpa, off, con_cpa, con_prime, main, eff


def _shifts(cfg: dict, cpas: list, groups: list, rng: np.random.Generator):
    """The market-share shifts: which CPAs (given, or drawn) and payment groups shift, and the
    shift steps in date order (each must start a quarter)."""
    ac = cfg["allocation"]
    if ac.get("shift_cpas") is not None:
        bad = set(ac["shift_cpas"]) - set(cpas)
        if bad:
            raise ParameterError(f"allocation.shift_cpas: unknown CPAs {sorted(bad)}")
        shift_cpa = np.isin(np.array(cpas), ac["shift_cpas"])
    else:
        pick = rng.choice(len(cpas), size=int(ac["n_shift_cpas"]), replace=False)
        shift_cpa = np.zeros(len(cpas), bool)
        shift_cpa[pick] = True
    bad = set(ac["shift_groups"]) - set(groups)
    if bad:
        raise ParameterError(f"allocation.shift_groups: unknown payment groups {sorted(bad)}")
    shift_grp = np.isin(np.array(groups), ac["shift_groups"])
    steps = sorted(ac.get("shifts") or [], key=lambda s: s["from"])
    for stp in steps:  # shares must be constant within the quarterly design strata
        if pd.Period(stp["from"], "M").month % 3 != 1:
            raise ParameterError(
                f"allocation.shifts: {stp['from']} does not start a quarter; "
                "shifts must start in Jan, Apr, Jul or Oct"
            )
    return shift_cpa, shift_grp, steps


def _allocation_probs(cpas, groups, k_cpa, off, eff, shift_cpa, shift_grp, steps) -> np.ndarray:
    """Allocation probabilities ``probs[cpa, group, step, slot]``: equal shares, then in the
    shifted CPAs and groups the stronger prime gains the steps' points from the weaker."""
    probs = np.zeros((len(cpas), len(groups), len(steps) + 1, 3))
    for c in range(len(cpas)):
        k = k_cpa[c]
        for g in range(len(groups)):
            base = np.full(k, 1.0 / k)
            e = eff[off[c] : off[c] + k, g]
            for s in range(len(steps) + 1):
                p = base.copy()
                if s > 0 and shift_cpa[c] and shift_grp[g]:
                    pts = sum(float(st["points"]) for st in steps[:s])
                    p[np.argmax(e)] += pts
                    p[np.argmin(e)] -= pts
                if p.min() <= 0:
                    raise ParameterError("allocation.shifts move more than a prime's share")
                probs[c, g, s, :k] = p
    return probs


def _truth(st, prog, c, g, p_slot, p_own, observed_2y, groups) -> Truth:
    cpas = st["cpas"]
    rows, rows_g = [], []
    n_c = np.bincount(c, minlength=len(cpas))
    for ci, cpa in enumerate(cpas):
        in_c = c == ci
        gi = g[in_c]
        for j, prime in enumerate(prog.cpas[cpa]["primes"]):
            k = st["off"][ci] + j
            pj = p_slot[in_c, j]
            rows.append(
                {
                    "cpa": cpa,
                    "prime": prime,
                    "log_hazard_effect": st["main"][k],
                    "p_jo_2y": float(pj.mean()) if len(pj) else np.nan,
                    "n_cpa": int(n_c[ci]),
                }
            )
            sums = np.bincount(gi, weights=pj, minlength=len(groups))
            cnt = np.bincount(gi, minlength=len(groups))
            for gg, code in enumerate(groups):
                rows_g.append(
                    {
                        "cpa": cpa,
                        "prime": prime,
                        "payment_group": code,
                        "log_hazard_effect": st["eff"][k, gg],
                        "p_jo_2y": sums[gg] / cnt[gg] if cnt[gg] else np.nan,
                        "n_cpa_group": int(cnt[gg]),
                    }
                )
    contracts = pd.DataFrame(rows)
    contrasts = []
    for cpa, sub in contracts.groupby("cpa", sort=False):
        recs = sub.to_dict("records")
        for a in range(len(recs)):
            for b in range(a + 1, len(recs)):
                ra, rb = recs[a], recs[b]
                contrasts.append(
                    {
                        "cpa": cpa,
                        "prime": ra["prime"],
                        "reference": rb["prime"],
                        "term": f"{ra['prime']} - {rb['prime']}",
                        "diff_p_jo_2y": ra["p_jo_2y"] - rb["p_jo_2y"],
                        "log_hr": ra["log_hazard_effect"] - rb["log_hazard_effect"],
                    }
                )
    cnt_all = np.bincount(g, minlength=len(groups))
    cnt_obs = np.bincount(g[observed_2y], minlength=len(groups))
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = pd.DataFrame(
            {
                "payment_group": groups,
                "p_jo_2y": np.bincount(g, weights=p_own, minlength=len(groups)) / cnt_all,
                "p_jo_2y_observed": np.bincount(
                    g[observed_2y], weights=p_own[observed_2y], minlength=len(groups)
                )
                / cnt_obs,
                "n": cnt_all,
                "n_observed": cnt_obs,
            }
        )
    tot = {
        "payment_group": "all",
        "p_jo_2y": p_own.mean(),
        "p_jo_2y_observed": p_own[observed_2y].mean() if observed_2y.any() else np.nan,
        "n": len(g),
        "n_observed": int(observed_2y.sum()),
    }
    rates = pd.concat([rates, pd.DataFrame([tot])], ignore_index=True)
    return Truth(
        contracts=contracts,
        contracts_by_group=pd.DataFrame(rows_g),
        contrasts=pd.DataFrame(contrasts),
        group_rates=rates,
    )


def _design_table(st, prog, first, n_months, district_cats) -> pd.DataFrame:
    """Allocation probability of every district x quarter x group x prime."""
    quarters = pd.period_range(first.asfreq("Q"), (first + n_months - 1).asfreq("Q"), freq="Q")
    step_from = [pd.Period(s["from"], "M") for s in st["steps"]]
    recs = []
    for q in quarters:
        qm = q.asfreq("M", how="start")
        s = sum(1 for f in step_from if f <= qm)
        for di, dname in enumerate(st["d_name"]):
            ci = st["d_cpa"][di]
            cpa = st["cpas"][ci]
            for gi, code in enumerate(st["groups"]):
                for j, prime in enumerate(prog.cpas[cpa]["primes"]):
                    recs.append((dname, cpa, str(q), code, prime, st["probs"][ci, gi, s, j]))
    return pd.DataFrame(
        recs, columns=["district", "cpa", "period", "payment_group", "prime", "allocation_prob"]
    )
