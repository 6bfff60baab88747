"""Property / fuzz tests of the data layer: schema.validate and the io readers.

Random malformed inputs (missing and extra columns, wrong dtypes, NaN and inf, empty frames,
duplicate ids, dates out of order, unknown categories, one-prime strata, huge and tiny values,
bad column labels, header copies, random files) must give a ChecksReport that accounts for
every row, a DataContractError naming a known rule, or a StatisticalWarning; never an
exception or another warning from deep inside pandas/numpy.

Hypothesis runs derandomized (the same examples every run). The default profile keeps the file
well under 30 s; ``WPEVAL_HYPOTHESIS=long`` runs about 15 times as many examples. With
``WPEVAL_FUZZ_TALLY=path.json`` the count of inputs of each kind and what each got is written
to that file when the module finishes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wpeval.data import programme as _programme
from wpeval.data.io import read_referrals
from wpeval.data.schema import (
    CODE_COLUMNS,
    DATE_COLUMNS,
    NOT_NULL,
    REQUIRED,
    RULES,
    validate,
)
from wpeval.exceptions import DataContractError, StatisticalWarning

ROOT = Path(__file__).resolve().parents[2]
LONG = os.environ.get("WPEVAL_HYPOTHESIS", "").lower() == "long"
_HC = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.filter_too_much,
    HealthCheck.function_scoped_fixture,
]


def _settings(n: int) -> settings:
    return settings(
        max_examples=n * (15 if LONG else 1),
        derandomize=True,
        deadline=None,
        suppress_health_check=_HC,
        database=None,
    )


PROG = _programme.fictional()  # BASE is generated: invented prime names
BASE = (
    pd.read_parquet(ROOT / "data_synthetic" / "sample_10k.parquet").iloc[:36].reset_index(drop=True)
)
# a second block with several primes per district x quarter, for one-prime strata
ALL = pd.read_parquet(ROOT / "data_synthetic" / "sample_10k.parquet")
OPTIONAL_COLS = [c for c in BASE.columns if c not in REQUIRED]
TALLY: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _write_tally():
    yield
    out = os.environ.get("WPEVAL_FUZZ_TALLY")
    if out:
        rows = [dict(test=t, kind=k, outcome=o, n=n) for (t, k, o), n in sorted(TALLY.items())]
        Path(out).write_text(json.dumps(rows, indent=1) + "\n")


# ------------------------------------------------------------------------------ the values
NASTY = [
    np.nan,
    None,
    pd.NaT,
    np.inf,
    -np.inf,
    "",
    "   ",
    "abc",
    "NaN",
    "1,234",
    "1.5",
    -1,
    0,
    1,
    2,
    1e308,
    -1e308,
    5e-324,
    2**63,
    -(2**63),
    2**64,
    10**30,
    True,
    False,
    "2011-13-45",
    "31/02/2012",
    "01/06/2011",
    "2011",
    "2011-06",
    "3000-01-01",
    "1000-01-01",
    "2011-06-01T10:00:00+01:00",
    "2011-06-01Z",
    b"bytes",
    1.5,
    "\u00e9\u00e8",
    "person_id",
    [1, 2],
    {"a": 1},
    (1,),
    np.array([1, 2]),
    pd.Timestamp("2011-06-01"),
    pd.Timestamp("2011-06-01", tz="Europe/London"),
    pd.Timedelta(days=3),
    3 + 4j,
    pd.Period("2011Q3"),
    np.datetime64("2011-06-01"),
    np.int8(-5),
    np.uint64(2**64 - 1),
    "CPA99",
    " CPA01 ",
    "jsa_18_24 ",
    "female",
    "M",
    "yes",
    "n",
    "TRUE",
]
DTYPES = [
    "str",
    "object",
    "float",
    "category",
    "Int64",
    "string",
    "int_codes",
    "bool",
    "datetime_s",
    "tz",
    "uint",
]


def _cast(s: pd.Series, how: str) -> pd.Series:
    """Convert a column to another dtype, as a messy source might deliver it."""
    if how == "str":
        return s.astype(str)
    if how == "object":
        return s.astype(object)
    if how == "float":
        if pd.api.types.is_datetime64_any_dtype(s):
            return s.astype("int64").astype("float64").where(s.notna())
        return pd.to_numeric(
            s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype) else s, errors="coerce"
        ).astype("float64")
    if how == "category":
        return s.astype("category")
    if how == "Int64":
        return (
            pd.to_numeric(
                s if not isinstance(s.dtype, pd.CategoricalDtype) else s.astype(object),
                errors="coerce",
            )
            .round()
            .astype("Int64")
            if not pd.api.types.is_datetime64_any_dtype(s)
            else s.dt.year.astype("Int64")
        )
    if how == "string":
        return s.astype("string")
    if how == "int_codes":
        return pd.Series(pd.factorize(s)[0], index=s.index)
    if how == "bool":
        return s.notna() & (s.astype(str).str.len() % 2 == 0)
    naive = pd.api.types.is_datetime64_any_dtype(s) and s.dt.tz is None
    if how == "datetime_s" and naive:
        return s.astype("datetime64[s]")
    if how == "tz" and naive:
        return s.dt.tz_localize("Europe/London", ambiguous="NaT", nonexistent="NaT")
    if how == "uint" and pd.api.types.is_integer_dtype(s):
        return s.abs().astype("uint64")
    return s.astype(object)


def _set(df: pd.DataFrame, rows, col, value) -> pd.DataFrame:
    """Put ``value`` in ``df[col]`` at ``rows`` (the column becomes object when needed)."""
    s = df[col].astype(object)
    for r in rows:
        s.iat[r] = value
    df[col] = s
    return df


@st.composite
def malformed(draw, kind: str) -> pd.DataFrame:
    """A copy of BASE broken in the way ``kind`` names."""
    df = BASE.copy()
    n = len(df)
    rows = st.lists(st.integers(0, n - 1), min_size=1, max_size=6, unique=True)
    cols = list(df.columns)
    if kind == "missing_column":
        df = df.drop(
            columns=draw(st.lists(st.sampled_from(cols), min_size=1, max_size=3, unique=True))
        )
    elif kind == "extra_column":
        for _ in range(draw(st.integers(1, 3))):
            name = draw(
                st.sampled_from(
                    ["x", "notes", "Person ID", "CPA", 0, 1.5, "", "referral_date ", "period"]
                )
            )
            df[name] = pd.Series([draw(st.sampled_from(NASTY))] * n, dtype=object)
    elif kind == "cell_values":
        for _ in range(draw(st.integers(1, 4))):
            df = _set(df, draw(rows), draw(st.sampled_from(cols)), draw(st.sampled_from(NASTY)))
    elif kind == "dtype":
        for _ in range(draw(st.integers(1, 4))):
            c = draw(st.sampled_from(cols))
            df[c] = _cast(df[c], draw(st.sampled_from(DTYPES)))
    elif kind == "nan_inf":
        for c in draw(st.lists(st.sampled_from(cols), min_size=1, max_size=4, unique=True)):
            v = draw(st.sampled_from([np.nan, np.inf, -np.inf, None, pd.NA]))
            df = _set(df, draw(rows), c, v)
    elif kind == "empty":
        df = df.iloc[:0]
        if draw(st.booleans()):
            df = df.astype(object)
    elif kind == "duplicate_ids":
        extra = df.iloc[draw(rows)].copy()
        if draw(st.booleans()):  # same person and date, something else different
            extra["sustainment_payments"] = -1
        df = pd.concat([df, extra], ignore_index=draw(st.booleans()))
        if draw(st.booleans()):
            df["person_id"] = 7
    elif kind == "dates_out_of_order":
        for _ in range(draw(st.integers(1, 3))):
            a, b = draw(
                st.lists(st.sampled_from(list(DATE_COLUMNS)), min_size=2, max_size=2, unique=True)
            )
            r = draw(rows)
            df.loc[r, a] = df.loc[r, b] - pd.Timedelta(days=draw(st.integers(-400, 400)))
    elif kind == "unknown_categories":
        for _ in range(draw(st.integers(1, 3))):
            c = draw(st.sampled_from(list(CODE_COLUMNS) + ["assessed_stream", "sex"]))
            v = draw(
                st.sampled_from(
                    [
                        "CPA99",
                        "Nobody",
                        "jsa_x",
                        "zzz",
                        "",
                        " ",
                        "cpa01",
                        "A4E",
                        "CPA01-D99",
                        None,
                        1,
                        "job ready",
                    ]
                )
            )
            df = _set(df, draw(rows), c, v)
    elif kind == "one_prime_strata":
        sub = ALL.iloc[draw(st.integers(0, 9000)) :][:60].copy()
        d = draw(st.sampled_from(sorted(sub["district"].astype(str).unique())))
        m = sub["district"].astype(str) == d
        sub.loc[m, "prime"] = sub.loc[m, "prime"].iloc[0]
        df = sub.reset_index(drop=True)
    elif kind == "extreme_values":
        for _ in range(draw(st.integers(1, 4))):
            c = draw(
                st.sampled_from(
                    [
                        "sustainment_payments",
                        "age",
                        "benefit_duration_days",
                        "allocation_prob",
                        "person_id",
                    ]
                )
            )
            v = draw(
                st.one_of(
                    st.sampled_from(
                        [1e308, 5e-324, -1e-300, 2**63 - 1, 2**63, -(2**63), 2**64, 10**40, 1e18]
                    ),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(-(2**70), 2**70),
                )
            )
            df = _set(df, draw(rows), c, v)
    elif kind == "column_labels":
        how = draw(st.sampled_from(["duplicate", "multiindex", "padded", "upper", "int"]))
        if how == "duplicate":
            c = draw(st.sampled_from(cols))
            df = pd.concat([df, df[[c]]], axis=1)
        elif how == "multiindex":
            df.columns = pd.MultiIndex.from_tuples([(c, "x") for c in df.columns])
        elif how == "padded":
            c = draw(st.sampled_from(cols))
            df = df.rename(columns={c: f" {c} "})
        elif how == "upper":
            df.columns = [c.upper() for c in df.columns]
        else:
            df[0] = 1
    elif kind == "header_rows":
        hdr = pd.DataFrame([list(df.columns)] * draw(st.integers(1, 3)), columns=df.columns)
        at = draw(st.integers(0, n))
        df = pd.concat(
            [df.iloc[:at].astype(object), hdr, df.iloc[at:].astype(object)], ignore_index=True
        )
        if draw(st.booleans()):
            df = df.iloc[at : at + len(hdr)]  # nothing but header copies
    elif kind == "combined":
        for k in draw(
            st.lists(
                st.sampled_from(
                    [
                        "cell_values",
                        "dtype",
                        "nan_inf",
                        "duplicate_ids",
                        "dates_out_of_order",
                        "unknown_categories",
                        "extreme_values",
                    ]
                ),
                min_size=2,
                max_size=4,
            )
        ):
            sub = draw(malformed(k))
            # take the broken columns of the sub-draw into df where shapes agree
            if len(sub) == len(df):
                for c in sub.columns:
                    if c in df.columns and not sub[c].equals(BASE[c]):
                        df[c] = sub[c].to_numpy()
    else:  # pragma: no cover
        raise AssertionError(kind)
    return df


# ------------------------------------------------------------------------------ the property
def _outcome(err=None, warns=()) -> str:
    if err is not None:
        return f"{type(err).__name__}({getattr(err, 'rule', '')})"
    return "report + StatisticalWarning" if warns else "report"


def check_validate(df: pd.DataFrame, strict: bool, pre_headers: int = 0) -> str:
    """Run validate; assert the contract of its answer; return a label of the outcome."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rep = validate(df, programme=PROG, strict=strict)
        except DataContractError as err:
            msg = str(err)
            assert err.rule in RULES, msg
            assert len(msg) > 20 and err.rule in msg, msg
            assert len(err.examples) <= 5
            report = getattr(err, "report", None)
            if report is not None:  # strict failure: the full report rides along
                assert report.rows_in == len(df) + pre_headers
                bad = report.rules[report.rules["action"] == "error"]
                assert (bad["n_failing"] > 0).any()
            result = _outcome(err)
        else:
            rules = rep.rules
            assert set(rules["rule"]) == set(RULES)
            assert rep.rows_in == len(df) + pre_headers
            assert rep.rows_in == rep.rows_kept + int(rules["n_dropped"].sum())
            assert rep.rows_kept == len(rep.data)
            assert (rules["n_failing"] >= rules["n_dropped"]).all()
            if strict:
                assert set(rules.loc[rules["n_dropped"] > 0, "rule"]) <= {"repeated_header"}
            data = rep.data
            for c in DATE_COLUMNS:
                if c in data:
                    assert data[c].dtype == "datetime64[ns]", (c, data[c].dtype)
            for c in CODE_COLUMNS:
                assert isinstance(data[c].dtype, pd.CategoricalDtype), c
            if len(data):
                assert data["sustainment_payments"].dtype == np.int64
                assert data["attached"].dtype == bool
                assert not data[list(NOT_NULL)].isna().any().any()
                assert (data["sustainment_payments"] >= 0).all()
                assert data["cpa"].isin(list(PROG.cpas)).all()
            result = _outcome(
                None, [w for w in caught if issubclass(w.category, StatisticalWarning)]
            )
    stray = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if not issubclass(w.category, StatisticalWarning)
    ]
    assert not stray, stray
    return result


