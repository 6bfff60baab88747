"""League tables with their uncertainty: within-CPA contract effects, empirical-Bayes
shrinkage, confidence sets for ranks and funnel-plot control limits.

Published star ratings and league tables of Work Programme contracts showed a rank or a rate
and nothing else. Each function in this package returns the uncertainty next to the number:

- :func:`contract_effects` -- each contract (cpa, prime) against its CPA average, estimated
  only from comparisons inside randomisation strata (district x period), with a Neyman
  variance and the full within-CPA covariance;
- :func:`eb_shrink` -- normal-normal empirical-Bayes shrinkage (tau^2 by REML or
  DerSimonian-Laird), posterior means and SDs as in ``metafor::blup``;
- :func:`rank_confidence_sets` -- marginal confidence sets for ranks, Mogstad, Romano,
  Shaikh & Wilhelm (2023), or an (approximate) parametric bootstrap of ranks;
- :func:`funnel_limits`, :func:`funnel_data` -- exact binomial funnel-plot limits
  (Spiegelhalter 2005) and contracts outside them;
- :func:`league_table` -- all of the above in one :class:`~wpeval.results.EffectTable`.

The estimators are written by hand: no Python library offers block-adjusted contrasts
against a group average with their covariance, MRSW rank sets, or Spiegelhalter's
interpolated binomial limits; statsmodels' ``combine_effects`` offers DerSimonian-Laird and
Paule-Mandel tau^2 but neither REML nor the EB predictions with standard errors that include
the uncertainty of the pooled mean (``metafor::blup``), which are checked against R here.
"""

from wpeval.estimators.ranking.effects import contract_effects
from wpeval.estimators.ranking.funnel import funnel_data, funnel_limits
from wpeval.estimators.ranking.league import league_table
from wpeval.estimators.ranking.rank_sets import rank_confidence_sets
from wpeval.estimators.ranking.shrinkage import Shrinkage, eb_shrink

__all__ = [
    "contract_effects",
    "eb_shrink",
    "Shrinkage",
    "rank_confidence_sets",
    "funnel_limits",
    "funnel_data",
    "league_table",
]
