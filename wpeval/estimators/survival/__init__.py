"""Survival analysis for time to job entry and job retention.

Public functions (all return immutable result objects that name their method):

- :func:`kaplan_meier` -> :class:`SurvivalCurves` (Greenwood SE, or IJ robust SE with case
  weights; delayed entry; log / log-log / plain CIs; median with CI; at-risk tables),
- :func:`nelson_aalen` -> :class:`CumulativeHazard` (Nelson-Aalen with Aalen or IJ SE),
- :func:`logrank` -> EffectTable (k-group, stratified log-rank and Fleming-Harrington G-rho as
  R ``survdiff``; with case weights the robust Cox score test at beta = 0, R ``robscore``),
- :func:`cox` -> EffectTable (stratified Cox, Efron / Breslow ties, (start, stop] data,
  model-based, robust and cluster-robust SEs as R ``coxph``),
- after :func:`cox`: :func:`baseline_hazard` (DataFrame, R ``basehaz``),
  :func:`predict_survival` and :func:`adjusted_survival` -> :class:`SurvivalCurves` (R
  ``survfit.coxph(newdata=)``, direct standardisation), :func:`cox_residuals` (R
  ``residuals.coxph``), :func:`ph_test` -> EffectTable (R ``cox.zph``) and
  :func:`ph_residuals` (its scaled Schoenfeld residuals),
- :func:`rmst` -> EffectTable (restricted mean survival time and differences),
- :func:`cumulative_incidence` -> :class:`CumulativeIncidence` (Aalen-Johansen, IJ SEs),
- :func:`competing_risks` -> EffectTable (cause-specific Cox or Fine-Gray),
- :func:`compare_primes_survival` -> EffectTable (within-stratum S(h) and RMST differences
  between primes, blocked variance, randomisation p-value) and :func:`blocked_curves`
  (stratum-standardised curves); :func:`hazard_ratio_pairs` and :func:`beside_blocked` set a
  Cox fit's hazard ratio of every pair beside them,
- :func:`aft` -> :class:`AFTResult` (parametric AFT models as R ``survreg``; its
  ``predict_survival`` / ``predict_quantile`` methods), :func:`aft_compare` (AIC across
  distributions) and :func:`project_retention` -> :class:`RetentionProjection` (retention
  beyond follow-up).

Every estimator is checked against R ``survival`` in ``tests/reference/survival_reference.R``
(weights, delayed entry, G-rho and Nelson-Aalen in ``tests/reference/survival_weighted.R``, the
weighted log-rank test in ``tests/reference/survival_logrank_weighted.R``).
"""

from wpeval.estimators.survival._curves import CumulativeIncidence, SurvivalCurves
from wpeval.estimators.survival.aft import AFTResult, aft, aft_compare
from wpeval.estimators.survival.blocked import blocked_curves, compare_primes_survival
from wpeval.estimators.survival.competing import competing_risks, cumulative_incidence
from wpeval.estimators.survival.cox import cox
from wpeval.estimators.survival.km import kaplan_meier
from wpeval.estimators.survival.logrank import logrank
from wpeval.estimators.survival.nelson_aalen import CumulativeHazard, nelson_aalen
from wpeval.estimators.survival.pairs import beside_blocked, hazard_ratio_pairs
from wpeval.estimators.survival.ph import ph_residuals, ph_test
from wpeval.estimators.survival.postfit import adjusted_survival, baseline_hazard, predict_survival
from wpeval.estimators.survival.projection import RetentionProjection, project_retention
from wpeval.estimators.survival.residuals import cox_residuals
from wpeval.estimators.survival.rmst import rmst

__all__ = [
    "AFTResult",
    "RetentionProjection",
    "aft",
    "aft_compare",
    "blocked_curves",
    "compare_primes_survival",
    "project_retention",
    "CumulativeHazard",
    "CumulativeIncidence",
    "SurvivalCurves",
    "adjusted_survival",
    "baseline_hazard",
    "beside_blocked",
    "competing_risks",
    "cox",
    "cox_residuals",
    "cumulative_incidence",
    "hazard_ratio_pairs",
    "kaplan_meier",
    "logrank",
    "nelson_aalen",
    "ph_residuals",
    "ph_test",
    "predict_survival",
    "rmst",
]