KINDS = [
    "missing_column",
    "extra_column",
    "cell_values",
    "dtype",
    "nan_inf",
    "empty",
    "duplicate_ids",
    "dates_out_of_order",
    "unknown_categories",
    "one_prime_strata",
    "extreme_values",
    "column_labels",
    "header_rows",
    "combined",
]


@pytest.mark.parametrize("kind", KINDS)
@_settings(10)
@given(data=st.data())
def test_validate_never_fails_from_inside_pandas(kind, data):
    df = data.draw(malformed(kind))
    strict = data.draw(st.booleans())
    TALLY[("validate", kind, check_validate(df, strict))] += 1


# the outcome a kind must produce when it is on its own (a check the property test cannot do)
def test_kinds_meet_their_rule():
    df = BASE.drop(columns=["prime"])
    with pytest.raises(DataContractError, match="prime") as e:
        validate(df, programme=PROG)
    assert e.value.rule == "missing_columns"
    with pytest.raises(DataContractError, match="no rows") as e:
        validate(BASE.iloc[:0], programme=PROG, strict=False)
    assert e.value.rule == "no_rows"
    with pytest.raises(DataContractError, match="repeated") as e:
        validate(pd.concat([BASE, BASE[["cpa"]]], axis=1), programme=PROG)
    assert e.value.rule == "column_labels" and e.value.column == "cpa"
    # a count beyond int64, a list as an id, a number as a date: counted, not crashed
    df = _set(
        _set(_set(BASE.copy(), [0], "sustainment_payments", 1e300), [1], "person_id", [1, 2]),
        [2],
        "referral_date",
        12345,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        rep = validate(df, programme=PROG, strict=False)
    r = rep.rules.set_index(["rule", "column"])
    assert r.loc[("not_integer", "sustainment_payments"), "n_dropped"] == 1
    assert r.loc[("not_scalar", "person_id"), "n_dropped"] == 1
    assert r.loc[("unparsable_date", "referral_date"), "n_dropped"] == 1
    assert rep.rows_kept == len(BASE) - 3
    # a flag of 2 is not a flag (it used to become missing and be kept)
    df = BASE.copy()
    df["attached"] = df["attached"].astype(float)
    df.loc[4, "attached"] = 2.0
    with pytest.raises(DataContractError) as e, warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        validate(df, programme=PROG)
    assert e.value.rule == "not_boolean" and BASE.at[4, "person_id"] in e.value.examples
    # every row dropped: a StatisticalWarning says so
    df = BASE.copy()
    df["cpa"] = "CPA99"
    with pytest.warns(StatisticalWarning, match="every one of the 36 rows was dropped"):
        assert validate(df, programme=PROG, strict=False).rows_kept == 0


# ------------------------------------------------------------------------------ invariance
@_settings(10)
@given(data=st.data())
def test_row_order_does_not_change_counts(data):
    df = data.draw(
        malformed(
            data.draw(
                st.sampled_from(
                    [
                        "cell_values",
                        "duplicate_ids",
                        "dates_out_of_order",
                        "unknown_categories",
                        "nan_inf",
                        "combined",
                        "header_rows",
                    ]
                )
            )
        )
    )
    perm = data.draw(st.permutations(range(len(df))))
    shuffled = df.iloc[list(perm)]
    if data.draw(st.booleans()):
        shuffled = shuffled.reset_index(drop=True)

    def counts(frame):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)
            try:
                rep = validate(frame, programme=PROG, strict=False)
            except DataContractError as err:
                return ("error", err.rule)
        t = rep.rules
        return (
            rep.rows_in,
            rep.rows_kept,
            tuple(zip(t["rule"], t["column"], t["n_failing"], t["n_dropped"])),
        )

    a, b = counts(df), counts(shuffled)
    assert a == b
    TALLY[("invariance", "row order", "same counts")] += 1


