"""A model of Stat-Xplore's cell noise and rounding, and the tolerances it implies.

Stat-Xplore "randomly adjusts cell values" so that no table discloses an individual (its Data
Confidentiality note: "all cells may be slightly adjusted ... small introduced random errors";
the size of the adjustment is not published), and Work Programme counts appear rounded. The
model assumed here (status U: configurable, every number an assumption):

- a cell whose true count ``x`` is 0 stays 0 (an empty cell is published as empty);
- otherwise an integer perturbation ``d`` is drawn independently for each cell, with
  ``P(d = k)`` proportional to ``exp(-|k| / scale)`` for ``|k| <= max_abs`` (a discrete
  Laplace distribution, symmetric about 0; default ``scale = 1``, ``max_abs = 10``: about 46%
  of cells unchanged, 34% moved by 1, 99% by at most 4);
- the perturbed count ``max(x + d, 0)`` is rounded to the nearest multiple of ``base``
  (default 5), halves rounded up.

Totals are cells like any other: perturbed and rounded on their own, so they need not equal the
sum of their published categories. Because every cell is perturbed independently, the
published-minus-true difference ``D = y - x`` of each cell has an exact, known distribution
given ``x``; :meth:`NoiseModel.tolerance` turns it into the smallest allowance ``t`` with
``P(|D| > t) <= alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wpeval.exceptions import ParameterError

__all__ = ["NoiseModel"]


@dataclass(frozen=True)
class NoiseModel:
    """Stat-Xplore-like perturbation and rounding of published counts (see module docstring).

    Parameters
    ----------
    scale : float
        Scale of the discrete Laplace perturbation (0: no perturbation).
    max_abs : int
        Largest perturbation in absolute value.
    base : int
        Rounding base of published counts (1: no rounding).
    """

    scale: float = 1.0
    max_abs: int = 10
    base: int = 5

    def __post_init__(self) -> None:
        if not (self.scale >= 0 and np.isfinite(self.scale)):
            raise ParameterError(f"noise scale must be >= 0, got {self.scale!r}")
        if int(self.max_abs) != self.max_abs or self.max_abs < 0:
            raise ParameterError(f"max_abs must be a non-negative integer, got {self.max_abs!r}")
        if int(self.base) != self.base or self.base < 1:
            raise ParameterError(f"rounding base must be a positive integer, got {self.base!r}")

    # -- the perturbation ------------------------------------------------------------------
    def perturbation(self) -> tuple[np.ndarray, np.ndarray]:
        """Support ``k`` and probabilities ``P(d = k)`` of the perturbation."""
        if self.scale == 0 or self.max_abs == 0:
            return np.array([0]), np.array([1.0])
        k = np.arange(-int(self.max_abs), int(self.max_abs) + 1)
        w = np.exp(-np.abs(k) / self.scale)
        return k, w / w.sum()

    def publish(self, x, d) -> np.ndarray:
        """Published value of true counts ``x`` given perturbations ``d`` (broadcast)."""
        x = np.asarray(x, dtype=np.int64)
        v = np.where(x > 0, np.maximum(x + np.asarray(d, dtype=np.int64), 0), 0)
        b = int(self.base)
        return (v + b // 2) // b * b if b > 1 else v  # halves up; exact integer arithmetic

    def apply(self, x, rng: np.random.Generator | int | None = None, size=None) -> np.ndarray:
        """Draw published values for true counts ``x``.

        Parameters
        ----------
        x : array-like of int
            True counts (>= 0).
        rng : numpy Generator or int seed, optional
        size : int or tuple, optional
            Leading shape of independent replicates (e.g. ``(200,)`` for 200 publications of
            the same table); the result has shape ``size + x.shape``.
        """
        x = _counts(x)
        rng = np.random.default_rng(rng)
        k, p = self.perturbation()
        shape = (tuple(np.atleast_1d(size)) if size is not None else ()) + x.shape
        d = k[rng.choice(len(k), size=shape, p=p)]
        return self.publish(x, d)

    # -- the difference and its tolerance ----------------------------------------------------
    def _reduce(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Representatives of ``x``: D's law depends on x only through x mod base once x is
        past every clipping point, so cells are computed once per class."""
        cut = int(self.max_abs) + int(self.base)
        key = np.where(x < cut, x, cut + (x - cut) % int(self.base))
        uniq, inv = np.unique(key, return_inverse=True)
        return uniq, inv.reshape(x.shape)

    def difference_law(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Exact law of ``D = published - x`` for each cell.

        Returns
        -------
        (values, probs) : arrays of shape ``x.shape + (K,)`` and ``(K,)``
            ``P(D = values[..., j]) += probs[j]`` over the perturbation support.
        """
        x = _counts(x)
        k, p = self.perturbation()
        return self.publish(x[..., None], k) - x[..., None], p

    def variance(self, x) -> np.ndarray:
        """Exact ``E[D^2]`` (mean squared published-minus-true difference) for each count."""
        x = _counts(x)
        uniq, inv = self._reduce(x)
        vals, p = self.difference_law(uniq)
        return ((vals.astype(float) ** 2) @ p)[inv]

    def tolerance(self, x, alpha_cell) -> tuple[np.ndarray, np.ndarray]:
        """Smallest ``t`` with ``P(|D| > t) <= alpha_cell`` for each true count ``x``.

        Parameters
        ----------
        x : array-like of int
            Counts taken as the truth (the extract's).
        alpha_cell : float
            Per-cell false-alarm probability allowed.

        Returns
        -------
        (t, tail) : arrays shaped like ``x``
            The tolerance and its exact tail probability ``P(|D| > t)`` (<= alpha_cell; the
            law of D is discrete, so usually below it).
        """
        if not 0 <= alpha_cell < 1:
            raise ParameterError(f"alpha_cell must be in [0, 1), got {alpha_cell!r}")
        x = _counts(x)
        uniq, inv = self._reduce(x)
        vals, p = self.difference_law(uniq)
        absd = np.abs(vals)
        ts = np.arange(int(absd.max()) + 1 if absd.size else 1)
        tails = ((absd[:, None, :] > ts[None, :, None]) * p).sum(axis=2)  # (u, T)
        ok = tails <= alpha_cell + 1e-15
        first = ok.argmax(axis=1)  # the last t (= max |D|) always has tail 0
        t_u, tail_u = ts[first], tails[np.arange(len(uniq)), first]
        return t_u[inv], tail_u[inv]


def _counts(x) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if np.any(~np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise ParameterError("counts must be non-negative whole numbers")
    return arr.astype(np.int64)
