"""Survival analysis for time to job entry and job retention.

Public functions (all return immutable result objects that name their method):

- :func:`kaplan_meier` -> :class:`SurvivalCurves` (Greenwood SE; log / log-log / plain CIs;
  median with CI; at-risk tables),
- :func:`logrank` -> EffectTable (k-group, stratified log-rank as R ``survdiff``),
- :func:`cox` -> EffectTable (stratified Cox, Efron / Breslow ties, (start, stop] data,
  model-based, robust and cluster-robust SEs as R ``coxph``),
- :func:`rmst` -> EffectTable (restricted mean survival time and differences),
- :func:`cumulative_incidence` -> :class:`CumulativeIncidence` (Aalen-Johansen, IJ SEs),
- :func:`competing_risks` -> EffectTable (cause-specific Cox or Fine-Gray).

Every estimator is checked against R ``survival`` in ``tests/reference/survival_reference.R``.
"""

from wpeval.estimators.survival._curves import CumulativeIncidence, SurvivalCurves
from wpeval.estimators.survival.competing import competing_risks, cumulative_incidence
from wpeval.estimators.survival.cox import cox
from wpeval.estimators.survival.km import kaplan_meier
from wpeval.estimators.survival.logrank import logrank
from wpeval.estimators.survival.rmst import rmst

__all__ = [
    "CumulativeIncidence",
    "SurvivalCurves",
    "competing_risks",
    "cox",
    "cumulative_incidence",
    "kaplan_meier",
    "logrank",
    "rmst",
]
