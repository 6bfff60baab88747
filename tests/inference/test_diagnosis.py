"""Design diagnosis (wpeval.inference.diagnosis): diagnosands against hand-worked values, and
identical results whatever the backend and the number of workers."""

from __future__ import annotations

import numpy as np
import pytest

from wpeval.exceptions import ParameterError
from wpeval.inference import replicate
from wpeval.inference.diagnosis import complete_follow_up, diagnosands, diagnose

SMALL = {
    "estimators": ["blocked_dim", "randomisation_test"],
    "replications": 3,
    "n": 3000,
    "cpas": ["CPA09"],
    "progress": False,
}


def test_diagnosands_by_hand():
    # four replications, truth 2 each time; estimates 1, 2, 3, 4 -> errors -1, 0, 1, 2
    est = [1.0, 2.0, 3.0, 4.0]
    theta = [2.0] * 4
    lo = [0.5, 1.0, 2.5, 3.0]  # intervals holding 2: the 1st ([0.5, 1.5] no), 2nd yes...
    hi = [1.5, 3.0, 3.5, 5.0]  # covered: [F, T, F, F] -> coverage 0.25
    p = [0.01, 0.5, 0.02, 0.001]  # significant at 0.05: replications 1, 3, 4
    out = diagnosands(est, [0.5] * 4, lo, hi, p, theta, alpha=0.05)
    assert out["n_sims"] == 4 and out["n_failed"] == 0
    assert out["bias"] == pytest.approx(0.5)  # mean(-1, 0, 1, 2)
    assert out["bias_mc_se"] == pytest.approx(np.sqrt(5 / 3) / 2)  # sd(-1,0,1,2) = sqrt(5/3)
    assert out["rmse"] == pytest.approx(np.sqrt(6 / 4))  # (1 + 0 + 1 + 4) / 4
    assert out["coverage"] == pytest.approx(0.25)
    assert out["coverage_mc_se"] == pytest.approx(np.sqrt(0.25 * 0.75 / 4))
    assert out["power"] == pytest.approx(0.75)
    assert out["type_s"] == pytest.approx(0.0)  # every significant estimate is positive
    assert out["type_m"] == pytest.approx((0.5 + 1.5 + 2.0) / 3)  # |1|/2, |3|/2, |4|/2
    assert out["mean_ci_width"] == pytest.approx((1.0 + 2.0 + 1.0 + 2.0) / 4)


def test_type_s_and_failed_replications():
    # truth 1; significant estimates -2 (wrong sign) and 3 (right sign); one failure (NaN)
    out = diagnosands(
        [-2.0, 3.0, np.nan, 0.1],
        [1.0] * 4,
        [-3, 2, 0, -1],
        [-1, 4, 0, 1],
        [0.01, 0.01, 0.5, 0.9],
        [1.0] * 4,
    )
    assert out["n_failed"] == 1 and out["n_sims"] == 3
    assert out["type_s"] == pytest.approx(0.5)
    assert out["type_m"] == pytest.approx(2.5)  # (|-2| + |3|) / 2 / 1


def test_serial_and_dask_give_identical_diagnosands():
    from wpeval.inference.backend import dask_client

    serial = diagnose(**SMALL)
    with dask_client(n_workers=2, processes=False) as client:
        two = diagnose(**SMALL, backend=client)
    with dask_client(n_workers=1, processes=False) as client:
        one = diagnose(**SMALL, backend=client)
    for other in (two, one):
        np.testing.assert_array_equal(serial.extra["draws"], other.extra["draws"])
        assert serial.tidy().equals(other.tidy())
    tab = serial.tidy()
    assert set(tab["estimator"]) == {"blocked_dim", "randomisation_test"}
    assert (tab["n_sims"] == 3).all()
    # a different root seed gives different replications
    assert not np.array_equal(
        diagnose(**(SMALL | {"seed": 2})).extra["draws"], serial.extra["draws"]
    )


def test_truth_is_the_generator_contrast():
    d = diagnose(**(SMALL | {"estimators": ["blocked_dim"], "replications": 2}))
    theta = d.extra["draws"][:, 0, 0, 5]
    # CPA09's contract effects are fixed by the default config (Prime A -0.15, Prime B +0.15 on
    # the log hazard), so the true difference is negative in every replication
    assert (theta < 0).all() and np.ptp(theta) < 0.02


def test_blocked_dim_is_centred_on_the_truth_small_sanity_check():
    # a quick check with few replications: the mean error is within 4 Monte Carlo SEs of 0
    d = diagnose(["blocked_dim"], replications=12, n=20_000, cpas=["CPA09"], progress=False)
    row = d.tidy().iloc[0]
    assert abs(row["bias"]) < 4 * row["bias_mc_se"]


def test_bad_arguments():
    with pytest.raises(ParameterError, match="unknown estimators"):
        diagnose(["nope"], replications=1, n=1000, progress=False)
    with pytest.raises(ParameterError):
        diagnose(["blocked_dim"], replications=0, n=1000, progress=False)


def test_complete_follow_up_keeps_a_user_extract_date():
    assert complete_follow_up(None)["calendar"]["data_end_date"] == "2018-06-30"
    cfg = complete_follow_up({"calendar": {"data_end_date": "2017-01-31"}})
    assert cfg["calendar"]["data_end_date"] == "2017-01-31"


def test_registry_accepts_a_new_estimator():
    @replicate.register_estimator("half_dim_for_test")
    def _half(pair, alpha, rng):
        est, se, lo, hi, p = replicate.ESTIMATORS["blocked_dim"].fn(pair, alpha, rng)
        return est / 2, se / 2, lo / 2, hi / 2, p

    try:
        d = diagnose(
            ["blocked_dim", "half_dim_for_test"],
            replications=2,
            n=3000,
            cpas=["CPA09"],
            progress=False,
        )
        draws = d.extra["draws"]
        np.testing.assert_allclose(draws[:, 1, :, 0], draws[:, 0, :, 0] / 2)
    finally:
        replicate.ESTIMATORS.pop("half_dim_for_test")


def test_replications_without_an_interval_are_counted_not_covered():
    # three replications, truth 0; the second has a NaN SE so no interval and no p-value
    out = diagnosands(
        [0.1, 0.2, -0.1],
        [0.1, np.nan, 0.1],
        [-0.1, np.nan, -0.3],
        [0.3, np.nan, 0.1],
        [0.3, np.nan, 0.3],
        [0.0] * 3,
    )
    assert out["n_sims"] == 3 and out["n_no_interval"] == 1
    assert out["coverage"] == pytest.approx(1.0)  # both finite intervals hold 0
    assert out["mean_ci_width"] == pytest.approx(0.4)  # (0.4 + 0.4) / 2
    assert out["power"] == pytest.approx(0.0)  # NaN p is not significant
