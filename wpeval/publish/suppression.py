"""Cell suppression and rounding for published tables: primary suppression of small counts,
secondary (complementary) suppression so that no suppressed cell can be worked out from the
totals, and rounding to a base. Used by :func:`wpeval.publish.disclosure.publish_table`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from wpeval.exceptions import ParameterError

if TYPE_CHECKING:
    from wpeval.publish.disclosure import Disclosure


def round_to_base(values, base: float) -> np.ndarray:
    """Round half-up to the nearest multiple of ``base`` (NaN stays NaN)."""
    v = np.asarray(values, dtype=float)
    if base == 1:
        return np.floor(v + 0.5)
    return np.floor(v / base + 0.5) * base


def primary_suppression(counts, settings: Disclosure) -> np.ndarray:
    """Boolean mask of cells under the threshold (``0 < n < threshold``, or ``n == 0`` too
    with ``suppress_zeros``)."""
    c = np.asarray(counts, dtype=float)
    low = (c < settings.threshold) & ~np.isnan(c)
    return low if settings.suppress_zeros else low & (c != 0)


def _pick(values: np.ndarray, cand: np.ndarray, margin: np.ndarray) -> int:
    """Index of the preferred complementary cell among candidate flat indices."""
    v = values[cand]
    key = np.lexsort((cand, v, v == 0, margin[cand]))  # margin last, zeros last, smallest first
    return int(cand[key[0]])


def protect_lines(
    values, mask, lines: Sequence[np.ndarray], margin: np.ndarray | None = None
) -> np.ndarray:
    """Secondary suppression along additive lines, to a fixed point.

    Parameters
    ----------
    values : array
        Cell values (unrounded), any shape; lines index its flattened form.
    mask : array of bool
        Cells already suppressed (same shape).
    lines : sequence of int arrays
        Flat indices of cells that add up to a published total (the total cell included).
    margin : array of bool, optional
        Cells that are totals (chosen only when no interior cell is left in the line).

    Returns
    -------
    numpy.ndarray of bool
        The enlarged mask: every line has 0 or at least 2 suppressed cells.
    """
    vals = np.nan_to_num(np.asarray(values, dtype=float).ravel(), nan=np.inf)
    m = np.asarray(mask, dtype=bool).ravel().copy()
    marg = (
        np.zeros(m.size, dtype=bool) if margin is None else np.asarray(margin, dtype=bool).ravel()
    )
    lines = [np.asarray(li, dtype=np.int64) for li in lines if len(li) > 1]
    changed = True
    while changed:
        changed = False
        for li in lines:
            if m[li].sum() == 1:
                m[_pick(vals, li[~m[li]], marg)] = True
                changed = True
    return m.reshape(np.shape(mask))


def _bridge(mask: np.ndarray) -> tuple[int, int] | None:
    """A suppressed cell (r, c) of a 2-D mask that lies on no cycle of suppressed cells
    (a bridge of the bipartite row-column graph), or None."""
    rows, cols = np.nonzero(mask)
    R = mask.shape[0]
    edges = list(zip(rows.tolist(), (cols + R).tolist()))
    adj: dict[int, list[tuple[int, int]]] = {}
    for k, (a, b) in enumerate(edges):
        adj.setdefault(a, []).append((b, k))
        adj.setdefault(b, []).append((a, k))
    disc: dict[int, int] = {}
    low: dict[int, int] = {}
    counter = [0]
    for root in adj:
        if root in disc:
            continue
        disc[root] = low[root] = counter[0]
        counter[0] += 1
        stack = [(root, -1, iter(adj[root]))]
        while stack:
            node, via, it = stack[-1]
            advanced = False
            for nxt, k in it:
                if k == via:
                    continue
                if nxt in disc:
                    low[node] = min(low[node], disc[nxt])
                else:
                    disc[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append((nxt, k, iter(adj[nxt])))
                    advanced = True
                    break
            if not advanced:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > disc[parent]:
                        a, b = edges[via]
                        return a, b - R
    return None


def _component(
    mask: np.ndarray, start_row: int | None, start_col: int | None, skip: tuple[int, int]
) -> tuple[set, set]:
    """Rows and columns reachable from a node through suppressed cells other than ``skip``."""
    rows, cols = set(), set()
    todo = [("r", start_row)] if start_row is not None else [("c", start_col)]
    while todo:
        kind, i = todo.pop()
        if kind == "r":
            if i in rows:
                continue
            rows.add(i)
            todo += [("c", j) for j in np.nonzero(mask[i])[0] if (i, j) != skip]
        else:
            if i in cols:
                continue
            cols.add(i)
            todo += [("r", r) for r in np.nonzero(mask[:, i])[0] if (r, i) != skip]
    return rows, cols


def suppress_table(
    values, mask, *, margin_rows: Sequence[int] = (-1,), margin_cols: Sequence[int] = (-1,)
) -> np.ndarray:
    """Secondary suppression for a 2-D table whose last row and column are totals.

    Every row (with its total cell) and every column (with its total cell) is an additive
    line; :func:`protect_lines` is applied, then bridges are removed (see the module notes)
    until no suppressed cell is determined by the row and column equations.

    Parameters
    ----------
    values : 2-D array
        Unrounded counts including the margins.
    mask : 2-D array of bool
        Primary suppression.
    margin_rows, margin_cols : sequence of int
        Positions of the total row(s) / column(s) (preferred last as complementary cells).

    Returns
    -------
    numpy.ndarray of bool
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2:
        raise ParameterError("suppress_table needs a 2-D table")
    R, C = v.shape
    idx = np.arange(R * C).reshape(R, C)
    lines = [idx[i] for i in range(R)] + [idx[:, j] for j in range(C)]
    margin = np.zeros((R, C), dtype=bool)
    margin[list(margin_rows), :] = True
    margin[:, list(margin_cols)] = True
    m = protect_lines(v, mask, lines, margin)
    vals = np.nan_to_num(v, nan=np.inf).ravel()
    while (br := _bridge(m)) is not None:
        r0, c0 = br
        rows_a, cols_a = _component(m, r0, None, br)
        rows_b, cols_b = _component(m, None, c0, br)
        cand = [(r, c) for r in rows_a for c in cols_b] + [(r, c) for r in rows_b for c in cols_a]
        cand = np.array([r * C + c for r, c in cand if not m[r, c]], dtype=np.int64)
        if cand.size == 0:  # cannot happen once every line has >= 2 (see module notes)
            raise RuntimeError("secondary suppression could not protect a bridge cell")
        r, c = divmod(_pick(vals, cand, margin.ravel()), C)
        m[r, c] = True
        m = protect_lines(v, m, lines, margin)
    return m
