"""What the money bought: costs per outcome, deadweight over a baseline, within-CPA
incremental cost-effectiveness and projected sustainment payments.

This stage sits beside the estimators: it combines :func:`wpeval.payments` with the
design-based contrasts of :mod:`wpeval.estimators.randomised`.

- :mod:`~wpeval.value.costs`: paid per referral, per job outcome, per month in work; deadweight.
- :mod:`~wpeval.value.baseline`: the non-intervention baseline from config.
- :mod:`~wpeval.value.sensitivity`: the sweep over the baseline and every U tariff value.
- :mod:`~wpeval.value.icer` and :mod:`~wpeval.value.ratio_interval`: incremental cost per
  additional outcome between two primes, Fieller or bootstrap interval.
- :mod:`~wpeval.value.projection`: sustainment payments falling after the extract.
- :mod:`~wpeval.value.truth`: the synthetic programme's true payment differences (for checks).
"""

from __future__ import annotations

from wpeval.value import icer  # the module, callable as the function (see its end)
from wpeval.value.baseline import Baseline, load_baseline
from wpeval.value.costs import CAVEAT, cost_figures, deadweight
from wpeval.value.projection import project_sustainment
from wpeval.value.ratio_interval import FiellerInterval, fieller
from wpeval.value.sensitivity import sensitivity

__all__ = [
    "CAVEAT",
    "Baseline",
    "FiellerInterval",
    "cost_figures",
    "deadweight",
    "fieller",
    "icer",
    "load_baseline",
    "project_sustainment",
    "sensitivity",
]
