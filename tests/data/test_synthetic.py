"""Synthetic generator: structure, determinism, internal consistency and calibration to the
published figures in /work/shared/domain.md (sections 3 and 4)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wpeval.data import programme
from wpeval.data.io import write_parquet
from wpeval.data.schema import validate
from wpeval.data.synthetic import make_programme, write_sample
from wpeval.exceptions import ParameterError, StatisticalWarning

ESA = ["esa_new", "esa_volunteers", "esa_ex_ib"]


def _two_year_rates(df: pd.DataFrame) -> pd.Series:
    """2-year job-outcome rate: outcome within 730 days of referral, among referrals whose
    730 days are within the extract (the L&W18 definition quoted in domain.md s.3)."""
    obs = df["referral_date"] + pd.Timedelta(days=730) <= df["data_end_date"]
    d = df.loc[obs]
    jo = ((d["job_outcome_date"] - d["referral_date"]).dt.days <= 730).astype(float)
    by = jo.groupby(d["payment_group"].astype(str)).mean()
    by["all"] = jo.mean()
    return by


# --------------------------------------------------------------------------- structure
def test_structure_matches_programme(synthetic_programme):
    df = synthetic_programme.referrals
    prog = programme.fictional()  # the real CPA structure with invented prime names
    assert set(df["cpa"].astype(str)) == set(prog.cpas)
    contracts = set(map(tuple, df[["cpa", "prime"]].astype(str).drop_duplicates().to_numpy()))
    assert contracts == set(prog.contracts) and len(contracts) == 40
    dist = synthetic_programme.districts
    per_cpa = dist.groupby("cpa").size()
    assert per_cpa.between(2, 4).all() and 40 <= len(dist) <= 65
    assert all(re.fullmatch(rf"{c}-D\d\d", d) for d, c in zip(dist["district"], dist["cpa"]))
    assert dist["size_share"].max() > 2 * dist["size_share"].min()  # unequal districts
    assert df["referral_date"].min() >= pd.Timestamp("2011-06-01")
    assert df["referral_date"].max() <= pd.Timestamp("2016-03-31")
    assert df["person_id"].is_unique


def test_passes_the_data_contract(synthetic_referrals):
    with pytest.warns(StatisticalWarning, match="one prime only"):  # thin June-2011 strata
        rep = validate(synthetic_referrals, strict=True)
    assert rep.rows_kept == len(synthetic_referrals)


def test_internal_consistency(synthetic_referrals):
    df = synthetic_referrals
    prog = programme.load()
    trig = (
        df["payment_group"]
        .astype(str)
        .map({k: g.jo_trigger_weeks for k, g in prog.payment_groups.items()})
    )
    cap = (
        df["payment_group"]
        .astype(str)
        .map({k: g.sustainment_cap for k, g in prog.payment_groups.items()})
    )
    out = df["job_outcome_date"].notna()
    # outcome date = job start + trigger weeks, and the first job lasted that long
    np.testing.assert_array_equal(
        (df.loc[out, "job_outcome_date"] - df.loc[out, "job_start_date"]).dt.days, 7 * trig[out]
    )
    dur = (df["job_end_date"] - df["job_start_date"]).dt.days
    assert ((dur[out] >= 7 * trig[out]) | df.loc[out, "job_end_date"].isna()).all()
    assert (df["sustainment_payments"] <= cap).all()
    assert (df.loc[~out, "sustainment_payments"] == 0).all()
    # never attached: still referrals, no job recorded
    assert 0.02 < (~df["attached"]).mean() < 0.10
    assert df.loc[~df["attached"], "job_start_date"].isna().all()
    # a job start and an other exit are competing first events
    assert not (df["job_start_date"].notna() & df["exit_date"].notna()).any()
    # allocation_prob is a probability of one of 2-3 primes
    assert df["allocation_prob"].between(0.2, 0.6).all()


def test_determinism(tmp_path):
    a = make_programme(5_000, seed=7)
    b = make_programme(5_000, seed=7)
    pd.testing.assert_frame_equal(a.referrals, b.referrals)
    pd.testing.assert_frame_equal(a.truth.contracts, b.truth.contracts)
    pa = write_parquet(a.referrals, tmp_path / "a.parquet").read_bytes()
    pb = write_parquet(b.referrals, tmp_path / "b.parquet").read_bytes()
    assert pa == pb
    c = make_programme(5_000, seed=8)
    assert not c.referrals["payment_group"].equals(a.referrals["payment_group"])


def test_structure_does_not_depend_on_n():
    a, b = make_programme(2_000, seed=3), make_programme(4_000, seed=3)
    pd.testing.assert_frame_equal(a.districts, b.districts)
    pd.testing.assert_frame_equal(a.design, b.design)
    np.testing.assert_array_equal(
        a.truth.contracts["log_hazard_effect"], b.truth.contracts["log_hazard_effect"]
    )


def test_config_errors():
    with pytest.raises(ParameterError, match="unknown synthetic config sections"):
        make_programme(100, config={"nonsense": {}})
    with pytest.raises(ParameterError):
        make_programme(0)
    with pytest.raises(ParameterError, match="shift_cpas"):
        make_programme(100, config={"allocation": {"shift_cpas": ["CPA99"]}})
    with pytest.raises(ParameterError, match="quarter"):
        make_programme(
            100, config={"allocation": {"shifts": [{"from": "2013-09", "points": 0.05}]}}
        )


def test_earlier_extract_censors_late_cohorts():
    prog = make_programme(20_000, seed=1, config={"calendar": {"data_end_date": "2014-06-30"}})
    df = prog.referrals
    end = pd.Timestamp("2014-06-30")
    assert (df["data_end_date"] == end).all()
    for col in (
        "attachment_date",
        "job_start_date",
        "job_outcome_date",
        "job_end_date",
        "exit_date",
    ):
        assert (df[col].dropna() <= end).all()
    assert df["referral_date"].max() <= end  # no referral after the extract
    late = df["referral_date"] > end - pd.Timedelta(days=60)
    assert late.sum() > 0
    # late referrals: job starts need time, so few are observed; none censored dates beyond
    assert df.loc[late, "job_outcome_date"].isna().all()  # a 13-week trigger needs > 60 days
    # recent cohorts have fewer observed outcomes than the same cohorts with the full extract
    full = make_programme(20_000, seed=1).referrals
    recent = (df["referral_date"] >= "2013-06-01") & ~late
    assert (
        df.loc[recent, "job_outcome_date"].notna().mean()
        < full.loc[recent, "job_outcome_date"].notna().mean()
    )
    with pytest.warns(StatisticalWarning):  # thin June-2011 strata in 20k rows
        validate(df, strict=True)


# --------------------------------------------------------------------------- calibration
def test_two_year_rates_match_published(large_programme):
    """Published 2-year job-outcome rates by payment group (L&W18, domain.md s.3)."""
    rates = _two_year_rates(large_programme.referrals)
    published = {
        "jsa_18_24": 0.364,
        "jsa_25_plus": 0.317,
        "esa_new": 0.151,
        "esa_ex_ib": 0.054,
        "all": 0.278,
    }
    for group, target in published.items():
        assert abs(rates[group] - target) <= 0.015, (group, rates[group], target)


def test_twelve_month_rates_by_cohort(large_programme):
    """12-month rate 8.5% for the Jun-2011 cohort and 13.0% for Jun-2012 (CL13)."""
    df = large_programme.referrals
    m = df["referral_date"].dt.to_period("M").astype(str)
    jo = ((df["job_outcome_date"] - df["referral_date"]).dt.days <= 365).astype(float)
    assert abs(jo[m == "2011-06"].mean() - 0.085) <= 0.015
    assert abs(jo[m == "2012-06"].mean() - 0.130) <= 0.015


def test_esa_share_and_intake(large_programme):
    df = large_programme.referrals
    m = df["referral_date"].dt.to_period("M").astype(str)
    esa = df["payment_group"].astype(str).isin(ESA)
    assert esa[m == "2011-06"].mean() < 0.05  # ~3% of the first cohort
    assert 0.28 < esa[m >= "2013-01"].mean() < 0.38  # ~1/3 by 2013
    shares = df["payment_group"].value_counts(normalize=True)
    assert shares.index[0] == "jsa_25_plus" and shares.index[1] == "jsa_18_24"
    per_month = m.value_counts()
    assert (
        per_month[per_month.index.str.startswith("2011")].mean()
        > 2 * per_month[per_month.index.str.startswith("2015")].mean()
    )  # big first year


def test_job_retention_curve(large_programme):
    """>25% of jobs end within 13 weeks and ~40% within 26 weeks (NAO07, domain.md s.4)."""
    df = large_programme.referrals
    js = df["job_start_date"].notna() & (
        df["job_start_date"] + pd.Timedelta(days=182) <= df["data_end_date"]
    )
    dur = (df.loc[js, "job_end_date"] - df.loc[js, "job_start_date"]).dt.days
    within13 = (dur < 91).mean()
    within26 = (dur < 182).mean()
    assert abs(within13 - 0.25) < 0.03 and abs(within26 - 0.40) < 0.03
    out = df["job_outcome_date"].notna()
    assert (df.loc[out, "sustainment_payments"] >= 5).mean() > 0.6  # BL/WF13


def test_truth_closed_form_matches_simulation(large_programme):
    """The analytic expected 2-year rates agree with the simulated frequencies."""
    df = large_programme.referrals
    sim = _two_year_rates(df)
    tr = large_programme.truth.group_rates.set_index("payment_group")
    obs = df["referral_date"] + pd.Timedelta(days=730) <= df["data_end_date"]
    for group in ["jsa_18_24", "jsa_25_plus", "jsa_early_access", "esa_new", "all"]:
        p = tr.loc[group, "p_jo_2y_observed"]
        n = tr.loc[group, "n_observed"]
        se = np.sqrt(p * (1 - p) / n)
        assert abs(sim[group] - p) < 4 * se + 1e-4, (group, sim[group], p)
    assert tr.loc["all", "n_observed"] == obs.sum()


def test_within_cpa_spread_a_few_points(large_programme):
    con = large_programme.truth.contrasts
    assert len(con) == 26  # 14 two-prime CPAs (1 pair) + 4 three-prime CPAs (3 pairs)
    spread = con["diff_p_jo_2y"].abs()
    assert 0.005 < spread.median() < 0.04 and spread.max() < 0.10
    # sign of the rate contrast follows the sign of the log-hazard contrast
    big = con["log_hr"].abs() > 0.05
    assert (np.sign(con.loc[big, "diff_p_jo_2y"]) == np.sign(con.loc[big, "log_hr"])).all()


def test_market_share_shift(large_programme):
    des = large_programme.design
    prog = programme.load()
    k = des["cpa"].map(lambda c: len(prog.cpas[c]["primes"]))
    moved = (des["allocation_prob"] - 1 / k).abs() > 1e-9
    assert (des.loc[moved, "period"] >= "2013Q4").all()
    assert des.loc[moved, "cpa"].nunique() == 10
    assert np.allclose((des.loc[moved, "allocation_prob"] - 1 / k[moved]).abs(), 0.05)
    # the gaining prime is the stronger one for that payment group
    tg = large_programme.truth.contracts_by_group.set_index(["cpa", "prime", "payment_group"])
    gain = des[moved & (des["allocation_prob"] > 1 / k)].drop_duplicates(["cpa", "payment_group"])
    for r in gain.itertuples():
        effects = tg.xs((r.cpa, r.payment_group), level=["cpa", "payment_group"])
        assert effects["log_hazard_effect"].idxmax() == r.prime


# --------------------------------------------------------------------------- no real names
def real_prime_names() -> set[str]:
    """Every prime named in wpeval/config/programme.yaml, read with yaml (not wpeval)."""
    import yaml

    text = (Path(programme.__file__).parent.parent / "config" / "programme.yaml").read_text()
    return {str(p) for c in yaml.safe_load(text)["cpas"] for p in c["primes"]}


def test_generated_data_name_no_real_provider(tmp_path):
    real = real_prime_names()
    assert len(real) >= 15 and "Prime A" not in real
    path = write_sample(tmp_path / "s.parquet", 3000, 5)
    raw = path.read_bytes()
    for name in real:  # neither in the values nor anywhere in the file's bytes
        assert name.encode() not in raw, name
    df = pd.read_parquet(path)
    assert not set(df["prime"].astype(str)) & real
    # same structure: as many primes per CPA as the real programme, named Prime A, B, C
    prog = programme.load()
    got = df.groupby("cpa", observed=True)["prime"].agg(lambda s: sorted(set(s.astype(str))))
    for cpa, primes in got.items():
        k = len(prog.cpas[cpa]["primes"])
        assert primes == ["Prime A", "Prime B", "Prime C"][:k]


def test_marker_in_parquet_metadata_and_read_back(tmp_path):
    import json

    import pyarrow.parquet as pq

    from wpeval.data.io import read_referrals

    path = write_sample(tmp_path / "s.parquet", 500, 7)
    meta = json.loads(pq.read_schema(path).metadata[b"wpeval.synthetic"])
    assert meta == {
        "generator": "wpeval.data.synthetic.make_programme",
        "n": 500,
        "seed": 7,
        "names": "fictional",
    }
    df = read_referrals(path)
    assert df.attrs["wpeval_synthetic"] == meta
    assert programme.for_data(df).fictional
    rep = validate(df, strict=True)  # checked against the invented names, nothing dropped
    assert rep.rows_kept == 500
    plain = tmp_path / "plain.parquet"
    df.attrs = {}
    write_parquet(df, plain)
    assert b"wpeval.synthetic" not in pq.read_schema(plain).metadata
    assert "wpeval_synthetic" not in read_referrals(plain).attrs
    assert programme.synthetic_marker(read_referrals(plain)) is None  # no marker: not flagged


def test_committed_sample_is_marked():
    from wpeval.data.io import read_marker

    root = Path(__file__).resolve().parents[2]
    marker = read_marker(root / "data_synthetic" / "sample_10k.parquet")
    assert marker is not None and marker["names"] == "fictional" and marker["n"] == 10_000


def test_csv_copy_without_marker_is_checked_against_invented_names(tmp_path):
    from wpeval.data.io import read_referrals

    df = make_programme(400, 3).referrals
    df.to_csv(tmp_path / "copy.csv", index=False)
    back = read_referrals(tmp_path / "copy.csv")
    assert "wpeval_synthetic" not in back.attrs  # CSV carries no marker
    assert programme.for_data(back).fictional  # but every prime is invented
    mixed = back.assign(prime=back["prime"].astype(object))
    mixed.loc[0, "prime"] = sorted(real_prime_names())[0]
    assert not programme.for_data(mixed).fictional  # one real name: the real programme
