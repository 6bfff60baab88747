"""Derived outcomes, checked against hand-worked cases (dates chosen so the day counts are
easy to verify by hand)."""

import numpy as np
import pandas as pd
import pytest

from wpeval.data.outcomes import job_entry_times, job_retention_times, outcome_flags
from wpeval.exceptions import DataContractError

NaT = pd.NaT


def frame():
    d = pd.to_datetime
    return pd.DataFrame(
        {
            "person_id": [1, 2, 3, 4, 5, 6],
            "referral_date": d(["2012-01-01"] * 6),
            # 1: job on day 31; 2: other exit day 10; 3: nothing, extract after 104 weeks;
            # 4: nothing, extract at day 100; 5: job and exit on the same day (job wins);
            # 6: job after the 104-week horizon (censored at 728)
            "job_start_date": d(["2012-02-01", None, None, None, "2012-01-11", "2014-06-01"]),
            "job_end_date": d(["2012-03-02", None, None, None, None, None]),
            "exit_date": d([None, "2012-01-11", None, None, "2012-01-11", None]),
            "job_outcome_date": d(["2012-08-01", None, None, None, "2013-06-01", None]),
            "data_end_date": d(["2017-12-31"] * 3 + ["2012-04-10"] + ["2017-12-31"] * 2),
        }
    )


def test_job_entry_times_hand_worked():
    out = job_entry_times(frame())
    assert out["entry_days"].tolist() == [31.0, 10.0, 728.0, 100.0, 10.0, 728.0]
    assert out["entry_event"].tolist() == [1, 0, 0, 0, 1, 0]
    assert out["entry_cause"].tolist() == [1, 2, 0, 0, 1, 0]
    chk = out.attrs["wpeval_checks"]
    assert chk["job_start"] == 2 and chk["other_exit"] == 1
    assert chk["censored_at_horizon"] == 2 and chk["censored_at_extract"] == 1
    assert chk["job_start_after_follow_up"] == 1
    assert (
        sum(
            chk[k]
            for k in ("job_start", "other_exit", "censored_at_horizon", "censored_at_extract")
        )
        == chk["rows_in"]
    )


def test_input_not_mutated():
    df = frame()
    before = df.copy()
    job_entry_times(df)
    outcome_flags(df)
    pd.testing.assert_frame_equal(df, before)


def test_job_retention_times_hand_worked():
    out = job_retention_times(frame())
    assert out["person_id"].tolist() == [1, 5]
    # person 1: 2012-02-01 -> 2012-03-02 = 30 days (2012 is a leap year: Feb has 29 days)
    # person 5: still in work; 2012-01-11 -> 2017-12-31 = 2181 days
    assert out["retention_days"].tolist() == [30.0, 2181.0]
    assert out["retention_event"].tolist() == [1, 0]
    chk = out.attrs["wpeval_checks"]
    assert chk["rows_kept_job_start"] + chk["rows_left_out_no_job_start"] == chk["rows_in"]


def test_outcome_flags_windows():
    out = outcome_flags(frame())
    # person 1: outcome 7 months after referral; person 5: 17 months
    assert out["job_outcome_12m"].tolist()[:3] == [1.0, 0.0, 0.0]
    assert np.isnan(out["job_outcome_12m"].iloc[3])  # extract after ~3 months: not observed
    assert out["job_outcome_12m"].iloc[4] == 0.0 and out["job_outcome_24m"].iloc[4] == 1.0
    assert out.attrs["wpeval_checks"]["job_outcome_24m_window_not_observed"] == 1


def test_dates_out_of_order_raise_with_person_id():
    df = frame()
    df.loc[2, "exit_date"] = pd.Timestamp("2011-12-01")
    with pytest.raises(DataContractError) as err:
        job_entry_times(df)
    assert err.value.column == "exit_date" and 3 in err.value.examples


def test_missing_column_named():
    with pytest.raises(DataContractError, match="exit_date"):
        job_entry_times(frame().drop(columns="exit_date"))
