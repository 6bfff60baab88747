"""Result objects for estimated curves: Kaplan-Meier survival and cumulative incidence.

A curve result is immutable and carries the curve table (one row per curve and distinct time,
as R's ``survfit`` lists them), the curve labels and the method, like
:class:`wpeval.results.EffectTable`. Step functions are right-continuous: the value at ``t`` is
the value after any event at ``t``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.results import _jsonable, check_method

TO_DICT_MAX_ROWS = 2000


def _times(times) -> np.ndarray:
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or not np.all(np.isfinite(t)):
        raise ParameterError("times must be finite numbers")
    return t


@dataclass(frozen=True)
class _CurveResult:
    table: pd.DataFrame
    curves: pd.DataFrame
    method: Mapping[str, Any]
    title: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_method(self.method, type(self).__name__)
        object.__setattr__(self, "table", self.table.reset_index(drop=True).copy())
        object.__setattr__(self, "curves", self.curves.reset_index(drop=True).copy())
        object.__setattr__(self, "method", MappingProxyType(dict(self.method)))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    # -- access -------------------------------------------------------------------------------
    def tidy(self) -> pd.DataFrame:
        """The curve table (copy): one row per curve and distinct time."""
        return self.table.copy()

    @property
    def curve_labels(self) -> list[str]:
        """Curve names, e.g. ``"prime=Prime A, cpa=CPA02"`` (``"all"`` for a single curve)."""
        return self.curves["curve"].tolist()

    def method_line(self) -> str:
        """One line naming the method."""
        m = self.method
        return f"{m['estimator']}; SE: {m['se_type']}; CI: {m['ci_method']}; design: {m['design']}"

    def _slices(self, keycols=("curve",), table=None):
        """Yield (key values, sub-table) per curve in curve order."""
        table = self.table if table is None else table
        for key, sub in table.groupby(list(keycols), sort=False, observed=True):
            if len(keycols) == 1 and isinstance(key, tuple):
                key = key[0]
            yield key, sub

    def _step(self, times, value_cols, keycols=("curve",), start_values=None, table=None):
        """Evaluate right-continuous step functions at ``times`` for every curve."""
        t = _times(times)
        out = []
        for key, sub in self._slices(keycols, table):
            key = key if isinstance(key, tuple) else (key,)
            tt = sub["time"].to_numpy()
            idx = np.searchsorted(tt, t, side="right") - 1
            nr_idx = np.searchsorted(tt, t, side="left")
            res = {c: v for c, v in zip(keycols, key)}
            res["time"] = t
            nrisk = sub["n_risk"].to_numpy()
            res["n_risk"] = np.where(nr_idx < len(tt), nrisk[np.minimum(nr_idx, len(tt) - 1)], 0)
            for col in value_cols:
                vals = sub[col].to_numpy(dtype=float)
                start = (start_values or {}).get(col, np.nan)
                res[col] = np.where(idx >= 0, vals[np.maximum(idx, 0)], start)
            out.append(pd.DataFrame(res))
        return pd.concat(out, ignore_index=True)

    # -- rendering ----------------------------------------------------------------------------
    def summary(self, digits: int = 4) -> str:
        """Printable: title, method line and the per-curve summary."""
        lines = [self.title] if self.title else []
        lines.append(self.method_line())
        with pd.option_context(
            "display.float_format",
            lambda v: f"{v:.{digits}g}",
            "display.width",
            200,
            "display.max_columns",
            30,
        ):
            lines.append(self._summary_frame().to_string(index=False))
        return "\n".join(lines)

    def _summary_frame(self) -> pd.DataFrame:  # pragma: no cover - overridden
        return self.curves

    def __str__(self) -> str:  # pragma: no cover - thin
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.title or self.method['estimator']}: "
            f"{len(self.curves)} curve(s), {len(self.table)} rows>"
        )

    def _repr_html_(self) -> str:
        cap = html.escape(self.title) if self.title else ""
        body = self._summary_frame().to_html(
            index=False, float_format=lambda v: f"{v:.4g}", na_rep="&ndash;", escape=True
        )
        return (
            f"<div class='wpeval-result'><p><strong>{cap}</strong></p>{body}"
            f"<p><em>{html.escape(self.method_line())}</em></p></div>"
        )

    def to_dict(self, max_rows: int = TO_DICT_MAX_ROWS) -> dict:
        """JSON-ready: method, per-curve summary and (if at most ``max_rows``) the curve table."""
        out = {
            "title": self.title,
            "method": dict(self.method),
            "summary": self._summary_frame().to_dict(orient="records"),
            "extra": dict(self.extra),
        }
        if len(self.table) <= max_rows:
            out["table"] = self.table.to_dict(orient="records")
        else:
            out["table"] = None
            out["table_note"] = f"{len(self.table)} rows omitted; use .tidy()"
        return _jsonable(out)


@dataclass(frozen=True)
class SurvivalCurves(_CurveResult):
    """Kaplan-Meier curves (one per group x stratum combination).

    ``table`` columns: ``curve`` (label), the group / strata columns, ``time``, ``n_risk``,
    ``n_event``, ``n_censor``, ``surv``, ``std_err`` (Greenwood SE of ``surv``), ``se_cumhaz``
    (SE of the Nelson-type ``-log S``; R's ``survfit()$std.err``), ``conf_low``,
    ``conf_high``. ``curves`` has one row per curve with ``n`` and ``events``.
    """

    def survival_at(self, times) -> pd.DataFrame:
        """Survival, Greenwood SE and pointwise CI at ``times`` (1 before the first time).

        Beyond a curve's last time the last value is carried forward (as R
        ``summary(survfit, times=, extend=TRUE)``); ``n_risk`` is then 0.
        """
        res = self._step(
            times,
            ["surv", "std_err", "conf_low", "conf_high"],
            start_values={"surv": 1.0, "std_err": 0.0, "conf_low": 1.0, "conf_high": 1.0},
        )
        return res

    def at_risk(self, times) -> pd.DataFrame:
        """Numbers at risk (time >= t) and cumulative events / censorings up to ``t``.

        Returns a long table with ``curve``, ``time``, ``n_risk``, ``n_event_cum``,
        ``n_censor_cum``; ``.pivot(index="curve", columns="time", values="n_risk")`` gives
        the usual at-risk table under a KM plot.
        """
        tab = self.table.assign(
            n_event_cum=self.table.groupby("curve", sort=False)["n_event"].cumsum(),
            n_censor_cum=self.table.groupby("curve", sort=False)["n_censor"].cumsum(),
        )
        res = self._step(
            times,
            ["n_event_cum", "n_censor_cum"],
            start_values={"n_event_cum": 0.0, "n_censor_cum": 0.0},
            table=tab,
        )
        for c in ("n_risk", "n_event_cum", "n_censor_cum"):
            res[c] = res[c].astype(np.int64)
        return res

    def median(self) -> pd.DataFrame:
        """Median survival time per curve with its confidence interval.

        Median = first time where ``surv <= 0.5`` (if the curve equals 0.5 exactly over an
        interval, the midpoint to the next lower step, as R). CI (Brookmeyer-Crowley type, the
        method of R ``print.survfit``): the limits are the first times where the lower / upper
        pointwise CI curves fall to 0.5 or below. ``NaN`` with ``reached=False`` when the curve
        (or a CI curve) never reaches 0.5.
        """
        rows = []
        for key, sub in self._slices():
            t = sub["time"].to_numpy()
            rows.append(
                {
                    "curve": key,
                    "median": _minmin(sub["surv"].to_numpy(), t),
                    "conf_low": _minmin(sub["conf_low"].to_numpy(), t),
                    "conf_high": _minmin(sub["conf_high"].to_numpy(), t),
                }
            )
        res = pd.DataFrame(rows)
        res["reached"] = res["median"].notna()
        return res

    def _summary_frame(self) -> pd.DataFrame:
        med = self.median()
        return self.curves.merge(
            med.rename(columns={"conf_low": "median_conf_low", "conf_high": "median_conf_high"}),
            on="curve",
            how="left",
        )


def _minmin(y: np.ndarray, x: np.ndarray) -> float:
    """R ``survival:::survmean`` ``minmin``: first x with y <= 0.5 (tolerance sqrt(eps))."""
    tol = np.sqrt(np.finfo(float).eps)
    keep = ~np.isnan(y) & (y < 0.5 + tol)
    if not keep.any():
        return np.nan
    xk, yk = x[keep], y[keep]
    if abs(yk[0] - 0.5) < tol and np.any(yk < yk[0]):
        return float((xk[0] + xk[np.flatnonzero(yk < yk[0])[0]]) / 2)
    return float(xk[0])


@dataclass(frozen=True)
class CumulativeIncidence(_CurveResult):
    """Aalen-Johansen cumulative incidence curves, one per curve (group) and cause.

    ``table`` columns: ``curve``, group columns, ``cause``, ``time``, ``n_risk``, ``n_event``
    (events of this cause at ``time``), ``cif``, ``std_err``, ``conf_low``, ``conf_high``;
    ``curves`` has one row per curve and cause with ``n`` and ``events``.
    """

    def cif_at(self, times, cause=None) -> pd.DataFrame:
        """Cumulative incidence (with SE and CI) at ``times``, 0 before the first time."""
        res = self._step(
            times,
            ["cif", "std_err", "conf_low", "conf_high"],
            keycols=("curve", "cause"),
            start_values={"cif": 0.0, "std_err": 0.0, "conf_low": 0.0, "conf_high": 0.0},
        )
        if cause is not None:
            res = res[res["cause"] == cause].reset_index(drop=True)
        return res

    def _slices(self, keycols=("curve", "cause"), table=None):
        return super()._slices(keycols, table)

    def _summary_frame(self) -> pd.DataFrame:
        last = self.table.groupby(["curve", "cause"], sort=False, observed=True).tail(1)
        last = last[["curve", "cause", "time", "cif", "conf_low", "conf_high"]].rename(
            columns={"time": "last_time", "cif": "cif_at_last_time"}
        )
        return self.curves.merge(last, on=["curve", "cause"], how="left")
