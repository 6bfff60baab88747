"""Reading and writing: CSV (BOM, CRLF, quotes, UK dates) and Parquet round trips,
deterministic Parquet bytes, fingerprints, clear errors."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pandas as pd
import pytest

from wpeval.data.io import file_fingerprint, frame_fingerprint, read_referrals, write_parquet
from wpeval.data.programme import fictional
from wpeval.data.schema import validate
from wpeval.exceptions import DataContractError, StatisticalWarning


@pytest.fixture
def small(synthetic_referrals):
    return synthetic_referrals.head(500).copy()


def test_parquet_round_trip(small, tmp_path):
    path = write_parquet(small, tmp_path / "r.parquet")
    back = read_referrals(path)
    pd.testing.assert_frame_equal(back, small)


def test_parquet_columns(small, tmp_path):
    path = write_parquet(small, tmp_path / "r.parquet")
    back = read_referrals(path, columns=["person_id", "cpa"])
    assert list(back.columns) == ["person_id", "cpa"]
    with pytest.raises(DataContractError, match="not in the file"):
        read_referrals(path, columns=["person_id", "nope"])


def test_write_parquet_is_deterministic(small, tmp_path):
    a = write_parquet(small, tmp_path / "a.parquet")
    b = write_parquet(small.copy(), tmp_path / "b.parquet")
    assert a.read_bytes() == b.read_bytes()
    assert file_fingerprint(a) == hashlib.sha256(a.read_bytes()).hexdigest()
    # a one-value change changes the bytes
    c = small.copy()
    c.loc[0, "age"] += 1
    assert write_parquet(c, tmp_path / "c.parquet").read_bytes() != a.read_bytes()


@pytest.mark.parametrize("bom,newline", [(True, "\r\n"), (False, "\n"), (True, "\n")])
def test_csv_round_trip_bom_crlf(small, tmp_path, bom, newline):
    path = tmp_path / "r.csv"
    small.to_csv(
        path, index=False, encoding="utf-8-sig" if bom else "utf-8", lineterminator=newline
    )
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") == bom and (b"\r\n" in raw) == (newline == "\r\n")
    back = read_referrals(path)
    assert list(back.columns) == list(small.columns)
    for col in ("referral_date", "job_start_date", "job_outcome_date", "data_end_date"):
        pd.testing.assert_series_equal(back[col], small[col])
    for col in ("person_id", "sustainment_payments", "age", "attached", "allocation_prob"):
        np.testing.assert_array_equal(back[col].to_numpy(), small[col].to_numpy())
    # after validation the frame equals the original (categories may be ordered differently)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)  # 500 rows: thin strata
        rep = validate(back, programme=fictional(), strict=True)  # a CSV carries no marker
    for col in ("cpa", "prime", "payment_group", "district", "sex", "assessed_stream"):
        assert (rep.data[col].astype(str) == small[col].astype(str)).all()


def test_csv_quoted_fields_and_uk_dates(tmp_path):
    text = (
        "person_id,referral_date,prime,note\r\n"
        '000123,13/06/2011,"Prime C","said ""hello"", then left"\r\n'
        '000124,01/07/2011,"Prime B","line one\r\nline two"\r\n'
    )
    path = tmp_path / "q.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    df = read_referrals(path)
    assert df["person_id"].tolist() == ["000123", "000124"]  # leading zeros kept as text
    assert df["referral_date"].tolist() == [
        pd.Timestamp("2011-06-13"),
        pd.Timestamp("2011-07-01"),
    ]  # day first inferred
    assert df.loc[0, "note"] == 'said "hello", then left'
    assert df.loc[0, "prime"] == "Prime C"


def test_csv_ambiguous_slash_dates_warn_and_dayfirst(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("person_id,referral_date\n1,02/03/2012\n2,04/05/2012\n")
    with pytest.warns(UserWarning, match="ambiguous"):
        df = read_referrals(path)
    assert df["referral_date"].iloc[0] == pd.Timestamp("2012-03-02")
    df = read_referrals(path, dayfirst=False)
    assert df["referral_date"].iloc[0] == pd.Timestamp("2012-02-03")


def test_csv_bad_date_left_for_validate(small, tmp_path):
    df = small.copy().astype({"exit_date": object})
    df.loc[3, "exit_date"] = "not a date"
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    back = read_referrals(path)
    assert back["exit_date"].dtype == object
    with pytest.raises(DataContractError) as info:
        validate(back)
    assert info.value.rule == "unparsable_date" and info.value.column == "exit_date"
    assert small.at[3, "person_id"] in info.value.examples


def test_unknown_extension_and_unreadable(tmp_path):
    p = tmp_path / "x.xlsx"
    p.write_bytes(b"PK\x03\x04")
    with pytest.raises(DataContractError, match="unknown data file type"):
        read_referrals(p)
    with pytest.raises(DataContractError, match="not found"):
        read_referrals(tmp_path / "missing.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet")
    with pytest.raises(DataContractError, match="cannot read Parquet"):
        read_referrals(bad)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(DataContractError, match="empty"):
        read_referrals(empty)


def test_frame_fingerprint(small):
    f = frame_fingerprint(small)
    assert len(f) == 64 and f == frame_fingerprint(small.copy())
    assert f == frame_fingerprint(small.set_index(np.arange(len(small)) + 7))  # index ignored
    changed = small.copy()
    changed.loc[0, "sustainment_payments"] += 1
    assert frame_fingerprint(changed) != f
    assert frame_fingerprint(small.iloc[::-1]) != f
