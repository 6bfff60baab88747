"""Design-based estimators of the effect of a randomised allocation.

Claimants were allocated at random to a prime within Jobcentre Plus district x period, so a
prime comparison is a randomised experiment with blocks. The modules here hold the
experimental-design estimators of R's estimatr, reimplemented on sufficient statistics
(counts and sums by block x arm, cluster totals) so that 2M referrals take well under a
second and never need an N x N matrix or a dense block-dummy design:

- :func:`diff_in_means` -- unblocked (Welch), blocked (Neyman), matched pairs, clustered (CR2)
  and block-clustered differences in means, as ``estimatr::difference_in_means``;
- :func:`horvitz_thompson` -- inverse-probability (Horvitz-Thompson) estimator with
  Young's-inequality variance, as ``estimatr::horvitz_thompson``;
- :func:`lin_adjusted` -- Lin (2013) regression adjustment with HC2 errors, as
  ``estimatr::lm_lin`` (blocks enter as centred dummies interacted with treatment);
- :func:`iv_effect` -- complier average causal effect by two-stage least squares with HC2
  errors, as ``estimatr::iv_robust``.

Why hand-written: estimatr is R; in Python, statsmodels/linearmodels give HC errors only for a
dense design (1,000 strata x 2 arms of dummies at 2M rows is ~30 GB), have no blocked or
matched-pair Neyman estimator, no Horvitz-Thompson estimator and no closed-form CR2
Bell-McCaffrey degrees of freedom. Every function is checked against estimatr in
``tests/reference/estimatr_reference.R`` (frozen values beside it).

All functions take a DataFrame and column names and return an
:class:`~wpeval.results.EffectTable` whose ``method`` names the estimator, SE type, CI method
and design. The compared conditions follow estimatr: with a two-valued ``treatment`` and no
``condition1``/``condition2`` the estimate is (larger value) - (smaller value).
Rows with a missing outcome, treatment, block or cluster are dropped and counted in
``extra["dropped"]``.
"""

from wpeval.estimators.randomised.dim import diff_in_means
from wpeval.estimators.randomised.ht import horvitz_thompson
from wpeval.estimators.randomised.iv import iv_effect
from wpeval.estimators.randomised.lin import lin_adjusted

__all__ = ["diff_in_means", "horvitz_thompson", "lin_adjusted", "iv_effect"]
