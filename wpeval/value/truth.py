"""True payment differences of the synthetic programme, for checking value-for-money estimators.

:func:`wpeval.make_programme` exposes the true probability of a job outcome within 730 days of
referral for every contract and payment group (``truth.contracts_by_group``). This module adds
the matching **true difference in payments per referral** between two primes of a CPA, for the
payments that belong to those outcomes, in closed form:

``dC(A, B) = sum_g w_g (p_g(A) - p_g(B)) (F_g + s_g E[S_g])``

- ``w_g``: share of the CPA's referrals in payment group g; ``p_g(j)``: true 2-year outcome
  probability under prime j (finite-population average over the CPA's referrals of group g);
- ``F_g``, ``s_g``: the tariff's job-outcome fee and fee per sustainment payment (after the
  contracts' common bid discount, rounded to pence as :func:`wpeval.payments` does);
- ``E[S_g]``: expected number of sustainment payments given an outcome. In the generator a
  first job lasts ``D = floor(scale_g W)`` days, ``W ~ Weibull(shape)``, the outcome comes at
  day ``T_g = 7 x trigger weeks`` of the job and ``S = min(floor((D - T_g) / 28), cap_g)``, so
  ``P(S >= k | D >= T_g) = exp((T_g/scale_g)^shape - ((T_g + 28k)/scale_g)^shape)`` and
  ``E[S_g] = sum_{k=1}^{cap_g} P(S >= k | D >= T_g)``. Job length does not depend on the
  prime, so only the outcome probability carries the prime effect.

Attachment fees do not depend on the prime (attachment is drawn before allocation matters), so
they add nothing to the expected difference. The closed form holds when nothing is censored
by the extract: the data end must fall at least ``730 + 28 x cap`` days after the last
referral (pass e.g. ``config={"calendar": {"data_end_date": "2035-12-31"}}``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.data import programme as _programme
from wpeval.exceptions import ParameterError
from wpeval.payments import load_tariff

__all__ = ["expected_sustainment_payments", "true_incremental_cost"]

TWO_YEARS = 730
SUSTAINMENT_DAYS = 28


def expected_sustainment_payments(
    trigger_days: float, scale_days: float, shape: float, cap: int
) -> float:
    """E[S] for a Weibull job length given that it reached the job-outcome trigger.

    Parameters
    ----------
    trigger_days : float
        Days in work that trigger the job outcome (7 x trigger weeks).
    scale_days, shape : float
        Weibull scale (days) and shape of the job length.
    cap : int
        Most sustainment payments paid.

    Returns
    -------
    float
        ``sum_{k=1}^{cap} exp((T/scale)^shape - ((T + 28 k)/scale)^shape)``.
    """
    k = np.arange(1, int(cap) + 1)
    t0 = (trigger_days / scale_days) ** shape
    return float(np.sum(np.exp(t0 - ((trigger_days + SUSTAINMENT_DAYS * k) / scale_days) ** shape)))


def _check_uncensored(prog, caps) -> None:
    ref = prog.referrals
    end = pd.Timestamp(prog.config["calendar"]["data_end_date"])
    need = ref["referral_date"].max() + pd.Timedelta(
        days=TWO_YEARS + SUSTAINMENT_DAYS * int(max(caps))
    )
    if end < need:
        raise ParameterError(
            f"the extract ends {end.date()}, before {need.date()}: outcomes "
            "or sustainment payments are censored and the closed form does "
            "not hold; generate with a later calendar.data_end_date"
        )


def true_incremental_cost(prog, cpa: str, prime: str, reference: str, tariff=None) -> dict:
    """True differences in outcomes and payments per referral between two primes of a CPA.

    Parameters
    ----------
    prog : SyntheticProgramme
        From :func:`wpeval.make_programme` with an extract date late enough that nothing is
        censored (see the module docstring).
    cpa, prime, reference : str
        The CPA and the two primes (estimate = prime - reference).
    tariff : optional
        As for :func:`wpeval.payments`; the two contracts must have the same discount and the
        job-outcome and sustainment fees must not change with the contract year.

    Returns
    -------
    dict
        ``d_effect`` (true difference in the 730-day job-outcome probability), ``d_cost``
        (true difference in payments per referral for those outcomes), ``ratio``
        (``d_cost / d_effect``) and ``by_group`` (a DataFrame of the terms).
    """
    tar = load_tariff(tariff)
    prog_facts = _programme.load()
    cfg = prog.config
    shape = float(cfg["retention"]["shape"])
    disc = {j: tar.discounts.get((cpa, j), tar.default_discount) for j in (prime, reference)}
    if disc[prime] != disc[reference]:
        raise ParameterError("the two contracts have different discounts; not supported")
    mult = 1.0 - disc[prime]
    tb = prog.truth.contracts_by_group
    sub = tb[tb["cpa"] == cpa]
    rows, caps = [], []
    for g, grp in sub.groupby("payment_group", sort=False):
        pa = grp.loc[grp["prime"] == prime, "p_jo_2y"]
        pb = grp.loc[grp["prime"] == reference, "p_jo_2y"]
        if pa.empty or pb.empty:
            raise ParameterError(f"{cpa} has no primes {prime!r} and {reference!r}")
        n_g = int(grp["n_cpa_group"].iloc[0])
        if n_g == 0:
            continue
        fees = {}
        for item in ("job_outcome", "sustainment_fee", "sustainment_cap"):
            vals = {tar.value(g, item, y)[0] for y in range(1, 8)}
            if len(vals) != 1:
                raise ParameterError(f"tariff item {item} of {g} changes by contract year")
            fees[item] = vals.pop()
        cap = int(min(fees["sustainment_cap"], prog_facts.payment_groups[g].sustainment_cap))
        caps.append(cap)
        trig = 7 * prog_facts.payment_groups[g].jo_trigger_weeks
        scale = float(cfg["retention"]["scale_days"]) * float(cfg["groups"][g]["retention"])
        es = expected_sustainment_payments(trig, scale, shape, cap)
        per_outcome = (
            round(fees["job_outcome"] * mult, 2) + round(fees["sustainment_fee"] * mult, 2) * es
        )
        rows.append(
            {
                "payment_group": g,
                "n": n_g,
                "p_prime": float(pa.iloc[0]),
                "p_reference": float(pb.iloc[0]),
                "expected_sustainment": es,
                "paid_per_outcome": per_outcome,
            }
        )
    _check_uncensored(prog, caps or [0])
    by = pd.DataFrame(rows)
    w = by["n"] / by["n"].sum()
    dp = by["p_prime"] - by["p_reference"]
    d_effect = float(np.sum(w * dp))
    d_cost = float(np.sum(w * dp * by["paid_per_outcome"]))
    return {
        "d_effect": d_effect,
        "d_cost": d_cost,
        "ratio": d_cost / d_effect if d_effect != 0 else np.nan,
        "by_group": by,
    }
