"""The blocked (Neyman) difference in means on integer-coded arrays: the fast internal entry
point shared by :func:`wpeval.diff_in_means` (blocked designs) and the design diagnosis, which
calls it thousands of times on arrays it generated itself and has no need of the DataFrame
checks.

All the work is three ``np.bincount`` passes over the rows (counts, sums and, after
subtracting each cell's mean, sums of squared deviations; two passes over the outcome so that
the variance does not lose digits when the mean is large relative to the spread), plus
arithmetic on the small (blocks x 2) cell table.
"""

from __future__ import annotations

import numpy as np

from wpeval.estimators import se as _se
from wpeval.exceptions import DesignError

__all__ = ["block_cell_stats", "blocked_dim", "neyman_from_cells"]


def block_cell_stats(y: np.ndarray, z: np.ndarray, block: np.ndarray, n_blocks: int):
    """Per block x arm cell: counts, means and within-cell sums of squared deviations.

    Parameters
    ----------
    y : ndarray of float
        Outcomes (no NaN).
    z : ndarray of int (0/1)
        Arm of each row (1 = condition2).
    block : ndarray of int
        Block codes 0..n_blocks-1.
    n_blocks : int
        Number of blocks.

    Returns
    -------
    cnt, mean, ss : ndarray (n_blocks, 2)
        Column 0 is arm 0 (condition1), column 1 arm 1.
    dev : ndarray
        ``y`` minus its cell mean (the residuals of the cell-means model).
    """
    cell = block * 2
    cell += z
    n = 2 * int(n_blocks)
    cnt = np.bincount(cell, minlength=n).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(cell, weights=y, minlength=n) / cnt
    dev = y - mean[cell]
    ss = np.bincount(cell, weights=dev * dev, minlength=n)
    return cnt.reshape(-1, 2), mean.reshape(-1, 2), ss.reshape(-1, 2), dev


def neyman_from_cells(cnt: np.ndarray, mean: np.ndarray, ss: np.ndarray):
    """Blocked difference in means and its Neyman standard error from a cell table.

    ``tau = sum_b (n_b/N) (ybar_b1 - ybar_b0)``;
    ``se^2 = sum_b (n_b/N)^2 (s_b1^2/n_b1 + s_b0^2/n_b0)`` with ``s^2`` the within-cell
    sample variances (divisor n - 1); df = N - 2 x blocks (as ``estimatr``).

    Returns
    -------
    tau, se, df : float
    """
    n_b = cnt.sum(axis=1)
    N = n_b.sum()
    w = n_b / N
    tau = float(np.sum(w * (mean[:, 1] - mean[:, 0])))
    v = ss / (cnt - 1)
    se = _se.neyman_blocked(w, cnt[:, 1], cnt[:, 0], v[:, 1], v[:, 0])
    return tau, float(se), float(N - 2 * len(n_b))


def blocked_dim(y: np.ndarray, z: np.ndarray, block: np.ndarray, n_blocks: int):
    """Blocked difference in means (Neyman SE) of clean arrays, for callers that built them.

    Every block must hold at least two units of each arm (else DesignError: use
    :func:`wpeval.diff_in_means`, which also handles pairs, clusters and dropping incomplete
    blocks).

    Returns
    -------
    tau, se, df : float
    """
    cnt, mean, ss, _ = block_cell_stats(y, z, block, n_blocks)
    if (cnt < 2).any():
        raise DesignError(
            f"{int((cnt < 2).any(axis=1).sum())} block(s) have fewer than two "
            "units in an arm: the blocked Neyman variance is undefined there"
        )
    return neyman_from_cells(cnt, mean, ss)