def test_duplicates_judged_among_valid_rows():
    """Two copies of a referral, one failing another rule: one row is kept whichever comes
    first (before the fix the copy after a dropped row was dropped as a duplicate too)."""
    good = BASE.iloc[[0]]
    bad = good.assign(sustainment_payments=-1)
    kept = []
    for df in (pd.concat([good, bad]), pd.concat([bad, good])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)
            rep = validate(
                pd.concat([df, BASE.iloc[1:]], ignore_index=True), programme=PROG, strict=False
            )
        r = rep.rules.set_index(["rule", "column"])
        assert r.loc[("negative_count", "sustainment_payments"), "n_dropped"] == 1
        assert r.loc[("duplicate_referral", "person_id"), "n_dropped"] == 0
        kept.append(rep.rows_kept)
    assert kept == [len(BASE), len(BASE)]
    # two versions of one referral that disagree (another district of the same CPA and a
    # different prime): neither can be trusted, both are dropped, in either order
    cpa = str(BASE.at[0, "cpa"])
    other = ALL[(ALL["cpa"].astype(str) == cpa) & (ALL["prime"] != BASE.at[0, "prime"])]
    twin = BASE.iloc[[0]].assign(prime=other["prime"].iloc[0], district=other["district"].iloc[0])
    for df in (pd.concat([BASE, twin]), pd.concat([twin, BASE])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StatisticalWarning)
            rep = validate(df, programme=PROG, strict=False)
        r = rep.rules.set_index(["rule", "column"])
        assert r.loc[("conflicting_duplicate", "person_id"), "n_dropped"] == 2
        assert r.loc[("duplicate_referral", "person_id"), "n_dropped"] == 0
        assert rep.rows_kept == len(BASE) - 1


