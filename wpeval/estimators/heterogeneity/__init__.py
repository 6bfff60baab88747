"""Payment-group differences: outcome rates by group, prime x group interaction tests, and
creaming and parking (outcomes and payments by the provider's assessed stream).

Payment groups are not randomised, so differences in rates *between* groups are descriptive.
What the random allocation does identify is each prime's effect *within* a group (primes are
allocated at random within Jobcentre Plus district x period, and from late 2013 with shares
that differ by group). :func:`group_differences` therefore tests, within each CPA, whether the
prime contrast is the same in every payment group (a prime x group interaction), which is
the question "did differential pricing / provider behaviour change who benefited?".
"""

from wpeval.estimators.heterogeneity._common import STREAMS
from wpeval.estimators.heterogeneity.creaming import creaming_and_parking
from wpeval.estimators.heterogeneity.interaction import GroupDifferences, group_differences
from wpeval.estimators.heterogeneity.rates import group_rates

__all__ = [
    "STREAMS",
    "GroupDifferences",
    "creaming_and_parking",
    "group_differences",
    "group_rates",
]
