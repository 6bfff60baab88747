"""Fieller confidence sets for a ratio of two (correlated) normal estimates.

For estimates ``num`` and ``den`` with variances ``V_n``, ``V_d`` and covariance ``V_nd``, the
(1 - alpha) Fieller set (Fieller 1954; Willan & O'Brien 1996 for cost-effectiveness ratios) is
``{R : (num - R den)^2 <= q^2 (V_n - 2 R V_nd + R^2 V_d)}`` with ``q`` the normal (or t)
critical value. With ``a = den^2 - q^2 V_d``, ``b = num den - q^2 V_nd`` and
``c = num^2 - q^2 V_n`` the set is ``a R^2 - 2 b R + c <= 0``:

- ``a > 0`` (``den`` significantly different from zero): the bounded interval between the
  roots ``(b -/+ sqrt(b^2 - a c)) / a``;
- ``a < 0`` and ``b^2 - a c > 0``: two rays ``(-inf, r1] U [r2, inf)`` (``"exclusive"``);
- ``a < 0`` and ``b^2 - a c <= 0``: the whole real line (``"unbounded"``).

No library in the user's stack computes a Fieller set (statsmodels, linearmodels and lifelines
have none), so it is hand-written (a closed form) and checked against R in
``tests/reference/fieller_reference.R`` (a grid + uniroot inversion and estimatr's net-benefit
test inversion agree with it to 1e-9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from wpeval.exceptions import ParameterError

__all__ = ["FiellerInterval", "fieller", "quadrant"]


@dataclass(frozen=True)
class FiellerInterval:
    """A Fieller confidence set for a ratio.

    Attributes
    ----------
    kind : {"bounded", "exclusive", "unbounded"}
        ``bounded``: ``[lower, upper]``; ``exclusive``: ``(-inf, lower] U [upper, inf)``;
        ``unbounded``: the whole line (``lower = -inf``, ``upper = inf``).
    lower, upper : float
    ratio : float
        The point estimate ``num / den`` (inf or NaN when ``den == 0``).
    g : float
        Fieller's ``g = q^2 V_den / den^2``; the set is bounded iff ``g < 1``.
    """

    kind: str
    lower: float
    upper: float
    ratio: float
    g: float

    def contains(self, value: float) -> bool:
        """Is ``value`` inside the confidence set?"""
        if self.kind == "unbounded":
            return True
        if self.kind == "bounded":
            return self.lower <= value <= self.upper
        return value <= self.lower or value >= self.upper

    def label(self, fmt: str = "{:,.0f}") -> str:
        """Human-readable set, e.g. ``[1,200, 3,400]`` or ``(-inf, -500] U [2,000, inf)``."""
        if self.kind == "unbounded":
            return "(-inf, inf): not bounded by the data"
        lo, hi = fmt.format(self.lower), fmt.format(self.upper)
        if self.kind == "bounded":
            return f"[{lo}, {hi}]"
        return f"(-inf, {lo}] U [{hi}, inf)"


def fieller(
    num: float,
    den: float,
    var_num: float,
    var_den: float,
    cov: float = 0.0,
    *,
    alpha: float = 0.05,
    df: float | None = None,
) -> FiellerInterval:
    """Fieller confidence set for the ratio of the means of two (correlated) normal estimates.

    Parameters
    ----------
    num, den : float
        Estimates of the numerator and denominator (e.g. difference in cost and in effect).
    var_num, var_den : float
        Their variances (squared standard errors), >= 0.
    cov : float, default 0
        Their covariance.
    alpha : float, default 0.05
        1 - confidence level.
    df : float, optional
        Degrees of freedom of a t critical value; None uses the normal.

    Returns
    -------
    FiellerInterval
        Bounded, exclusive (two rays) or unbounded, as in the module docstring. Exact for
        bivariate normal estimates with known (co)variances (Fieller 1954).
    """
    vals = np.array([num, den, var_num, var_den, cov], dtype=float)
    if not np.isfinite(vals).all():
        raise ParameterError(f"fieller needs finite inputs, got {vals.tolist()}")
    if var_num < 0 or var_den < 0:
        raise ParameterError("fieller: variances must be >= 0")
    if cov * cov > var_num * var_den * (1 + 1e-9) + 1e-300:
        raise ParameterError("fieller: |cov| exceeds sqrt(var_num * var_den)")
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha!r}")
    q = stats.norm.ppf(1 - alpha / 2) if df is None else stats.t.ppf(1 - alpha / 2, df)
    q2 = q * q
    a = den * den - q2 * var_den
    b = num * den - q2 * cov
    c = num * num - q2 * var_num
    disc = b * b - a * c
    ratio = num / den if den != 0 else (math.copysign(math.inf, num) if num else math.nan)
    g = q2 * var_den / (den * den) if den != 0 else math.inf
    # scale-free tolerance for "a == 0" (the boundary between bounded and unbounded)
    if a > 1e-12 * max(den * den, q2 * var_den, 1e-300):
        root = math.sqrt(max(disc, 0.0))
        return FiellerInterval("bounded", (b - root) / a, (b + root) / a, ratio, g)
    if disc > 0 and a < 0:
        root = math.sqrt(disc)
        r1, r2 = sorted(((b - root) / a, (b + root) / a))
        return FiellerInterval("exclusive", r1, r2, ratio, g)
    return FiellerInterval("unbounded", -math.inf, math.inf, ratio, g)


def quadrant(d_cost: float, d_effect: float) -> str:
    """Quadrant of the cost-effectiveness plane for prime A against prime B.

    ``"more effective, costs more"``, ``"more effective, costs less"`` (A dominates),
    ``"less effective, costs more"`` (A dominated) or ``"less effective, costs less"``;
    a zero difference counts as "no difference".
    """
    eff = (
        "more effective"
        if d_effect > 0
        else ("less effective" if d_effect < 0 else "equally effective")
    )
    cost = "costs more" if d_cost > 0 else ("costs less" if d_cost < 0 else "costs the same")
    return f"{eff}, {cost}"
