"""wpeval.value.projection: expected sustainment payments after the extract, kept apart."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import wpeval
from wpeval.exceptions import ParameterError
from wpeval.value.projection import project_sustainment, retention_survival


def _frame():
    # Two JSA 25+ referrals (trigger 26 weeks = 182 days, sustainment 215, cap 13), job start
    # 2012-01-01, outcome 182 days later on 2012-07-01, extract 2012-10-01 (tenure 274 days,
    # (274 - 182) // 28 = 3 payments made). Referral 1 is still in work; referral 2's job
    # ended on 2012-09-01, so nothing more is due.
    df = pd.DataFrame(
        {
            "person_id": [1, 2],
            "referral_date": pd.Timestamp("2011-12-01"),
            "cpa": "CPA09",
            "district": "CPA09-D01",
            "prime": ["A4e", "Maximus"],
            "payment_group": "jsa_25_plus",
            "attached": True,
            "attachment_date": pd.Timestamp("2011-12-05"),
            "job_start_date": pd.Timestamp("2012-01-01"),
            "job_outcome_date": pd.Timestamp("2012-07-01"),
            "job_end_date": [pd.NaT, pd.Timestamp("2012-09-01")],
            "exit_date": pd.NaT,
            "data_end_date": pd.Timestamp("2012-10-01"),
            "sustainment_payments": [3, 2],
        }
    )
    return df


def test_projection_by_hand_with_exponential_retention():
    # S(t) = exp(-t/400): payment k = 4..13 falls at tenure 182 + 28k, probability
    # exp(-(182 + 28k - 274)/400) = exp(-0.05) exp(-0.07 (k - 4)); the sum over 10 payments is
    # exp(-0.05) (1 - exp(-0.7)) / (1 - exp(-0.07)) = 7.083123; x 215 = 1,522.87 pounds.
    pr = project_sustainment(_frame(), model=lambda t: np.exp(-np.asarray(t) / 400))
    r = pr.referrals.set_index("person_id")
    assert r.loc[1, "projected_payments"] == pytest.approx(7.08312274, rel=1e-8)
    assert r.loc[1, "projected_amount"] == pytest.approx(1522.8713896, rel=1e-8)
    assert r.loc[2, "projected_amount"] == 0 and not r.loc[2, "in_work_at_extract"]
    # observed and projected stay apart
    tot = pr.by().iloc[0]
    assert tot["sustainment_paid_observed"] == pytest.approx(5 * 215)
    assert tot["projected_amount"] == pytest.approx(1522.8713896, rel=1e-8)
    assert "user-supplied" in pr.model


def test_projection_recovers_the_payments_made_after_the_extract():
    # The generator draws the same people whatever the extract date, so the same seed with a
    # late extract shows the sustainment payments that were still to come.
    warnings.simplefilter("ignore")
    early = wpeval.make_programme(20000, seed=11).referrals
    late = wpeval.make_programme(
        20000, seed=11, config={"calendar": {"data_end_date": "2035-12-31"}}
    ).referrals
    pr = project_sustainment(early)
    pe = wpeval.payments(early, warn=False).referrals
    pl = wpeval.payments(late, warn=False).referrals
    m = pe["job_outcome_date"].notna().to_numpy()
    future = float((pl["sustainment_paid"].to_numpy() - pe["sustainment_paid"].to_numpy())[m].sum())
    projected = float(pr.referrals["projected_amount"].sum())
    assert future > 0
    assert abs(projected / future - 1) < 0.15
    assert "WeibullFitter" in pr.model


def test_retention_model_errors():
    ret = pd.DataFrame(
        {"retention_days": [10.0, 20.0], "retention_event": [0, 0], "payment_group": "x"}
    )
    with pytest.raises(ParameterError, match="no job ends"):
        retention_survival(ret)
    s = retention_survival(ret, model=lambda t: np.ones_like(t))[1]
    assert math.isclose(float(s(np.array([5.0]))[0]), 1.0)
