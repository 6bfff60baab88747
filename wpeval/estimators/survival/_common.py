"""Shared input handling for the survival estimators.

Every public survival function goes through :func:`prepare`: it checks the columns exist,
drops (and counts) rows with missing values in the columns used, checks durations and event
codes, and returns plain numpy arrays plus integer codes for groups and strata. Rows are never
reordered in the caller's frame and the input is never mutated.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from wpeval.estimators.survival._timefix import aeq_times
from wpeval.exceptions import DataContractError, ParameterError, StatisticalWarning

CONF_TYPES = ("log", "log-log", "plain")


def as_list(cols) -> list[str]:
    """``None`` -> ``[]``, a string -> ``[string]``, a sequence -> list."""
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


def check_alpha(alpha: float) -> float:
    """Validate a significance level in (0, 1)."""
    if not isinstance(alpha, (int, float)) or not 0 < float(alpha) < 1:
        raise ParameterError(f"alpha must be a number in (0, 1), got {alpha!r}")
    return float(alpha)


def zcrit(alpha: float) -> float:
    """Two-sided normal critical value ``z_{1 - alpha/2}``."""
    return float(stats.norm.ppf(1 - alpha / 2))


def _examples(
    frame: pd.DataFrame, mask: np.ndarray, id_col: str | None, data: pd.DataFrame | None = None
) -> list:
    """Up to five ``id_col`` values (or row labels) of the rows flagged by ``mask``."""
    labels = frame.index[np.flatnonzero(mask)[:5]]
    src = frame if data is None else data
    if id_col is not None and id_col in src.columns:
        return src.loc[labels, id_col].tolist()
    return labels.tolist()


@dataclass
class Prepared:
    """Arrays extracted from the input frame after dropping incomplete rows."""

    frame: pd.DataFrame  # the kept rows (the input itself when nothing is dropped)
    duration: np.ndarray  # float64
    event: np.ndarray | None  # int64 event code (0/1, or 0..k for competing risks)
    entry: np.ndarray | None  # float64 start times, or None
    n_input: int
    n_dropped: int
    dropped_by: dict = field(default_factory=dict)
    n_timefix: int = 0  # rows whose times were merged with a near-tied time


def prepare(
    data,
    duration: str,
    event: str | None,
    *,
    used: list[str],
    entry: str | None = None,
    multi_state: bool = False,
    id_col: str | None = "person_id",
    what: str = "estimator",
    timefix: bool = True,
) -> Prepared:
    """Validate and extract the survival columns.

    Parameters
    ----------
    data : pandas.DataFrame
        Input data, one row per unit (or per (start, stop] interval with ``entry``).
    duration : str
        Column with the follow-up time (time of event or censoring), >= 0, finite.
    event : str or None
        Column with the event indicator (0/1 or bool); with ``multi_state=True`` an integer
        event type (0 = censored, 1, 2, ... = cause).
    used : list of str
        Other columns the estimator needs (group, strata, covariates, cluster, weights): rows
        with a missing value in any of them are dropped and counted.
    entry : str, optional
        Column with the entry (start) time; each row must have ``entry < duration``.
    multi_state : bool
        Allow event codes 0, 1, 2, ...
    id_col : str, optional
        Column used to show example rows in error messages (``person_id`` by default).
    what : str
        Name of the calling estimator, used in warnings.
    timefix : bool
        Treat times equal within a relative tolerance of sqrt(machine epsilon) as tied
        (R ``aeqSurv``, the ``timefix = TRUE`` default of R ``survival``); see
        :func:`wpeval.estimators.survival._timefix.aeq_times`.
    """
    if not isinstance(timefix, bool):
        raise ParameterError(f"timefix must be True or False, got {timefix!r}")
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    cols = [duration] + ([event] if event else []) + ([entry] if entry else []) + list(used)
    _check_columns(data, cols)
    frame, keep, n_dropped, dropped_by = _drop_missing(data, cols, duration, what)
    dur = _durations(frame, duration, id_col, data, keep)
    ev = _event_codes(frame, event, multi_state, id_col, data, keep) if event else None
    ent = _entry_times(frame, entry, dur, id_col, data, keep) if entry else None
    n_fix = 0
    if timefix:
        dur, ent, n_fix = _merge_near_ties(frame, dur, ent, entry, id_col, data)
    return Prepared(
        frame=frame,
        duration=dur,
        event=ev,
        entry=ent,
        n_input=len(data),
        n_dropped=n_dropped,
        dropped_by=dropped_by,
        n_timefix=n_fix,
    )


def _check_columns(data: pd.DataFrame, cols: list) -> None:
    """Each column name is a string, present in ``data`` and not duplicated there."""
    for c in cols:
        if not isinstance(c, str):
            raise ParameterError(f"column names must be strings, got {c!r}")
        if c not in data.columns:
            raise DataContractError(
                f"column {c!r} is not in the data", column=c, rule="column_present"
            )
        if int((data.columns == c).sum()) > 1:
            raise DataContractError(
                f"column {c!r} appears more than once in the data; rename or drop the duplicate",
                column=c,
                rule="unique_column_labels",
            )


def _drop_missing(data: pd.DataFrame, cols: list, duration: str, what: str):
    """Drop (and count, per column, warning) rows with a missing value in ``cols``.

    Returns ``(frame, keep, n_dropped, dropped_by)``; ``frame`` is ``data`` itself when no
    row is dropped.
    """
    n_input = len(data)
    keep = np.ones(n_input, dtype=bool)
    dropped_by = {}
    for c in dict.fromkeys(cols):
        miss = data[c].isna().to_numpy()
        if miss.any():
            dropped_by[c] = int((miss & keep).sum())
            keep &= ~miss
    n_dropped = int((~keep).sum())
    if n_dropped:
        warnings.warn(
            f"{what}: dropped {n_dropped} of {n_input} rows with missing values ({dropped_by})",
            StatisticalWarning,
            stacklevel=4,  # the user's call of the estimator that called prepare
        )
    # no copy unless rows are dropped (the frame is only read column by column)
    frame = data.loc[keep, list(dict.fromkeys(cols))] if n_dropped else data
    if len(frame) == 0:
        raise DataContractError(
            "no complete rows left after dropping missing values", column=duration, rule="non_empty"
        )
    return frame, keep, n_dropped, dropped_by


def _durations(frame, duration, id_col, data, keep) -> np.ndarray:
    """Follow-up times as float64; each finite and >= 0."""
    dur = _numeric(frame, duration, id_col, data, keep)
    bad = ~np.isfinite(dur) | (dur < 0)
    if bad.any():
        raise DataContractError(
            f"{bad.sum()} durations are negative or infinite",
            column=duration,
            rule="duration_nonnegative_finite",
            examples=_examples(frame, bad, id_col, data),
        )
    return dur


def _event_codes(frame, event, multi_state, id_col, data, keep) -> np.ndarray:
    """Event codes as int64: 0/1, or 0, 1, 2, ... with ``multi_state``."""
    raw = frame[event]
    if pd.api.types.is_bool_dtype(raw):
        ev = raw.to_numpy(dtype=np.int64)
    else:
        vals = _numeric(frame, event, id_col, data, keep)
        if np.any(vals != np.round(vals)):
            nonint = vals != np.round(vals)
            raise DataContractError(
                "event codes must be integers",
                column=event,
                rule="event_integer",
                examples=_examples(frame, nonint, id_col, data),
            )
        ev = vals.astype(np.int64)
    allowed_max = np.inf if multi_state else 1
    badev = (ev < 0) | (ev > allowed_max)
    if badev.any():
        rule = "event_code_nonnegative" if multi_state else "event_0_1"
        raise DataContractError(
            "event must be 0 (censored) or 1 (event)"
            if not multi_state
            else "event type must be 0 (censored) or a positive cause code",
            column=event,
            rule=rule,
            examples=_examples(frame, badev, id_col, data),
        )
    return ev


def _entry_times(frame, entry, dur, id_col, data, keep) -> np.ndarray:
    """Entry times as float64; each finite and below the row's duration."""
    ent = _numeric(frame, entry, id_col, data, keep)
    badent = ~np.isfinite(ent) | (ent >= dur)
    if badent.any():
        raise DataContractError(
            f"{badent.sum()} rows have entry >= duration (each "
            "interval must be (entry, duration] with entry < duration)",
            column=entry,
            rule="entry_before_exit",
            examples=_examples(frame, badent, id_col, data),
        )
    return ent


