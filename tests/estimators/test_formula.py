"""Which data columns a formula reads, stateful transforms included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wpeval.estimators._formula import formula_variables
from wpeval.estimators.glm import logit
from wpeval.estimators.regression import regress


def test_arguments_of_transforms_are_data_columns():
    got = formula_variables("y ~ g + center(age) + np.log(x + 1) + C(z, Treatment('a')) + a:b")
    assert got == ["a", "age", "b", "g", "x", "y", "z"]


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(4)
    n = 2000
    age = rng.uniform(18, 64, n)
    g = rng.choice(["p", "q", "r"], n)
    eta = -0.5 + 0.03 * (age - 40) + np.where(g == "q", 0.4, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    age[:5] = np.nan  # rows dropped for the transform's argument are counted
    return pd.DataFrame({"y": y, "g": g, "age": age})


def test_regress_with_center_equals_a_centred_column(frame):
    res = regress(frame, "y ~ g + center(age)")
    assert res.extra["n_dropped"] == 5 and res.extra["dropped"] == {"age": 5}
    d = frame.dropna().assign(age_c=lambda t: t["age"] - t["age"].mean())
    ref = regress(d, "y ~ g + age_c").tidy()
    np.testing.assert_allclose(res.tidy()["estimate"], ref["estimate"], rtol=1e-12)


def test_logit_with_center_equals_a_centred_column(frame):
    d = frame.dropna().assign(age_c=lambda t: t["age"] - t["age"].mean())
    a = logit(d, "y ~ g + center(age)", effects="coef").tidy()
    b = logit(d, "y ~ g + age_c", effects="coef").tidy()
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-9)
