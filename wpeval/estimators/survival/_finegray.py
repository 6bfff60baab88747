"""The Fine-Gray fit behind :func:`.competing.competing_risks` (``model="fine-gray"``): the
censoring-distribution weights of units with a competing event, added to the risk-set sums of
:class:`._coxengine.CoxEngine` as tails instead of materialising R ``finegray()``'s expanded
data."""

from __future__ import annotations

import numpy as np

from wpeval.estimators.survival._blocks import _group_cumprod, blocks
from wpeval.estimators.survival._common import Design, codes
from wpeval.estimators.survival._coxengine import CoxEngine
from wpeval.estimators.survival.cox import fit_engine
from wpeval.exceptions import DesignError


def fine_gray_fit(prep, covariates, strata, cause, ties, control, singular):
    """Fit the censoring-weighted Cox model for ``cause``; returns the fit, the number of
    strata and the number of units with a competing event."""
    frame = prep.frame
    ev = prep.event
    design = Design(frame, covariates)
    names = design.names
    s_codes, s_labels = codes(frame, strata)
    T = prep.duration
    gminus = censoring_left_limits(T, ev, s_codes)
    competing = (ev != 0) & (ev != cause)
    tail = np.where(competing, 1.0 / gminus["at_row"], 0.0)

    n = len(frame)
    engine = CoxEngine(
        design.build, T, (ev == cause).astype(np.int64), s_codes, np.ones(n), ties=ties
    )
    del design
    engine.set_tail(tail, gminus["lookup"](engine.ev_stratum, engine.ev_time))
    # one row per unit: R's cluster = id is the per-row sandwich
    fit = fit_engine(engine, names, robust=True, control=control, singular=singular)
    return fit, len(s_labels), int(competing.sum())


def censoring_left_limits(T, ev, strata):
    """Censoring-distribution Kaplan-Meier left limits ``G(t-)`` within strata (R finegray).

    At a time ``u`` the censorings at ``u`` happen after the events at ``u``:
    ``G(u) = prod_{c <= u} (1 - ncens_c / (Y_c - d_c))``. Returns ``G(T_i-)`` for every row and
    a lookup ``(stratum, time) -> G(time-)`` for event times.
    """
    b = blocks(T, (ev > 0).astype(np.float64), strata)
    cc = b["code"]
    ncens = b["n_at"] - b["n_event"]
    at_risk_c = b["n_risk"] - b["n_event"]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(ncens > 0, 1.0 - ncens / at_risk_c, 1.0)
    G = _group_cumprod(factor, cc)
    first = np.r_[True, cc[1:] != cc[:-1]]
    Gm = np.where(first, 1.0, np.r_[1.0, G[:-1]])
    at_row = Gm[b["row_block"]]
    if np.any(at_row <= 0):  # pragma: no cover - G(t-) > 0 at any observed time
        raise DesignError("censoring distribution reaches 0 before an event time")
    bt, bs = b["time"], cc

    def lookup(stratum, time):
        # blocks are sorted by (stratum, time); find the block of each (stratum, time)
        pos = np.empty(len(time), dtype=np.int64)
        starts = np.searchsorted(bs, np.arange(bs.max() + 2), side="left")
        for s in np.unique(stratum):
            m = stratum == s
            a, e = starts[s], starts[s + 1]
            pos[m] = a + np.searchsorted(bt[a:e], time[m], side="left")
        return Gm[pos]

    return {"at_row": at_row, "lookup": lookup}
