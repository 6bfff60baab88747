"""Sensitivity of the cost per additional job outcome, and headline sentences.

:func:`sensitivity` recomputes :func:`wpeval.value.costs.deadweight` (programme total)
with one assumption moved at a time, low and high:

- the non-intervention baseline, for all groups together and for each payment group
  (default x0.5 and x1.5);
- every tariff value with status **U** that the data use (default x0.75 and x1.25; the
  sustainment cap is rounded to whole payments), including the attachment phase-down shares.

Only the cost per additional outcome is needed per scenario, so the work that does not depend
on the moved value is done once (:class:`_Sweep`): the baseline cell of every referral, and
the payment cell (the engine's inputs that fix a referral's amounts). A tariff scenario then
runs :func:`wpeval.payments` on one representative referral per payment cell (about a
thousand rows) instead of on every referral: recomputing the engine on all rows made a sweep
take about 44 s for 2 million referrals, now about 2 s. The figures are identical to
recomputing everything. The result feeds the tornado plot
(:func:`wpeval.plots.value.plot_tornado`). :func:`headlines` turns the results into plain
sentences for a report, each carrying its caveat.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from wpeval.exceptions import ParameterError
from wpeval.payments import PaymentsResult, default_tariff_dict, payments
from wpeval.payments.columns import sustainment_counts
from wpeval.value.baseline import Baseline
from wpeval.value.costs import (
    CAVEAT,
    _baseline_cells,
    _outcome,
    _point_estimate,
    load_baseline,
)

__all__ = ["headlines", "sensitivity"]

_ITEMS = ("attachment", "job_outcome", "sustainment_fee", "sustainment_cap")


def _tariff_dict(tariff) -> dict:
    if tariff is None:
        return default_tariff_dict()
    if isinstance(tariff, Mapping):
        return copy.deepcopy(dict(tariff))
    if isinstance(tariff, (str, Path)):
        return yaml.safe_load(Path(tariff).read_text("utf-8"))
    raise ParameterError(
        "sensitivity needs the tariff as None, a path or a mapping (a Tariff "
        "object cannot be edited)"
    )


def _u_parameters(tdict: dict, pay) -> list[tuple[str, tuple, float]]:
    """(label, path in the tariff dict, value) of every U value the payments used."""
    out = []
    used = set(zip(pay.placeholders["payment_group"], pay.placeholders["item"]))
    for g, spec in tdict["groups"].items():
        for item in _ITEMS:
            cell = spec[item]
            key = "sustainment" if item.startswith("sustainment") else item
            if cell["status"] == "U" and (g, key) in used:
                out.append((f"tariff {g}: {item}", ("groups", g, item), float(cell["value"])))
    years = set(pay.referrals.loc[pay.referrals["attachment_paid"] > 0, "contract_year"])
    for y, cell in tdict["attachment_phase"].items():
        if cell["status"] == "U" and int(y) in years:
            from fractions import Fraction

            out.append(
                (
                    f"tariff attachment phase-down, year {y}",
                    ("attachment_phase", y),
                    float(Fraction(str(cell["value"]))),
                )
            )
    return out


def _set(tdict: dict, path: tuple, value: float) -> dict:
    new = copy.deepcopy(tdict)
    node = new
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = {**node[path[-1]], "value": value}
    return new


def _payment_cells(frame: pd.DataFrame, pay: PaymentsResult) -> np.ndarray:
    """Cell number of every referral: referrals in one cell have the same engine inputs
    (payment group, contract year, discount, attached, attached on/after the end of
    attachment fees, job outcome or not, sustainment payments made), so the same payments
    under any tariff values (the tariff's dates and discounts are never moved)."""
    r = pay.referrals
    attached = r["attached"].to_numpy(bool)
    cut = pay.tariff.no_attachment_fee_from[0]
    late = np.zeros(len(r), dtype=bool)
    if cut is not None:
        late = attached & (r["attachment_date"].to_numpy() >= np.datetime64(cut, "ns"))
    parts = [
        pd.factorize(r["payment_group"].to_numpy())[0],
        r["contract_year"].to_numpy(np.int64),
        pd.factorize(r["discount"].to_numpy())[0],
        attached,
        late,
        r["job_outcome_date"].notna().to_numpy(),
        sustainment_counts(frame),
    ]
    key = np.zeros(len(r), dtype=np.int64)
    for p in parts:
        p = np.asarray(p, dtype=np.int64)
        key = key * (int(p.max(initial=0)) + 1) + p
    return pd.factorize(key)[0]


class _Sweep:
    """The cost per additional outcome of ``frame`` under a baseline and tariff, with the
    per-referral work shared by all scenarios. Each result equals that of
    :func:`~wpeval.value.costs.deadweight` (``by=()``, the same arithmetic on the same
    per-referral values), or NaN where outcomes do not exceed the baseline."""

    def __init__(self, frame: pd.DataFrame, y: np.ndarray, pay: PaymentsResult, tdict: dict):
        keep = ~np.isnan(y)
        if not keep.any():
            raise ParameterError("the outcome is missing (window not observed) for every referral")
        r = pay.referrals
        self.cells, binv = _baseline_cells(r["payment_group"], r["contract_year"])
        codes = _payment_cells(frame, pay)
        rep = np.empty(codes.max() + 1, dtype=np.int64)
        rep[codes] = np.arange(len(codes))  # any referral of a cell represents it
        self.frame, self.y, self.binv, self.codes = frame.iloc[rep], y[keep], binv[keep], codes
        self.central = self.paid(tdict)
        if not np.array_equal(self.central[codes], r["total_paid"].to_numpy(float)):
            # safety net should the engine ever read another input: one cell per referral
            self.frame, self.codes = frame, np.arange(len(frame))
            self.central = r["total_paid"].to_numpy(float)
        self.codes = self.codes[keep]

    def paid(self, tdict: dict) -> np.ndarray:
        """Total paid in each payment cell under the tariff ``tdict``."""
        return payments(self.frame, tdict, warn=False).referrals["total_paid"].to_numpy(float)

    def result(self, base: Baseline, paid: np.ndarray | None = None) -> float:
        rate = np.array([base.rate(g, yr)[0] for g, yr in self.cells])
        c = (self.central if paid is None else paid)[self.codes]
        _, dbar, ratio = _point_estimate(c, self.y - rate[self.binv])
        # no outcomes above the baseline: there is no cost per additional outcome (NaN)
        return float(ratio) if dbar > 0 else math.nan


def sensitivity(
    data: pd.DataFrame,
    *,
    outcome: str | None = None,
    baseline=None,
    overrides=None,
    tariff=None,
    baseline_factors: Sequence[float] = (0.5, 1.5),
    tariff_factors: Sequence[float] = (0.75, 1.25),
) -> pd.DataFrame:
    """One-way sensitivity of the programme's cost per additional job outcome.

    Parameters
    ----------
    data : DataFrame
        As for :func:`wpeval.value.costs.deadweight`.
    outcome, baseline, overrides :
        As for :func:`~wpeval.value.costs.deadweight` (the central case).
    tariff : None, path or mapping
        The central tariff (as a YAML file or dict, so that its values can be moved).
    baseline_factors, tariff_factors : (low, high)
        Multipliers of the baseline rates (capped at 1) and of each U tariff value.

    Returns
    -------
    DataFrame
        One row per assumption: ``parameter, kind`` (baseline / tariff), ``status``,
        ``base_value, low_value, high_value`` (for the baseline: the mean rate used),
        ``result_low, result_high, base_result`` (NaN where outcomes do not exceed the
        baseline: no cost per additional outcome exists), ``swing``
        (``|result_high - result_low|``; inf when only one end exists), sorted by swing,
        largest first. ``attrs["caveat"]`` repeats that every figure is
        conditional on the baseline.
    """
    if len(baseline_factors) != 2 or len(tariff_factors) != 2:
        raise ParameterError("baseline_factors and tariff_factors are (low, high) pairs")
    base = load_baseline(baseline, overrides=overrides)
    outcome = outcome or f"job_outcome_{base.window_months}m"
    y = _outcome(data, outcome)
    frame = data.assign(**{outcome: y})
    tdict = _tariff_dict(tariff)
    pay = payments(frame, tdict, warn=False)
    sweep = _Sweep(frame, y, pay, tdict)
    central = sweep.result(base)
    groups = sorted(set(pay.referrals["payment_group"].astype(str)))
    rows = []
    for label, cells in [("baseline: all groups", list(base.rates))] + [
        (f"baseline: {g}", [k for k in base.rates if k[1] == g]) for g in groups
    ]:
        res, vals = [], []
        for f in baseline_factors:
            new = load_baseline(base, overrides={k: min(1.0, base.rates[k][0] * f) for k in cells})
            res.append(sweep.result(new))
            vals.append(float(np.mean([new.rates[k][0] for k in cells])))
        status = "U" if any(base.rates[k][1] == "U" for k in cells) else "V/D"
        rows.append(
            {
                "parameter": label,
                "kind": "baseline",
                "status": status,
                "base_value": float(np.mean([base.rates[k][0] for k in cells])),
                "low_value": vals[0],
                "high_value": vals[1],
                "result_low": res[0],
                "result_high": res[1],
            }
        )
    for label, path, value in _u_parameters(tdict, pay):
        res, vals = [], []
        for f in tariff_factors:
            v = value * f
            if path[-1] == "sustainment_cap":
                v = float(max(0, round(v)))
            vals.append(v)
            res.append(sweep.result(base, sweep.paid(_set(tdict, path, v))))
        rows.append(
            {
                "parameter": label,
                "kind": "tariff",
                "status": "U",
                "base_value": value,
                "low_value": vals[0],
                "high_value": vals[1],
                "result_low": res[0],
                "result_high": res[1],
            }
        )
    out = pd.DataFrame(rows)
    out["base_result"] = central
    lo, hi = out["result_low"].to_numpy(float), out["result_high"].to_numpy(float)
    one_end = np.isfinite(lo) ^ np.isfinite(hi)  # one end at or below the baseline
    out["swing"] = np.where(one_end, np.inf, np.abs(hi - lo))
    out = out.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)
    out.attrs["caveat"] = CAVEAT
    return out


