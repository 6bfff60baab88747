"""Nelson-Aalen cumulative hazard curves (case weights, delayed entry, IJ variance), as R."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wpeval.estimators.survival._common import as_list, check_alpha, zcrit
from wpeval.estimators.survival._curves import _CurveResult
from wpeval.estimators.survival._weighting import robust_choice
from wpeval.estimators.survival.km import (
    curve_frames,
    curve_method,
    design_words,
    prep_extra,
    risk_sets,
    se_words,
)
from wpeval.exceptions import ParameterError

NA_CONF_TYPES = ("log", "plain")


@dataclass(frozen=True)
class CumulativeHazard(_CurveResult):
    """Nelson-Aalen cumulative hazard curves (one per ``group`` combination).

    ``table`` columns: ``curve``, the ``group`` columns, ``time``, ``n_risk``, ``n_event``,
    ``n_censor`` (row counts), with weights ``wt_risk``, ``wt_event``, ``wt_censor``, then
    ``cumhaz`` (R ``survfit(ctype = 1)$cumhaz``), ``std_err`` (R ``std.chaz``),
    ``conf_low``, ``conf_high``. ``curves`` has one row per curve with ``n`` and ``events``.
    """

    def cumhaz_at(self, times) -> pd.DataFrame:
        """Cumulative hazard, SE and pointwise CI at ``times`` (0 before the first time).

        Beyond a curve's last time the last value is carried forward; ``n_risk`` is then 0.
        """
        return self._step(
            times,
            ["cumhaz", "std_err", "conf_low", "conf_high"],
            start_values={"cumhaz": 0.0, "std_err": 0.0, "conf_low": 0.0, "conf_high": 0.0},
        )

    def _summary_frame(self) -> pd.DataFrame:
        last = self.table.groupby("curve", sort=False, observed=True).tail(1)
        last = last[["curve", "time", "cumhaz", "conf_low", "conf_high"]].rename(
            columns={"time": "last_time", "cumhaz": "cumhaz_at_last_time"}
        )
        return self.curves.merge(last, on="curve", how="left")


def nelson_aalen(
    data: pd.DataFrame,
    duration: str,
    event: str,
    *,
    group=None,
    weights: str | None = None,
    entry: str | None = None,
    robust: bool | None = None,
    conf_type: str = "log",
    alpha: float = 0.05,
    id_col: str | None = "person_id",
    timefix: bool = True,
) -> CumulativeHazard:
    """Nelson-Aalen cumulative hazard with its standard error, as R ``survfit(ctype = 1)``.

    Estimand: the cumulative hazard ``H(t) = int_0^t h(u) du`` of the event in each curve
    (``group`` combination), under independent censoring (and, with ``entry``, independent left
    truncation) within the curve; with ``weights``, that of the weighted pseudo-population.
    Estimator ``H(t) = sum_{t_j <= t} d_j / Y_j`` (``d_j`` (weighted) events at ``t_j``,
    ``Y_j`` (weighted) rows with ``entry < t_j <= duration``; tied events are not split, R's
    ``ctype = 1``), R's ``cumhaz``.

    Variance (R's ``std.chaz``, reported as ``std_err``). Model-based (no weights, or
    ``robust=False``): Aalen's ``Var H(t) = sum_{t_j <= t} d_j / Y_j^2`` (weighted counts
    when weighted: weights as frequency weights). With ``weights`` (default ``robust=None``
    -> True): the infinitesimal-jackknife (IJ) variance of R ``survfit(..., weights = w,
    robust = TRUE)`` with one cluster per row, ``Var H(t) = sum_i U_i(t)^2``,
    ``U_i(t) = w_i (delta_i 1[x_i <= t] / Y(x_i) - sum_{e_i < t_j <= min(t, x_i)}
    d_j / Y_j^2)``. R picks IJ by default only when some weight is not a whole number.

    Pointwise CIs for ``H``: ``"log"`` (default) ``H exp(-/+ z SE / H)`` (0 where H = 0);
    ``"plain"`` ``H -/+ z SE`` with the lower limit floored at 0 (the limits that R's
    ``survfit(stype = 2, ctype = 1, conf.type = "log")`` gives for ``exp(-H)``).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit (or per (entry, duration] interval with ``entry``).
    duration : str
        Time to event or censoring (>= 0).
    event : str
        1 = event observed at ``duration``, 0 = censored.
    group : str or list of str, optional
        Columns defining the curves (e.g. ``["cpa", "prime"]``).
    weights : str, optional
        Column of case weights (finite, >= 0); missing, negative or infinite weights raise
        :class:`~wpeval.exceptions.DataContractError`.
    entry : str, optional
        Column of entry times: a row is at risk on ``(entry, duration]``; ``entry >=
        duration`` or a missing entry raises :class:`~wpeval.exceptions.DataContractError`.
    robust : bool, optional
        ``None`` (default): IJ variance with weights, Aalen's without; ``True`` / ``False``
        force IJ / Aalen.
    conf_type : {"log", "plain"}
        Transformation for the pointwise confidence intervals.
    alpha : float
        1 - confidence level.
    id_col : str, optional
        Column used to show example rows in error messages.
    timefix : bool
        Treat times equal within a relative tolerance of sqrt(machine epsilon) as tied, as R
        (``timefix = TRUE``, ``aeqSurv``); ``extra["n_timefix"]`` counts the rows changed.

    Returns
    -------
    CumulativeHazard
        ``.tidy()`` (curve table), ``.cumhaz_at(times)``; ``method["rows_dropped"]`` counts
        rows dropped for missing ``duration``, ``event`` or ``group`` values.
    """
    alpha = check_alpha(alpha)
    if conf_type not in NA_CONF_TYPES:
        raise ParameterError(f"conf_type must be one of {NA_CONF_TYPES}, got {conf_type!r}")
    robust = robust_choice(robust, weights)
    cols = as_list(group)
    prep, w, code, labels, rs = risk_sets(
        data, duration, event, cols, weights, entry, id_col, "nelson_aalen", timefix
    )
    H, var = rs.nelson_aalen()
    if robust:
        var = rs.ij_na()
    se = np.sqrt(var)
    z = zcrit(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            fac = np.exp(z * se / H)
            lo, hi = np.where(H > 0, H / fac, 0.0), np.where(H > 0, H * fac, 0.0)
        else:
            lo, hi = np.maximum(H - z * se, 0.0), H + z * se
    table, curves = curve_frames(labels, code, prep.event, rs.counts(), w)
    table["cumhaz"] = H
    table["std_err"] = se
    table["conf_low"] = lo
    table["conf_high"] = hi
    method = curve_method(
        "Nelson-Aalen cumulative hazard" + design_words(weights, entry),
        se_words(robust, weights, "Aalen (sum d / Y^2)"),
        f"pointwise {100 * (1 - alpha):.0f}% '{conf_type}' for the cumulative hazard",
        cols,
        alpha=alpha,
        conf_type=conf_type,
        weights=weights,
        entry=entry,
        prep=prep,
        notes="ties not split (R survfit ctype = 1)",
    )
    return CumulativeHazard(
        table=table,
        curves=curves,
        method=method,
        title=f"Nelson-Aalen cumulative hazard: {duration}",
        extra=prep_extra(prep),
    )
