"""Survival analysis for time to job entry and job retention.

Public functions (all return immutable result objects that name their method):

- :func:`kaplan_meier` -> :class:`SurvivalCurves` (Greenwood SE, or IJ robust SE with case
  weights; delayed entry; log / log-log / plain CIs; median with CI; at-risk tables),
- :func:`nelson_aalen` -> :class:`CumulativeHazard` (Nelson-Aalen with Aalen or IJ SE),
- :func:`logrank` -> EffectTable (k-group, stratified log-rank and Fleming-Harrington G-rho as
  R ``survdiff``),
- :func:`cox` -> EffectTable (stratified Cox, Efron / Breslow ties, (start, stop] data,
  model-based, robust and cluster-robust SEs as R ``coxph``),
- :func:`rmst` -> EffectTable (restricted mean survival time and differences),
- :func:`cumulative_incidence` -> :class:`CumulativeIncidence` (Aalen-Johansen, IJ SEs),
- :func:`competing_risks` -> EffectTable (cause-specific Cox or Fine-Gray).

Every estimator is checked against R ``survival`` in ``tests/reference/survival_reference.R``
(weights, delayed entry, G-rho and Nelson-Aalen in ``tests/reference/survival_weighted.R``).
"""

from wpeval.estimators.survival._curves import CumulativeIncidence, SurvivalCurves
from wpeval.estimators.survival.competing import competing_risks, cumulative_incidence
from wpeval.estimators.survival.cox import cox
from wpeval.estimators.survival.km import kaplan_meier
from wpeval.estimators.survival.logrank import logrank
from wpeval.estimators.survival.nelson_aalen import CumulativeHazard, nelson_aalen
from wpeval.estimators.survival.rmst import rmst

__all__ = [
    "CumulativeHazard",
    "CumulativeIncidence",
    "SurvivalCurves",
    "competing_risks",
    "cox",
    "cumulative_incidence",
    "kaplan_meier",
    "logrank",
    "nelson_aalen",
    "rmst",
]