def _money(v: float) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"£{v:,.0f}"


def headlines(costs: pd.DataFrame, dw, ce=None, expectations: Mapping | None = None) -> list[str]:
    """Plain-language headline sentences from the value-for-money results.

    Parameters
    ----------
    costs : DataFrame
        :func:`~wpeval.value.costs.cost_figures` with ``by=()`` (one row, the total).
    dw : EffectTable
        :func:`~wpeval.value.costs.deadweight`; its ``all`` row is used.
    ce : EffectTable, optional
        :func:`wpeval.value.icer.icer`; counts pairs with a bounded interval.
    expectations : mapping, optional
        ``Baseline.expectations`` (published DWP / NAO figures) to compare against.

    Returns
    -------
    list of str
    """
    t = costs.iloc[0]
    out = [
        (
            f"The programme paid {_money(t['total_paid'])} for {int(t['referrals']):,} "
            f"referrals: {_money(t['paid_per_referral'])} per referral and "
            f"{_money(t['paid_per_job_outcome'])} per job outcome "
            f"({t['job_outcome_rate']:.1%} of referrals had a paid job outcome)."
        )
    ]
    if t["placeholder_share"] > 0:
        out.append(
            f"{t['placeholder_share']:.0%} of the amount paid uses unconfirmed (U) tariff values."
        )
    if expectations:
        e = {k: v[0] for k, v in expectations.items()}
        if {"nao_forecast_paid", "nao_forecast_referrals"} <= set(e):
            per_ref = e["nao_forecast_paid"] / e["nao_forecast_referrals"]
            out.append(
                f"For comparison, the NAO forecast ({_money(e['nao_forecast_paid'])} for "
                f"{e['nao_forecast_referrals']:,.0f} referrals) implies "
                f"{_money(per_ref)} per referral; DWP expected "
                f"{e.get('dwp_paid_outcome_share', float('nan')):.0%} of referrals to "
                "produce a paid outcome."
            )
    a = dw.tidy().set_index("term").loc["all"]
    if a["above_baseline"]:
        out.append(
            f"Over the assumed baseline, each additional job outcome cost "
            f"{_money(a['estimate'])} (95% interval {_money(a['conf_low'])} to "
            f"{_money(a['conf_high'])}; {a['interval_kind']}); this is {CAVEAT}."
        )
    else:
        out.append(
            f"Job outcomes ({a['outcome_rate']:.1%}) did not exceed the assumed "
            f"non-intervention baseline ({a['baseline_rate']:.1%}), so no cost per "
            f"additional outcome can be given; the comparison is {CAVEAT}."
        )
    if ce is not None:
        tab = ce.tidy()
        bounded = int((tab["interval_kind"] == "bounded").sum())
        out.append(
            f"Within CPAs, {bounded} of {len(tab)} prime pairs have a bounded interval "
            "for the incremental cost per additional outcome; for the others the "
            "difference in outcomes is too uncertain to price."
        )
    return out
