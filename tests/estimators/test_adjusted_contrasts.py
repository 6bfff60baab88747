"""regression_contrasts: each row is regress() on the pair's rows (strata holding both primes),
beside the compare_primes row of the same pair."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import wpeval
from wpeval.estimators.adjusted_contrasts import regression_contrasts
from wpeval.exceptions import ParameterError, StatisticalWarning

SAMPLE = Path(__file__).resolve().parents[2] / "data_synthetic" / "sample_10k.parquet"


@pytest.fixture(scope="module")
def data():
    df = wpeval.outcome_flags(pd.read_parquet(SAMPLE))
    df = wpeval.add_period(df[df["cpa"].isin(["CPA01", "CPA03"])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        design = wpeval.compare_primes(df, "job_outcome_24m", blocks=("district", "period"))
    return df, design


def test_rows_are_regress_on_the_pair_and_sit_beside_the_design_estimate(data):
    df, design = data
    res = regression_contrasts(df, "job_outcome_24m", design, covariates=["age"])
    tab = res.tidy()
    pairs = design.tidy().query("contrast == 'pairwise'")
    assert list(tab["term"]) == list(pairs["term"])
    np.testing.assert_array_equal(tab["design_estimate"], pairs["estimate"])
    row = tab.iloc[0]
    sub = df[(df["cpa"] == row["cpa"]) & df["prime"].isin([row["prime_a"], row["prime_b"]])]
    sub = sub.assign(
        a=(sub["prime"] == row["prime_a"]).astype(float),
        s=sub["district"].astype(str) + "|" + sub["period"].astype(str),
        y=sub["job_outcome_24m"].astype(float),
    )
    sub = sub[sub.groupby("s")["a"].transform("nunique") == 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        hc2 = wpeval.regress(sub, "y ~ a + age", fixed_effects="s")["a"]
        cr2 = wpeval.regress(
            sub, "y ~ a + age", fixed_effects="s", clusters="district", se_type="CR2"
        )["a"]
    assert row["estimate"] == pytest.approx(hc2["estimate"], rel=1e-12)
    assert row["std_error"] == pytest.approx(hc2["std_error"], rel=1e-12)
    assert row["std_error_cr2"] == pytest.approx(cr2["std_error"], rel=1e-12)
    assert row["df_cr2"] == pytest.approx(cr2["df"], rel=1e-12)
    assert row["n"] == sub["y"].notna().sum()  # rows with the outcome observed


def test_needs_a_compare_primes_result(data):
    df, _ = data
    other = wpeval.regress(df.assign(y=df["age"] * 1.0), "y ~ age")
    with pytest.raises(ParameterError, match="compare_primes"):
        regression_contrasts(df, "job_outcome_24m", other)
