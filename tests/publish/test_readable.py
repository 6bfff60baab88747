"""Readable tables: the columns a reader needs, rounded by hand-worked rules."""

from __future__ import annotations

import pandas as pd

from wpeval.publish import readable
from wpeval.results import EffectTable

METHOD = {
    "estimator": "difference in means",
    "se_type": "Neyman",
    "ci_method": "normal",
    "design": "blocked",
    "alpha": 0.05,
    "outcome": "job_outcome_24m",
}


def contrasts() -> EffectTable:
    return EffectTable(
        pd.DataFrame(
            {
                "term": ["Prime A - Prime B", "Prime A - Prime C"],
                "cpa": ["CPA03", "CPA03"],
                "estimate": [-0.00723, 0.0618],
                "std_error": [0.0031, 0.0042],
                "p_value": [0.0197, 1e-6],
                "conf_low": [-0.0133, 0.0536],
                "conf_high": [-0.0012, 0.0700],
                "n": [1234, 2345],
                "p_adjusted": [0.039, 2e-6],
                "statistic": [-2.33, 14.7],
                "n_strata_used": [40, 41],
            }
        ),
        METHOD,
    )


def test_effect_view_in_points_with_se_decimals():
    view, note = readable.effect_view(contrasts())
    # SE 0.0031..0.0042 -> median 0.00365 x 100 = 0.365 points -> 1 decimal
    assert list(view.columns) == [
        "CPA",
        "Comparison",
        "Estimate (points)",
        "95% CI",
        "p",
        "Adjusted p",
        "Referrals",
    ]
    assert view.iloc[0].tolist() == [
        "CPA03",
        "Prime A - Prime B",
        "-0.7",
        "-1.3 to -0.1",
        "0.02",
        "0.039",
        "1,234",
    ]
    assert view.iloc[1, 2:5].tolist() == ["6.2", "5.4 to 7.0", "< 0.001"]
    assert "percentage points" in note and "95%" in note


def test_rates_are_percentages_not_points():
    rates = EffectTable(
        pd.DataFrame(
            {
                "term": ["jsa_18_24"],
                "estimate": [0.3701],
                "std_error": [0.0114],
                "conf_low": [0.348],
                "conf_high": [0.3928],
            }
        ),
        METHOD,
    )
    view, note = readable.effect_view(rates)
    assert view.loc[0, "Estimate (%)"] == "37.0" and view.loc[0, "95% CI"] == "34.8 to 39.3"
    assert note.startswith("Rates")


def test_frame_view_formats_by_column():
    df = pd.DataFrame(
        {
            "prime": ["Prime A"],
            "rate": [0.2783],
            "p_value": [0.0004],
            "n": [12345],
            "smd": [0.012345],
            "ok": [True],
        }
    )
    view = readable.frame_view(df)
    assert view.iloc[0].tolist() == ["Prime A", "27.8%", "< 0.001", "12,345", "0.0123", "yes"]


def test_table_html_footnotes_suppression_and_links_downloads():
    html = readable.table_html(
        "<table><tr><td>[c]</td></tr></table>",
        caption="T <1>",
        downloads=[("CSV", "downloads/t.csv")],
        full_markup="<table/>",
    )
    assert "T &lt;1&gt;" in html and readable.SUPPRESSED_NOTE in html
    assert "href='downloads/t.csv'" in html and "<details class='wpeval-full'>" in html
    assert "class='wpeval-scroll'" in html  # wide tables scroll in their box
