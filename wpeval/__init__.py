"""wpeval: evaluate a payment-by-results welfare-to-work programme from referral-level data.

The public API is imported lazily (PEP 562), so ``import wpeval`` is fast and a notebook pays
only for what it uses. See README.md for a worked example.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_API = {
    # data
    "validate": "wpeval.data.schema",
    "ChecksReport": "wpeval.data.schema",
    "read_referrals": "wpeval.data.io",
    "make_programme": "wpeval.data.synthetic",
    "add_period": "wpeval.data.design",
    "allocation_design": "wpeval.data.design",
    "job_entry_times": "wpeval.data.outcomes",
    "job_retention_times": "wpeval.data.outcomes",
    "outcome_flags": "wpeval.data.outcomes",
    # randomised comparisons
    "diff_in_means": "wpeval.estimators.randomised",
    "lin_adjusted": "wpeval.estimators.randomised",
    "horvitz_thompson": "wpeval.estimators.randomised",
    "iv_effect": "wpeval.estimators.randomised",
    "compare_primes": "wpeval.estimators.contrasts",
    "randomisation_test": "wpeval.inference.randomisation",
    "adjust_pvalues": "wpeval.inference.multiplicity",
    # models
    "regress": "wpeval.estimators.regression",
    "logit": "wpeval.estimators.glm",
    "binary_sensitivity": "wpeval.estimators.glm",
    "regression_contrasts": "wpeval.estimators.adjusted_contrasts",
    # design: power and simulation diagnosis
    "power": "wpeval.inference.power",
    "diagnose": "wpeval.inference.diagnosis",
    # survival
    "kaplan_meier": "wpeval.estimators.survival",
    "logrank": "wpeval.estimators.survival",
    "cox": "wpeval.estimators.survival",
    "rmst": "wpeval.estimators.survival",
    "cumulative_incidence": "wpeval.estimators.survival",
    "competing_risks": "wpeval.estimators.survival",
    "nelson_aalen": "wpeval.estimators.survival",
    "compare_primes_survival": "wpeval.estimators.survival",
    "blocked_curves": "wpeval.estimators.survival",
    "hazard_ratio_pairs": "wpeval.estimators.survival",
    "baseline_hazard": "wpeval.estimators.survival",
    "predict_survival": "wpeval.estimators.survival",
    "adjusted_survival": "wpeval.estimators.survival",
    "cox_residuals": "wpeval.estimators.survival",
    "ph_test": "wpeval.estimators.survival",
    "aft": "wpeval.estimators.survival",
    "aft_compare": "wpeval.estimators.survival",
    "project_retention": "wpeval.estimators.survival",
    # payments, tables, heterogeneity
    "payments": "wpeval.payments",
    "group_differences": "wpeval.estimators.heterogeneity",
    "league_table": "wpeval.estimators.ranking",
    "funnel_data": "wpeval.estimators.ranking",
    "creaming_and_parking": "wpeval.estimators.heterogeneity",
    # value for money
    "value_for_money": "wpeval.value",
    "cost_figures": "wpeval.value.costs",
    "deadweight": "wpeval.value.costs",
    "load_baseline": "wpeval.value.costs",
    "sensitivity": "wpeval.value.sensitivity",
    "icer": "wpeval.value.icer",
    "fieller": "wpeval.value.icer",
    "project_sustainment": "wpeval.value.projection",
    # official statistics (Stat-Xplore): the subpackage itself
    "statxplore": "wpeval.statxplore",
    # plots (the subpackage: wpeval.plots.theme(), wpeval.plots.plot_*)
    "plots": "wpeval.plots",
    # results and errors
    "EffectTable": "wpeval.results",
    "DataContractError": "wpeval.exceptions",
    "DesignError": "wpeval.exceptions",
    "ParameterError": "wpeval.exceptions",
    "StatisticalWarning": "wpeval.exceptions",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    if name in _API:
        module = importlib.import_module(_API[name])
        # ``wpeval.payments`` is both a package and its main function: the package is callable
        # (calling it runs the function), so keep the module as the attribute and both
        # ``wpeval.payments(df)`` and ``wpeval.payments.load_tariff`` work. A name the module
        # does not define (``value_for_money``) is the module itself.
        own = module.__name__ == f"wpeval.{name}" or not hasattr(module, name)
        value = module if own else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'wpeval' has no attribute {name!r}")


def __dir__():
    return __all__