# ------------------------------------------------------------------------------ io readers
CELL_TEXT = st.text(
    alphabet=st.sampled_from(list("0123456789-/.,;:\"' \tabcAZ\u00e9\r\n\u00a3\ufeff")), max_size=12
)


@_settings(18)
@given(data=st.data())
def test_csv_of_random_text_accounts_for_every_line(data, tmp_path_factory):
    """A well-formed CSV (csv module) whose fields are random text: reading then validating
    never crashes, and rows_in equals the number of records written."""
    header = list(BASE.columns)
    n = data.draw(st.integers(1, 8))
    recs = BASE.astype(object).where(BASE.notna(), "").astype(str).iloc[:n].values.tolist()
    for _ in range(data.draw(st.integers(0, 6))):
        recs[data.draw(st.integers(0, n - 1))][data.draw(st.integers(0, len(header) - 1))] = (
            data.draw(CELL_TEXT)
        )
    if data.draw(st.booleans()):
        recs.insert(data.draw(st.integers(0, n)), header)
    crlf, bom = data.draw(st.booleans()), data.draw(st.booleans())
    buf = io.StringIO(newline="")
    w = csv.writer(
        buf,
        lineterminator="\r\n" if crlf else "\n",
        quoting=data.draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
    )
    w.writerow(header)
    w.writerows(recs)
    path = tmp_path_factory.mktemp("csv") / "x.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            df = read_referrals(path)
        except DataContractError as err:
            assert err.rule in RULES or err.rule.startswith("file_"), err
            TALLY[("io", "csv random text", _outcome(err))] += 1
            return
    stray = [
        str(w.message)
        for w in caught
        if not (
            issubclass(w.category, StatisticalWarning)
            or (issubclass(w.category, UserWarning) and "ambiguous" in str(w.message))
        )
    ]
    assert not stray, stray
    info = df.attrs["wpeval_read"]
    # the records in the file as Python's csv module reads them (an independent parser; a
    # bare carriage return inside an unquoted field ends a record for every parser)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        n_file = sum(1 for r in csv.reader(fh) if r) - 1
    assert info["rows_read"] == n_file
    out = check_validate(df, strict=False, pre_headers=info["repeated_header"])
    TALLY[("io", "csv random text", out)] += 1