def _merge_near_ties(frame, dur, ent, entry, id_col, data):
    """R ``aeqSurv``: merge near-tied times; refuse intervals that it shrinks to length 0."""
    dur, ent, n_fix = aeq_times(dur, ent)
    if ent is not None and np.any(ent >= dur):
        raise DataContractError(
            "after merging near-tied times (timefix, as R aeqSurv) some (entry, duration] "
            "intervals have length 0; correct the times or pass timefix=False",
            column=entry,
            rule="timefix_interval_length",
            examples=_examples(frame, ent >= dur, id_col, data),
        )
    return dur, ent, n_fix


def _numeric(frame: pd.DataFrame, col: str, id_col, data, keep) -> np.ndarray:
    s = frame[col]
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=np.float64)
    if not pd.api.types.is_numeric_dtype(s):
        raise DataContractError(
            f"column {col!r} must be numeric (got {s.dtype})", column=col, rule="numeric"
        )
    return s.to_numpy(dtype=np.float64)


def codes(frame: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer codes (0..K-1, sorted) of the combinations of ``cols`` and their labels.

    Returns ``(codes, labels)`` where ``labels`` has one row per code with the column values.
    With no columns every row gets code 0 and ``labels`` has one row and no columns.
    """
    n = len(frame)
    if not cols:
        return np.zeros(n, dtype=np.int64), pd.DataFrame(index=[0])
    if len(cols) == 1:
        cat = pd.Categorical(frame[cols[0]])
        cat = cat.remove_unused_categories()
        labels = pd.DataFrame({cols[0]: np.asarray(cat.categories)})
        return cat.codes.astype(np.int64), labels
    grouped = frame.groupby(cols, observed=True, sort=True)
    code = grouped.ngroup().to_numpy(dtype=np.int64)
    labels = grouped.size().reset_index()[cols]
    return code, labels


def label_strings(labels: pd.DataFrame) -> list[str]:
    """``"grp=A, stratum=s1"`` style labels (``"all"`` when there are no columns)."""
    if labels.shape[1] == 0:
        return ["all"] * len(labels)
    parts = [labels[c].astype(str).radd(f"{c}=") for c in labels.columns]
    out = parts[0]
    for p in parts[1:]:
        out = out + ", " + p
    return out.tolist()


#: Design.build: columns gathered per pass (8 float64 = one cache line) and rows per block
_BUILD_GROUP = 8
_BUILD_ROWS = 1 << 13

#: covariates larger than this overflow exp(x * beta) and x x' sums; ask for rescaling
_MAX_ABS_COVARIATE = 1e100


class Design:
    """Covariate design: column names now, the numeric matrix built later in any row order.

    Numeric and boolean columns enter as they are. String / object / categorical columns are
    expanded to treatment (dummy) contrasts against their first level (the first category of
    a pandas Categorical, otherwise the smallest value), named ``"col[T.level]"``.
    There is no intercept (the Cox baseline hazard absorbs it). The matrix is built only when
    the Cox engine asks for it, in the engine's row order, so that no n x p copy outlives the
    engine's own.
    """

    def __init__(self, frame: pd.DataFrame, covariates: list[str]):
        if not covariates:
            raise ParameterError("covariates must name at least one column")
        self.parts = []  # (kind, column values or codes, width)
        self.names: list[str] = []
        for c in covariates:
            s = frame[c]
            if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                vals = s.to_numpy(dtype=np.float64)
                if not np.all(np.isfinite(vals)):
                    bad = ~np.isfinite(vals)
                    raise DataContractError(
                        "covariate has infinite values",
                        column=c,
                        rule="finite",
                        examples=frame.index[bad][:5].tolist(),
                    )
                big = np.abs(vals) > _MAX_ABS_COVARIATE
                if big.any():
                    raise DataContractError(
                        f"covariate has values of magnitude > {_MAX_ABS_COVARIATE:.0e} "
                        "(the partial likelihood would overflow): rescale it",
                        column=c,
                        rule="covariate_scale",
                        examples=frame.index[big][:5].tolist(),
                    )
                top = float(np.max(np.abs(vals), initial=0.0))
                if 0 < top < 1 / _MAX_ABS_COVARIATE:
                    raise DataContractError(
                        f"covariate values are all of magnitude < {1 / _MAX_ABS_COVARIATE:.0e} "
                        "(their squares underflow to 0): rescale it",
                        column=c,
                        rule="covariate_scale",
                        examples=frame.index[vals != 0][:5].tolist(),
                    )
                self.parts.append(("num", vals, 1))
                self.names.append(c)
                continue
            cat = pd.Categorical(s).remove_unused_categories()
            levels = list(cat.categories)
            if len(levels) < 2:
                raise ParameterError(f"covariate {c!r} has a single level ({levels}); drop it")
            self.parts.append(("cat", np.asarray(cat.codes), len(levels) - 1))
            self.names.extend(f"{c}[T.{lev}]" for lev in levels[1:])
        self.n = len(frame)
        self.p = len(self.names)

    def _columns(self):
        """Yield the design columns one at a time (input row order)."""
        for kind, vals, width in self.parts:
            if kind == "num":
                yield vals
            else:
                for k in range(1, width + 1):
                    yield (vals == k).astype(np.float64)

    def build(self, order: np.ndarray | None = None) -> np.ndarray:
        """The n x p float64 matrix (C order), rows permuted by ``order`` if given.

        Only the result is n x p: columns are gathered (``np.take`` in ``order``) eight at a
        time into an 8 x n buffer, whose transpose is written into the result in row blocks
        (eight float64 = one 64-byte cache line per row and group). A gathered column (16 MB
        at 2M rows) stays in cache while it is read in random order, and every cache line of
        the result is written once. The former "write columns into a Fortran array, convert
        to C order, gather rows" made three n x p arrays; freshly mapped memory costs more
        than the copying (0.4 to 3 s per GB at first touch on our shared VMs), so this was
        40 % of a 2M-row Cox fit.
        """
        n, p = self.n, self.p
        X = np.empty((n, p), dtype=np.float64)
        group = min(_BUILD_GROUP, p)
        buf = np.empty((group, n), dtype=np.float64)
        cols = self._columns()
        for g0 in range(0, p, group):
            k = min(group, p - g0)
            for i in range(k):
                col = next(cols)
                if order is None:
                    buf[i] = col
                else:
                    np.take(col, order, out=buf[i])
            for a in range(0, n, _BUILD_ROWS):
                X[a : a + _BUILD_ROWS, g0 : g0 + k] = buf[:k, a : a + _BUILD_ROWS].T
        return X


def ci_surv(p: np.ndarray, se_log: np.ndarray, conf_type: str, z: float):
    """Pointwise confidence limits for a survival probability, as R ``survfit`` computes them.

    ``se_log`` is the standard error of the cumulative hazard (``-log S``), i.e. R's
    ``survfit()$std.err``. Formulas (R ``survival:::survfit_confint``):

    * ``"log"``: ``exp(log p -/+ z se)``, upper limit capped at 1; undefined at ``p = 0``;
    * ``"log-log"``: ``exp(-exp(log(-log p) -/+ z se / log p))``; undefined at p = 0 or 1;
    * ``"plain"``: ``p -/+ z se p`` clipped to [0, 1].
    """
    p = np.asarray(p, dtype=float)
    se = np.asarray(se_log, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "log":
            xx = np.where(p == 0, np.nan, p)
            lo = np.exp(np.log(xx) - z * se)
            hi = np.minimum(np.exp(np.log(xx) + z * se), 1.0)
        elif conf_type == "log-log":
            xx = np.where((p == 0) | (p == 1), np.nan, p)
            se2 = z * se / np.log(xx)
            lo = np.exp(-np.exp(np.log(-np.log(xx)) - se2))
            hi = np.exp(-np.exp(np.log(-np.log(xx)) + se2))
        elif conf_type == "plain":
            se2 = z * se * p
            lo = np.maximum(p - se2, 0.0)
            hi = np.minimum(p + se2, 1.0)
        else:  # pragma: no cover - validated by callers
            raise ParameterError(f"conf_type must be one of {CONF_TYPES}")
    return lo, hi


def check_conf_type(conf_type: str) -> str:
    """Validate ``conf_type`` (``"log"``, ``"log-log"`` or ``"plain"``)."""
    if conf_type not in CONF_TYPES:
        raise ParameterError(f"conf_type must be one of {CONF_TYPES}, got {conf_type!r}")
    return conf_type
