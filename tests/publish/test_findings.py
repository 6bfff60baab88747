"""Findings in words: the sentence of the issue, worked from its numbers."""

from __future__ import annotations

import pandas as pd

from wpeval.publish import findings


def test_contrast_sentence_puts_the_higher_prime_first():
    # A - B = -0.062 (CI -0.066 to -0.059): B is 6.2 points higher, CI 5.9 to 6.6
    row = {
        "cpa": "CPA18",
        "prime_a": "Prime A",
        "prime_b": "Prime B",
        "estimate": -0.0623,
        "conf_low": -0.0659,
        "conf_high": -0.0587,
        "std_error": 0.0018,
        "p_adjusted": 2e-8,
    }
    assert findings.contrast_sentence(row, "job_outcome_24m") == (
        "In CPA18, Prime B's 2-year job-outcome rate is 6.2 points higher than Prime A's "
        "(95% CI 5.9 to 6.6; adjusted p < 0.001)."
    )


def test_contrast_sentence_positive_and_unadjusted():
    row = {
        "term": "Prime A - Prime B",
        "estimate": 0.031,
        "conf_low": 0.002,
        "conf_high": 0.06,
        "std_error": 0.0148,
        "p_value": 0.0372,
    }
    text = findings.contrast_sentence(row, "job_outcome_12m", alpha=0.1, p_column="p_value")
    assert text == (
        "Prime A's 12-month job-outcome rate is 3.1 points higher than Prime B's "
        "(90% CI 0.2 to 6.0; p = 0.037)."
    )


def test_top_contrasts_orders_by_p_then_size():
    tab = pd.DataFrame(
        {
            "term": ["a", "b", "c", "d"],
            "contrast": ["pairwise"] * 3 + ["vs"],
            "estimate": [0.01, -0.05, 0.03, 0.5],
            "p_adjusted": [0.5, 0.01, 0.01, 0],
        }
    )
    assert list(findings.top_contrasts(tab, 2)["term"]) == ["b", "c"]


def test_rate_ratio_test_and_count_sentences():
    assert findings.rate_sentence("The rate", 0.2783, 0.275, 0.2816, n=180000) == (
        "The rate is 27.8% (95% CI 27.5% to 28.2%; 180,000 referrals)."
    )
    assert findings.ratio_sentence("X", 1.1234, 1.05, 1.19, 0.0004) == (
        "X: hazard ratio 1.12 (95% CI 1.05 to 1.19; p < 0.001)."
    )
    assert findings.test_sentence("T", 0.72, statistic=17.7, df=22, null="the design") == (
        "T is consistent with the design (chi-square 17.7 on 22 df; p = 0.72)."
    )
    assert "rejects" in findings.test_sentence("T", 0.001)
    assert (
        findings.count_sentence(3, 40, "contrasts", "are small") == "3 of 40 contrasts are small."
    )


def test_wilson_interval_matches_the_closed_form():
    # Wilson: (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), p = 0.3, n = 100
    z = 1.959963984540054
    p, n = 0.3, 100
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    lo, hi = findings.wilson_interval(30, 100)
    assert abs(lo - (centre - half)) < 1e-12 and abs(hi - (centre + half)) < 1e-12
    assert all(v != v for v in findings.wilson_interval(0, 0))


def test_survival_contrast_sentence_turns_the_difference_round():
    row = {
        "cpa": "CPA03",
        "prime_a": "Prime B",
        "prime_b": "Prime C",
        "quantity": "survival",
        "horizon_weeks": 104,
        "estimate": -0.0304,
        "conf_low": -0.0578,
        "conf_high": -0.0030,
        "std_error": 0.0140,
        "p_adjusted_cpa_quantity": 0.0297,
        "p_randomisation": 0.0348,
    }
    text = findings.survival_contrast_sentence(row, "a job start")
    assert text == (
        "In CPA03, 3.0 points more of Prime C's claimants than Prime B's were still without "
        "a job start at 104 weeks (95% CI 0.3 to 5.8; adjusted p = 0.03; randomisation "
        "p = 0.035)."
    )


def test_survival_contrast_sentence_for_rmst_without_randomisation_p():
    row = {
        "cpa": "CPA01",
        "prime_a": "Prime A",
        "prime_b": "Prime B",
        "quantity": "rmst",
        "horizon_weeks": 52,
        "estimate": 4.5,
        "conf_low": -0.5,
        "conf_high": 9.5,
        "std_error": 2.5,
        "p_adjusted_cpa_quantity": 0.07,
        "p_randomisation": float("nan"),
    }
    text = findings.survival_contrast_sentence(row, "a job start", alpha=0.1)
    assert text.startswith("In CPA01, Prime A's claimants spent 4.5 more days on average")
    assert "first 52 weeks (90% CI -0.5 to 9.5; adjusted p = 0.07)." in text
