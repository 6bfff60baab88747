"""Near-tied times count as tied: R ``survival::aeqSurv`` (the ``timefix = TRUE`` default).

Durations computed in floating point (from dates stored as fractional days, or by
arithmetic such as ``sqrt(2)**2``, which is ``2.0000000000000004``) can differ in the last
bits from values that are meant to be equal. R's ``survfit``, ``survdiff``, ``coxph`` and
``finegray`` treat such times as tied by default; so does every survival estimator here
(``timefix=True``), with exactly R's algorithm, so that tie groups (and hence Kaplan-Meier
steps, Efron terms and risk sets) are the same as R's on every machine.
"""

from __future__ import annotations

import numpy as np

#: R's default ``tolerance = sqrt(.Machine$double.eps)``
TIMEFIX_TOLERANCE = float(np.sqrt(np.finfo(np.float64).eps))


def aeq_times(
    stop: np.ndarray, start: np.ndarray | None = None, tolerance: float = TIMEFIX_TOLERANCE
):
    """Merge times that are equal within ``tolerance``, exactly as R ``aeqSurv``.

    Algorithm (R ``survival::aeqSurv``): ``y`` = the sorted distinct finite values of all
    time columns (exit and, for (start, stop] data, entry times together); successive values
    are *tied* when ``diff(y) <= tolerance`` or ``diff(y) / mean(|y|) <= tolerance``; the
    values not tied to their predecessor are the *cut points*, and every time is replaced by
    the largest cut point not above it (``cuts[findInterval(x, cuts)]``). A run of values each
    within tolerance of the previous one therefore collapses to its first value.

    Integer-valued times below ``1 / tolerance`` (e.g. days) can never be within tolerance of
    one another and are returned unchanged without sorting.

    Parameters
    ----------
    stop : ndarray
        Exit times (finite).
    start : ndarray, optional
        Entry times of (start, stop] rows.
    tolerance : float
        R's ``tolerance`` (default ``sqrt(machine epsilon)`` = 1.49e-8).

    Returns
    -------
    (stop, start, n_changed)
        The new arrays (the inputs themselves when nothing is tied) and the number of rows
        with at least one time changed.

    A (start, stop] interval can shrink to length 0 (R stops with "aeqSurv exception, an
    interval has effective length 0"); the caller checks ``start < stop`` afterwards.
    """
    stop = np.asarray(stop, dtype=np.float64)
    both = stop if start is None else np.concatenate([stop, np.asarray(start, np.float64)])
    fin = both[np.isfinite(both)]
    if len(fin) < 2:
        return stop, start, 0
    top = float(np.max(np.abs(fin)))
    if top * tolerance < 1 and np.array_equal(fin, np.floor(fin)):
        return stop, start, 0  # distinct integers differ by >= 1 > tolerance * mean|y|
    y = np.unique(fin)
    dy = np.diff(y)
    tied = (dy <= tolerance) | (dy / np.mean(np.abs(y)) <= tolerance)
    if not tied.any():
        return stop, start, 0
    cuts = y[np.concatenate([[True], ~tied])]
    new_stop = _snap(stop, cuts)
    changed = new_stop != stop
    new_start = start
    if start is not None:
        start = np.asarray(start, np.float64)
        new_start = _snap(start, cuts)
        changed |= new_start != start
    return new_stop, new_start, int(changed.sum())


def _snap(x: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """``cuts[findInterval(x, cuts)]`` for finite ``x`` (non-finite values are kept)."""
    idx = np.searchsorted(cuts, x, side="right") - 1
    out = cuts[np.clip(idx, 0, len(cuts) - 1)]
    return np.where(np.isfinite(x), out, x)
