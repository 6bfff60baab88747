"""Minimum-frequency rule for estimate tables (publish_estimates), on hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wpeval.exceptions import ParameterError
from wpeval.publish.disclosure import Disclosure, publish_table
from wpeval.publish.estimates import publish_estimates
from wpeval.results import EffectTable

NaN = np.nan


def frame() -> pd.DataFrame:
    # a: large (kept); b: n and outcomes small; c: n at the threshold, outcomes below it;
    # d: true zeros (shown, as in publish_table)
    return pd.DataFrame(
        {
            "term": ["a", "b", "c", "d"],
            "estimate": [1234.5, 900.0, 1500.4, NaN],
            "std_error": [100.4, 50.0, 60.0, NaN],
            "p_value": [0.01, 0.2, 0.3, NaN],
            "n": [245, 8, 10, 0],
            "job_outcomes": [25, 5, 9, 0],
            "total_paid": [12345.4, 800.0, 1000.5, 0.0],
            "above_baseline": [True, False, True, False],
            "strata_used": [3, 1, 2, 0],
            "interval_kind": ["bounded"] * 4,
        }
    )


def test_rows_below_threshold_suppressed_at_and_above_kept():
    out, k = publish_estimates(
        frame(),
        ["n", "job_outcomes"],
        money_columns=["estimate", "total_paid"],
        text_columns=["interval_kind"],
    )
    assert k == 2
    assert out["suppressed"].tolist() == [False, True, True, False]
    assert out["suppressed_reason"].tolist() == [
        "",
        "fewer than 10 units: n, job_outcomes",
        "fewer than 10 units: job_outcomes",
        "",
    ]
    # row a: counts rounded half-up to 10 (245 -> 250, 25 -> 30), money to the pound
    a = out.iloc[0]
    assert (a["n"], a["job_outcomes"]) == (250, 30)
    assert (a["estimate"], a["total_paid"]) == (1235, 12345)
    assert a["std_error"] == 100.4 and a["p_value"] == 0.01  # not money: unrounded
    assert bool(a["above_baseline"])
    assert a["strata_used"] == 3
    # row b: every number gone, the label kept
    b = out.iloc[1]
    assert b["term"] == "b"
    for c in ("estimate", "std_error", "p_value", "n", "job_outcomes", "total_paid"):
        assert np.isnan(b[c]), c
    assert pd.isna(b["above_baseline"]) and pd.isna(b["strata_used"])
    assert pd.isna(b["interval_kind"]) and a["interval_kind"] == "bounded"
    # row c: n = 10 is at the threshold, so it is shown; the 9 outcomes are not
    c = out.iloc[2]
    assert c["n"] == 10 and np.isnan(c["job_outcomes"])
    assert np.isnan(c["estimate"]) and np.isnan(c["total_paid"])
    # row d: true zeros are not small counts
    d = out.iloc[3]
    assert (d["n"], d["job_outcomes"], d["total_paid"]) == (0, 0, 0)


def test_counts_rounded_as_publish_table():
    f = frame()
    out, _ = publish_estimates(f, ["n", "job_outcomes"])
    tab = publish_table(
        f[["n", "job_outcomes"]],
        {"n": "count", "job_outcomes": "count"},
        title="t",
        settings=Disclosure(),
        lines=None,
    )
    for col in ("n", "job_outcomes"):
        np.testing.assert_array_equal(out[col].to_numpy(), tab.published[col].to_numpy())


def test_money_base_and_threshold_from_settings():
    out, k = publish_estimates(
        frame(),
        ["n"],
        money_columns=["estimate"],
        disclosure={"threshold": 5, "base": 5, "money_base": 100},
    )
    assert k == 0  # n = 8 and 10 are at or above 5; 0 is a true zero
    assert out["n"].tolist() == [245, 10, 10, 0]  # 245 and 8 -> nearest 5 (8 -> 10)
    assert out["estimate"].tolist()[:3] == [1200, 900, 1500]


def test_suppress_zeros_option():
    out, k = publish_estimates(frame(), ["n"], disclosure=Disclosure(suppress_zeros=True))
    assert k == 2 and out["suppressed"].tolist() == [False, True, False, True]


def test_disclosure_off_refused_on_real_data():
    with pytest.raises(ParameterError, match="synthetic"):
        publish_estimates(frame(), ["n"], disclosure=False)
    with pytest.raises(ParameterError, match="synthetic"):
        publish_estimates(frame(), ["n"], disclosure=False, synthetic=False)


def test_synthetic_off_returns_table_unchanged():
    f = frame()
    out, k = publish_estimates(f, ["n", "job_outcomes"], disclosure=False, synthetic=True)
    assert k == 0 and out is f
    pd.testing.assert_frame_equal(out, frame())


def test_synthetic_on_by_default():
    _, k = publish_estimates(frame(), ["n"], synthetic=True)
    assert k == 1


def test_effect_table_kept_as_effect_table():
    res = EffectTable(
        frame(),
        {"estimator": "e", "se_type": "s", "ci_method": "c", "design": "d"},
        title="T",
        extra={"kept": 1},
    )
    out, k = publish_estimates(res, ["n", "job_outcomes"])
    assert isinstance(out, EffectTable) and out.title == "T"
    assert k == 2 and out.extra["rows_suppressed"] == 2 and out.extra["kept"] == 1
    assert "fewer than 10 units" in out.extra["disclosure"]
    assert np.isnan(out["b"]["estimate"]) and out["a"]["n"] == 250
    assert res.table["n"].tolist() == [245, 8, 10, 0]  # the input is not changed


def test_missing_column_and_bad_type():
    with pytest.raises(ParameterError, match="not in the table"):
        publish_estimates(frame(), ["referrals"])
    with pytest.raises(ParameterError, match="not in the table"):
        publish_estimates(frame(), ["n"], text_columns=["quadrant"])
    with pytest.raises(ParameterError, match="DataFrame or an EffectTable"):
        publish_estimates([1, 2], ["n"])