@_settings(18)
@given(
    blob=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".parquet"]), head=st.booleans()
)
def test_random_bytes_give_a_clear_error(blob, suffix, head, tmp_path_factory):
    if head:  # a valid header line, then junk
        blob = (",".join(BASE.columns) + "\n").encode() + blob
    path = tmp_path_factory.mktemp("bin") / f"junk{suffix}"
    path.write_bytes(blob)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            df = read_referrals(path)
        except DataContractError as err:
            assert str(path.name) in str(err), err
            TALLY[("io", f"random bytes {suffix}", _outcome(err))] += 1
            return
    assert not [w for w in caught if not issubclass(w.category, UserWarning)]
    out = check_validate(df, strict=False, pre_headers=df.attrs["wpeval_read"]["repeated_header"])
    TALLY[("io", f"random bytes {suffix}", out)] += 1


@_settings(14)
@given(data=st.data())
def test_parquet_of_malformed_frames(data, tmp_path_factory):
    """Malformed frames written to Parquet (what pyarrow can store) read back and validate
    without a crash, with every row accounted for."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = data.draw(
        malformed(
            data.draw(
                st.sampled_from(
                    [
                        "cell_values",
                        "dtype",
                        "nan_inf",
                        "extreme_values",
                        "unknown_categories",
                        "dates_out_of_order",
                        "missing_column",
                        "extra_column",
                    ]
                )
            )
        )
    )
    df.columns = [str(c) for c in df.columns]
    if df.columns.duplicated().any():
        return
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        # pyarrow refuses mixed object columns: store them as text, as an export tool would
        df = df.apply(
            lambda s: s.map(lambda v: None if v is None else str(v)) if s.dtype == object else s
        )
        table = pa.Table.from_pandas(df, preserve_index=False)
    path = tmp_path_factory.mktemp("pq") / "x.parquet"
    pq.write_table(table, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        back = read_referrals(path)
    assert not [str(w.message) for w in caught if "ambiguous" not in str(w.message)]
    assert len(back) == table.num_rows
    TALLY[("io", "parquet of malformed frame", check_validate(back, strict=False))] += 1


def test_file_too_big_is_refused(tmp_path, monkeypatch):
    from wpeval.data import io as wio

    path = tmp_path / "x.csv"
    BASE.to_csv(path, index=False)
    size = path.stat().st_size
    with pytest.raises(DataContractError, match="over the limit") as e:
        read_referrals(path, max_bytes=size - 1)
    assert e.value.rule == "file_too_large"
    assert len(read_referrals(path, max_bytes=size)) == len(BASE)
    for bad in (-1, 1.5, "1GB", True):
        with pytest.raises(Exception) as e:
            read_referrals(path, max_bytes=bad)
        assert type(e.value).__name__ == "ParameterError"
    # default: compare the estimated in-memory size with the memory available
    pq_path = tmp_path / "x.parquet"
    BASE.to_parquet(pq_path)
    monkeypatch.setattr(wio, "available_memory", lambda: 1000)
    for p in (path, pq_path):
        with pytest.raises(DataContractError, match="GiB is available") as e:
            read_referrals(p)
        assert e.value.rule == "file_too_large"
    monkeypatch.setattr(wio, "available_memory", lambda: None)  # unknown: read
    assert len(read_referrals(pq_path)) == len(BASE)
    TALLY[("io", "file too big (limit)", "DataContractError(file_too_large)")] += 3
