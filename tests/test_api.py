"""The public API: ``wpeval.__all__`` is pinned, and every name in it resolves."""

from __future__ import annotations

import wpeval

PUBLIC = [
    "ChecksReport",
    "DataContractError",
    "DesignError",
    "EffectTable",
    "ParameterError",
    "StatisticalWarning",
    "__version__",
    "add_period",
    "adjust_pvalues",
    "allocation_design",
    "compare_primes",
    "competing_risks",
    "cox",
    "creaming_and_parking",
    "cumulative_incidence",
    "diagnose",
    "diff_in_means",
    "funnel_data",
    "group_differences",
    "horvitz_thompson",
    "iv_effect",
    "job_entry_times",
    "job_retention_times",
    "kaplan_meier",
    "league_table",
    "lin_adjusted",
    "logrank",
    "make_programme",
    "outcome_flags",
    "payments",
    "power",
    "randomisation_test",
    "read_referrals",
    "rmst",
    "statxplore",
    "validate",
    "value_for_money",
    "cost_figures",
    "deadweight",
    "load_baseline",
    "sensitivity",
    "icer",
    "fieller",
    "project_sustainment",
    "regress",
    "logit",
    "regression_contrasts",
    "binary_sensitivity",
    "plots",
    "nelson_aalen",
    "compare_primes_survival",
    "blocked_curves",
    "hazard_ratio_pairs",
    "baseline_hazard",
    "predict_survival",
    "adjusted_survival",
    "cox_residuals",
    "ph_test",
    "aft",
    "aft_compare",
    "project_retention",
]


def test_all_is_pinned():
    assert sorted(wpeval.__all__) == sorted(PUBLIC)


def test_every_public_name_resolves():
    for name in wpeval.__all__:
        assert getattr(wpeval, name) is not None, name


def test_payments_is_the_package_and_callable():
    assert callable(wpeval.payments)
    assert wpeval.payments.load_tariff is not None
