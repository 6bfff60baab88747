"""Number formats for readers: worked by hand in each assertion."""

from __future__ import annotations

import math

from wpeval.publish import formats as F


def test_p_values():
    assert F.fmt_p(0.0004) == "< 0.001" and F.fmt_p(0.001) == "0.001"
    assert F.fmt_p(0.0234) == "0.023"  # 2 significant digits below 0.01 -> 0.0234 ~ 0.023
    assert F.fmt_p(0.00861) == "0.0086"
    assert F.fmt_p(0.4149) == "0.41" and F.fmt_p(0.999) == "1.00"
    assert F.fmt_p(None) == F.MISSING and F.fmt_p(math.nan) == F.MISSING
    assert F.fmt_p_phrase(1e-9) == "p < 0.001" and F.fmt_p_phrase(0.05) == "p = 0.05"


def test_rates_points_counts_money():
    assert F.fmt_pct(0.2783) == "27.8%" and F.fmt_pct(0.05449) == "5.4%"
    assert F.fmt_points(0.062) == "6.2" and F.fmt_points(-0.00723, 2) == "-0.72"
    assert F.fmt_points(0.01, sign=True) == "+1.0"
    assert F.fmt_count(12345.4) == "12,345" and F.fmt_money(1234.5) == "\u00a31,234"
    assert F.fmt_number(0.00723) == "0.00723" and F.fmt_number(12345.6) == "12,346"
    assert F.fmt_number(3.14159) == "3.14" and F.fmt_number(0) == "0"


def test_decimals_follow_the_standard_error():
    # one significant digit of the SE: 0.0031 -> 3 decimals; x100 (points) 0.31 -> 1 decimal
    assert F.decimals_for(0.0031) == 3 and F.decimals_for(0.0031, 100) == 1
    assert F.decimals_for(2.5, 100) == 0 and F.decimals_for(None) == 1
    assert F.decimals_for(1e-9) == 4  # capped


def test_key_figures_by_unit():
    assert F.fmt_value(0.4968, "p") == "0.50"
    assert F.fmt_value(0.278, "%") == "27.8%" and F.fmt_value(0.062, "pp") == "6.2 points"
    assert F.fmt_value(200000) == "200,000" and F.fmt_value(None) == F.MISSING
    assert F.fmt_value(True) == "yes" and F.fmt_value(91.24, "days") == "91.2 days"
    assert F.humanise("allocation_pearson_p_overall") == "Allocation pearson p overall"
