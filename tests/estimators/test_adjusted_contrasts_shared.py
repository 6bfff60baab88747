"""The shared pieces behind regression_contrasts: stratum labels built per distinct
combination equal the row-wise join, and one fit with several variances equals separate
regress() calls."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.estimators.adjusted_contrasts import _stratum_labels
from wpeval.estimators.regression import regress, regress_variances


def test_stratum_labels_equal_the_row_wise_join_missing_values_included():
    df = pd.DataFrame(
        {
            "district": pd.Categorical(["b", "a", None, "b", "a", "c"]),
            "period": [2.0, 1.0, 1.0, np.nan, 2.0, 1.0],
            "code": [3, 3, 1, 1, 3, 3],
        }
    )
    blocks = ["district", "period", "code"]
    text = pd.DataFrame(
        {
            c: df[c].astype(str).where(df[c].notna())
            if isinstance(df[c].dtype, pd.CategoricalDtype)
            else df[c]
            for c in blocks
        }
    )
    expected = text.astype(str).agg("|".join, axis=1)
    got = _stratum_labels(df, blocks)
    assert list(got.astype(str)) == list(expected)
    assert list(got.categories) == sorted(set(expected))


def test_regress_variances_equals_separate_regress_calls():
    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "g": rng.integers(0, 8, n),
            "s": rng.integers(0, 5, n),
            "grp": pd.Categorical(rng.choice(["u", "v", "w"], n)),
        }
    )
    df["y"] = df["x"] + 0.3 * df["s"] + rng.normal(size=n)
    specs = [("HC2", None), ("CR2", "g"), ("CR1", "g")]
    fits = regress_variances(df, "y ~ x + grp", specs, fixed_effects="s")
    for (se, cl), fit in zip(specs, fits, strict=True):
        one = regress(df, "y ~ x + grp", fixed_effects="s", se_type=se, clusters=cl)
        pd.testing.assert_frame_equal(fit.tidy(), one.tidy())
