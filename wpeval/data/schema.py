"""The referral-level data contract and its checks.

One row per referral. Required columns: ``person_id, referral_date, cpa, district, prime,
payment_group, attached, job_start_date, job_outcome_date, job_end_date, exit_date,
data_end_date, sustainment_payments``. Optional: ``attachment_date, age, sex, disability,
benefit_duration_days, allocation_prob, assessed_stream`` (and any other column, passed through).

:func:`validate` checks every rule in :data:`RULES` with vectorised masks, coerces the types
(dates to ``datetime64[ns]``, codes to ``category``, counts to int64, flags to bool) and
returns a :class:`ChecksReport` recording, for every rule, how many rows fail it and what was
done (``error``: raised; ``dropped``: rows removed when ``strict=False``; ``recoded``: values
changed; ``warning``: kept, reported). Nothing is dropped or recoded silently: with
``strict=False`` each dropped row is attributed to the first rule it fails, so
``rows_in == rows_kept + sum(n_dropped)``.

Malformed input never escapes as a pandas/numpy exception: a frame that cannot be checked at all
(no rows, repeated or nested column labels, required columns absent, a district under two CPAs)
raises :class:`DataContractError`; a bad value is a row failing a rule. Copies of the header
line inside the data (CSV files joined together) are not data: they are always dropped and
counted (rule ``repeated_header``), including those :func:`wpeval.data.io.read_referrals` already
removed while reading (it leaves their count in ``df.attrs["wpeval_read"]``), so ``rows_in`` is
the number of data lines of the file.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from wpeval.data import programme as _programme
from wpeval.exceptions import DataContractError, ParameterError, StatisticalWarning

REQUIRED = ("person_id", "referral_date", "cpa", "district", "prime", "payment_group",
            "attached", "job_start_date", "job_outcome_date", "job_end_date", "exit_date",
            "data_end_date", "sustainment_payments")
#: required columns that may not be missing in any row
NOT_NULL = ("person_id", "referral_date", "cpa", "district", "prime", "payment_group",
            "attached", "data_end_date", "sustainment_payments")
DATE_COLUMNS = ("referral_date", "attachment_date", "job_start_date", "job_outcome_date",
                "job_end_date", "exit_date", "data_end_date")
COUNT_COLUMNS = ("sustainment_payments", "age", "benefit_duration_days")
BOOL_COLUMNS = ("attached", "disability")
CODE_COLUMNS = ("cpa", "district", "prime", "payment_group")
STREAMS = ("job_ready", "needs_support", "furthest_from_work")
OPTIONAL = ("attachment_date", "age", "sex", "disability", "benefit_duration_days",
            "allocation_prob", "assessed_stream")
#: a text date: ISO year-month-day, optional time, optional UTC offset (dropped: wall time kept)
_ISO_TEXT = r"^(\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?)(?:Z|[+-]\d{2}:?\d{2})?$"
#: pandas' inferred kinds of an object column that cannot hold a container
_SCALAR_KINDS = {"string", "empty", "integer", "floating", "mixed-integer-float", "boolean",
                 "datetime", "datetime64", "date", "decimal", "timedelta", "time", "period",
                 "bytes", "categorical", "complex"}
_INT64_LIMIT = 2.0 ** 63
#: rules that need an optional column (listed as "not checked" when it is absent)
_OPTIONAL_RULES = {"invalid_probability": "allocation_prob", "unknown_stream": "assessed_stream",
                   "attachment_inconsistent": "attachment_date",
                   "attachment_before_referral": "attachment_date", "sex_recoded": "sex",
                   "age_implausible": "age"}
_SEX = {"f": "F", "female": "F", "w": "F", "woman": "F", "m": "M", "male": "M", "man": "M"}
_BOOL_TEXT = {"true": True, "t": True, "1": True, "yes": True, "y": True,
              "false": False, "f": False, "0": False, "no": False, "n": False}

#: rule name -> (kind, description). kind "row": rows failing are errors (raise / drop);
#: "drop": rows that are not data, dropped and counted even when strict; "recode": values
#: changed and counted; "warn": reported only.
RULES: dict[str, tuple[str, str]] = {
    "missing_columns": ("row", "a required column is absent"),
    "column_labels": ("row", "column labels repeated or not plain names (always raises)"),
    "no_rows": ("row", "the data have no rows (always raises)"),
    "repeated_header": ("drop", "a copy of the header line inside the data (always dropped)"),
    "not_scalar": ("row", "a list, dict or other container where one value is expected"),
    "null_required": ("row", "a required field is empty"),
    "unparsable_date": ("row", "a date that cannot be parsed"),
    "not_boolean": ("row", "a flag that is not true/false"),
    "not_integer": ("row", "a count that is not a whole number"),
    "invalid_probability": ("row", "allocation_prob not a number in (0, 1]"),
    "unknown_payment_group": ("row", "payment group not in the programme"),
    "unknown_cpa": ("row", "CPA not in the programme"),
    "prime_not_in_cpa": ("row", "prime is not a contract of the row's CPA"),
    "district_in_several_cpas": ("row", "a district under two or more CPAs (always raises)"),
    "district_not_in_cpa": ("row", "district not in the row's CPA (districts mapping)"),
    "unknown_stream": ("row", f"assessed_stream not one of {list(STREAMS)}"),
    "duplicate_referral": ("row", "an exact copy of an earlier row (same person_id and "
                                  "referral_date, same contract fields)"),
    "conflicting_duplicate": ("row", "same person_id and referral_date as another row but "
                                     "different contract fields: every copy dropped"),
    "negative_count": ("row", "a count below zero"),
    "sustainment_over_cap": ("row", "more sustainment payments than the group's cap"),
    "sustainment_without_outcome": ("row", "sustainment payments but no job outcome"),
    "attachment_inconsistent": ("row", "attachment_date given for a row not attached"),
    "attachment_before_referral": ("row", "attachment_date before referral_date"),
    "job_start_before_referral": ("row", "job_start_date before referral_date"),
    "outcome_without_job_start": ("row", "job_outcome_date without a job_start_date"),
    "outcome_before_job_start": ("row", "job_outcome_date before job_start_date"),
    "job_end_before_job_start": ("row", "job_end_date before job_start_date"),
    "exit_before_referral": ("row", "exit_date before referral_date"),
    "date_after_extract": ("row", "a date after data_end_date"),
    "code_normalised": ("recode", "spaces around a code removed (a blank code becomes "
                                  "missing, then fails null_required)"),
    "sex_recoded": ("recode", "sex written another way (e.g. 'female') recoded to F/M; "
                              "other values set to missing"),
    "age_implausible": ("warn", "age outside 16-70"),
    "single_prime_stratum": ("warn", "district x period stratum with one prime only: no "
                                     "within-stratum comparison"),
}


@dataclass(frozen=True)
class ChecksReport:
    """Outcome of :func:`validate`.

    Attributes
    ----------
    rows_in, rows_kept : int
        Rows received and rows in ``data``; ``rows_in == rows_kept + rules.n_dropped.sum()``.
    rules : DataFrame
        One row per rule (and column): ``rule, column, description, n_failing, n_dropped,
        action, examples`` (up to 5 person_ids, stratum labels, or data-row labels for
        ``repeated_header``). ``action`` is ``error``, ``dropped``, ``recoded``, ``warning``,
        or ``not checked (column absent)`` for a rule on an optional column not present.
    data : DataFrame
        The cleaned frame with coerced dtypes.
    strict : bool
    period_freq : str
    """

    rows_in: int
    rows_kept: int
    rules: pd.DataFrame
    data: pd.DataFrame = field(repr=False)
    strict: bool = True
    period_freq: str = "Q"

    @property
    def rows_dropped(self) -> int:
        return int(self.rows_in - self.rows_kept)

    def to_frame(self) -> pd.DataFrame:
        """The rules table (a copy)."""
        return self.rules.copy()

    def to_dict(self) -> dict:
        """JSON-ready summary (no data)."""
        recs = []
        for r in self.rules.to_dict("records"):
            r = dict(r)
            r["n_failing"], r["n_dropped"] = int(r["n_failing"]), int(r["n_dropped"])
            r["examples"] = [x.item() if hasattr(x, "item") else x for x in r["examples"]]
            recs.append(r)
        return {"rows_in": int(self.rows_in), "rows_kept": int(self.rows_kept),
                "rows_dropped": self.rows_dropped, "strict": self.strict,
                "period_freq": self.period_freq, "rules": recs}

    def _repr_html_(self) -> str:
        tab = self.rules.assign(examples=self.rules["examples"].map(
            lambda v: ", ".join(map(str, v))))
        return (f"<div class='wpeval-checks'><p><strong>Data checks</strong>: "
                f"{self.rows_in:,} rows in, {self.rows_kept:,} kept, "
                f"{self.rows_dropped:,} dropped</p>"
                + tab.to_html(index=False, escape=True) + "</div>")

    def __repr__(self) -> str:
        failing = int((self.rules["n_failing"] > 0).sum())
        return (f"<ChecksReport rows_in={self.rows_in} rows_kept={self.rows_kept} "
                f"rules_failing={failing}>")


# ------------------------------------------------------------------------------ coercion
def _coerce_dates(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Return (datetime64[ns] series, mask of non-empty values that failed to parse).

    Datetimes are kept (time-zone aware ones at their local wall time: a referral at
    00:00 BST on 1 June is a 1 June referral). Text must be an ISO date (``2011-06-01``,
    optionally with a time and a UTC offset, which is dropped); partial dates (``2011``,
    ``2011-06``), other layouts and dates outside 1677-2262 fail. Numbers and flags are not
    dates (an integer would otherwise be read as nanoseconds since 1970) and fail too.
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_localize(None)
        return s.astype("datetime64[ns]"), np.zeros(len(s), bool)
    present = s.notna().to_numpy()
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        # parse the distinct values only (dates repeat a lot), then map back by code
        codes, uniq = pd.factorize(s.astype("string").str.strip(), use_na_sentinel=True)
        txt = pd.Series(np.asarray(uniq, dtype=object), dtype="string")
        iso = txt.str.fullmatch(_ISO_TEXT).fillna(False)
        clean = txt.where(iso).str.replace(_ISO_TEXT, r"\1", regex=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(clean, format="ISO8601", errors="coerce")
        vals = np.append(parsed.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT"))
        blank = np.append((txt == "").fillna(True).to_numpy(dtype=bool), True)
        present &= ~blank[codes]
        out = pd.Series(vals[codes], index=s.index, name=s.name)
    else:  # numbers, flags, periods, ...: not dates
        out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    out = out.astype("datetime64[ns]")
    return out, present & out.isna().to_numpy()


def _coerce_bool(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.astype(bool), np.zeros(len(s), bool)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        ok = s.isin([0, 1]) | s.isna()
        out = s.where(ok).map({0: False, 1: True, 0.0: False, 1.0: True})
        out = out.where(ok.to_numpy(), None).astype("boolean")
        return out, ~ok.to_numpy()
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    else:
        out = s.map(lambda v: v if isinstance(v, (bool, np.bool_)) or v is None
                    or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                    else _BOOL_TEXT.get(str(v).strip().lower(), "bad"))
    bad = (out == "bad").to_numpy() if out.dtype == object else np.zeros(len(s), bool)
    out = out.where(~bad, None).astype("boolean")
    return out, bad


def _coerce_count(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Return (integer series, mask of non-empty values that are not whole numbers).

    Flags (True/False) are not counts; values beyond the int64 range, infinities and
    fractions fail; text with thousands separators (``"1,234"``) is read as a number.
    """
    from wpeval.data.io import strip_thousands

    if pd.api.types.is_bool_dtype(s):
        return pd.Series(pd.NA, index=s.index, dtype="Int64"), s.notna().to_numpy()
    if pd.api.types.is_unsigned_integer_dtype(s):
        big = (s.astype("float64") >= _INT64_LIMIT).to_numpy()
        if not big.any():
            return s.astype("int64"), big
        return s.where(~big).astype("float64").astype("Int64"), big
    if pd.api.types.is_integer_dtype(s):
        return s, np.zeros(len(s), bool)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    src = strip_thousands(s) if (s.dtype == object or pd.api.types.is_string_dtype(s)) else s
    is_flag = np.zeros(len(s), bool)
    if s.dtype == object:  # True/False inside an object column are not counts
        is_flag = s.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    num = _to_float(src.where(~is_flag) if is_flag.any() else src)
    x = num.to_numpy()
    bad = (num.isna() & s.notna()).to_numpy()
    with np.errstate(invalid="ignore"):
        frac = np.isfinite(x) & (np.mod(np.nan_to_num(x, posinf=0, neginf=0), 1) != 0)
        huge = ~np.isfinite(x) & ~np.isnan(x) | (np.abs(np.nan_to_num(x)) >= _INT64_LIMIT)
    bad |= frac | huge
    out = num.where(~pd.Series(bad, index=s.index)).round().astype("Int64")
    return out, bad


def _to_float(s: pd.Series) -> pd.Series:
    """Numbers as float64 (NaN for anything else: text, flags, complex with an imaginary
    part, containers)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if pd.api.types.is_bool_dtype(s):
        return pd.Series(np.nan, index=s.index)
    num = pd.to_numeric(s, errors="coerce")
    if np.iscomplexobj(num.to_numpy()):
        z = num.to_numpy()
        num = pd.Series(np.where(z.imag == 0, z.real, np.nan), index=s.index)
    elif num.dtype == object:  # pragma: no cover - to_numeric leaves odd objects alone
        num = pd.Series([v if isinstance(v, (int, float, np.number)) and not
                         isinstance(v, (bool, np.bool_)) else np.nan for v in num],
                        index=s.index)
    return num.astype("float64")


def _final_int(s: pd.Series) -> pd.Series:
    return s.astype("int64") if s.notna().all() else s


def _drop_unused(s: pd.Series) -> pd.Series:
    """``cat.remove_unused_categories`` without its sort of every code (bincount instead)."""
    codes = s.cat.codes.to_numpy()
    used = np.bincount(codes[codes >= 0], minlength=len(s.cat.categories)) > 0
    if used.all():
        return s
    return s.cat.set_categories(s.cat.categories[used])


def _categorical(s: pd.Series, order: list | None = None,
                 changed: dict | None = None) -> pd.Series:
    """Categorical with stripped string categories ("" becomes missing); works on the
    categories, not on every row, so it is fast on millions of rows. When ``changed`` is a
    dict, ``changed["mask"]`` receives the rows whose value was altered."""
    if not isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("category")
    s = _drop_unused(s)
    orig = list(s.cat.categories)
    cats = [str(c).strip() for c in orig]
    if len(set(cats)) != len(cats) or "" in cats or cats != orig:
        uniq = sorted(set(cats) - {""})
        pos = {c: i for i, c in enumerate(uniq)}
        remap = np.array([pos.get(c, -1) for c in cats] + [-1])
        old_codes = s.cat.codes.to_numpy()
        codes = remap[old_codes]
        if changed is not None:
            diff = np.array([c != o for c, o in zip(cats, orig)] + [False])
            changed["mask"] = diff[old_codes]
        s = pd.Series(pd.Categorical.from_codes(codes, categories=uniq), index=s.index,
                      name=s.name)
    cats = list(s.cat.categories)
    if order is not None:
        known = [c for c in order if c in cats]
        cats = known + sorted(c for c in cats if c not in set(order))
    else:
        cats = sorted(cats)
    return s.cat.reorder_categories(cats)


# ------------------------------------------------------------------------------ validate
def validate(df: pd.DataFrame, *, programme: Any = None, strict: bool = True,
             period_freq: str = "Q", districts: Mapping[str, str] | None = None
             ) -> ChecksReport:
    """Check a referral-level frame against the data contract.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per referral. Not modified.
    programme : wpeval.data.programme.Programme, str or Path, optional
        Programme reference data (payment groups, CPAs and their primes); a path is passed to
        :func:`wpeval.data.programme.load`. Default: the GB Work Programme, or for data made
        by the synthetic generator (``df.attrs["wpeval_synthetic"]``) its invented prime names
        (:func:`wpeval.data.programme.for_data`).
    strict : bool, default True
        True: any row-level error raises :class:`DataContractError` naming the column, the rule
        and up to 5 offending person_ids (the error's ``report`` attribute holds the full
        report). False: offending rows are dropped and counted.
    period_freq : {"Q", "M", "H"}, default "Q"
        Period of the randomisation stratum district x period (single-prime warning).
    districts : mapping, optional
        District -> CPA mapping. Without it the data's own mapping is used (a district under two
        CPAs always raises).

    Returns
    -------
    ChecksReport

    Raises
    ------
    DataContractError
        Repeated or nested column labels, missing required columns, no data rows, a
        district under two CPAs, or (strict) any row-level error.

    Warns
    -----
    StatisticalWarning
        Referrals in single-prime strata; every row dropped (``strict=False``).
    """
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(f"validate needs a DataFrame, got {type(df).__name__}")
    if period_freq not in ("Q", "M", "H"):
        raise ParameterError(f"period_freq must be 'Q', 'M' or 'H', not {period_freq!r}")
    prog = _programme.for_data(df, programme)  # generated data: the invented prime names
    _check_labels(df)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataContractError(f"required column(s) {missing} are absent (columns present: "
                                f"{_short([str(c) for c in df.columns])})",
                                column=missing[0], rule="missing_columns")
    read_info = df.attrs.get("wpeval_read") if isinstance(df.attrs, dict) else None
    read_info = read_info if isinstance(read_info, Mapping) else {}
    if read_info.get("rows_returned") != len(df):  # a subset or changed frame: not the file
        read_info = {}
    pre_headers = int(read_info.get("repeated_header", 0) or 0)
    header_ex = [str(x) for x in read_info.get("repeated_header_lines", [])][:5]
    data = df.reset_index(drop=True).copy()
    data.attrs = {}
    hdr = _header_rows(data)
    if hdr.any():
        header_ex = (header_ex + [f"row {i + 1}" for i in np.flatnonzero(hdr)])[:5]
        data = data.loc[~hdr].reset_index(drop=True)
    n_headers = pre_headers + int(hdr.sum())
    n_total = len(df) + pre_headers
    if len(data) == 0:
        what = (f"only {n_headers} repeated header line(s)" if n_headers else "no rows")
        raise DataContractError(f"the data have {what}: nothing to check or analyse",
                                rule="no_rows")
    with np.errstate(all="ignore"):
        return _validate_rows(data, prog, strict, period_freq, districts, n_total,
                              n_headers, header_ex)


def _validate_rows(data: pd.DataFrame, prog, strict: bool, period_freq: str, districts,
                   n_total: int, n_headers: int, header_ex: list) -> ChecksReport:
    """The row-level checks of :func:`validate` on a frame with at least one data row."""
    from wpeval.data.design import add_period

    n = len(data)
    fails: list[tuple[str, str, np.ndarray]] = []  # (rule, column, mask) in rule order
    recodes: list[tuple[str, str, np.ndarray]] = []
    warns: list[tuple[str, str, np.ndarray, list]] = []

    def add(rule: str, column: str, mask) -> None:
        fails.append((rule, column, np.asarray(mask, dtype=bool)))

    add("missing_columns", ",".join(REQUIRED), np.zeros(n, bool))  # checked above: raises
    add("column_labels", "", np.zeros(n, bool))  # checked above: raises
    add("no_rows", "", np.zeros(n, bool))  # checked above: raises
    contract = [c for c in REQUIRED + OPTIONAL if c in data.columns]
    scalar_bad = np.zeros(n, bool)
    bad_by_col = {}
    for col in contract:
        m = _not_scalar(data[col])
        if m.any():
            data[col] = data[col].where(~m, None)
            bad_by_col[col] = m
            scalar_bad |= m
    for col in contract:
        if col in bad_by_col:
            add("not_scalar", col, bad_by_col[col])
    if not bad_by_col:
        add("not_scalar", "", scalar_bad)
    pid = data["person_id"]
    groups = list(prog.payment_groups)
    cpas = list(prog.cpas)
    for col, order in (("cpa", cpas), ("district", None), ("prime", None),
                       ("payment_group", groups)):
        ch = {"mask": np.zeros(n, bool)}
        data[col] = _categorical(data[col], order, ch)
        recodes.append(("code_normalised", col, ch["mask"]))
    # types -----------------------------------------------------------------------------
    null = {c: data[c].isna().to_numpy() & ~bad_by_col.get(c, np.zeros(n, bool))
            for c in NOT_NULL}
    for col in NOT_NULL:
        add("null_required", col, null[col])
    for col in DATE_COLUMNS:
        if col in data.columns:
            data[col], bad = _coerce_dates(data[col])
            add("unparsable_date", col, bad)
    for col in BOOL_COLUMNS:
        if col in data.columns:
            data[col], bad = _coerce_bool(data[col])
            add("not_boolean", col, bad)
    for col in COUNT_COLUMNS:
        if col in data.columns:
            data[col], bad = _coerce_count(data[col])
            add("not_integer", col, bad)
    if "allocation_prob" in data.columns:
        p = _to_float(data["allocation_prob"])
        add("invalid_probability", "allocation_prob",
            data["allocation_prob"].notna().to_numpy() & ~((p > 0) & (p <= 1)).to_numpy())
        data["allocation_prob"] = p

    # codes -----------------------------------------------------------------------------
    add("unknown_payment_group", "payment_group",
        ~data["payment_group"].isin(groups).to_numpy() & ~null["payment_group"])
    add("unknown_cpa", "cpa", ~data["cpa"].isin(cpas).to_numpy() & ~null["cpa"])
    ccat, pcat = list(data["cpa"].cat.categories), list(data["prime"].cat.categories)
    valid = np.zeros((len(ccat) + 1, len(pcat) + 1), bool)
    for i, c in enumerate(ccat):
        for p_ in prog.cpas.get(c, {}).get("primes", []):
            if p_ in pcat:
                valid[i, pcat.index(p_)] = True
    cc, pc = data["cpa"].cat.codes.to_numpy(), data["prime"].cat.codes.to_numpy()
    known_cpa = data["cpa"].isin(cpas).to_numpy()
    add("prime_not_in_cpa", "prime", known_cpa & (pc >= 0) & ~valid[cc, pc])
    _district_check(data, districts, add, cpas)  # raises: a district under several CPAs
    add("district_in_several_cpas", "district", np.zeros(n, bool))
    if "assessed_stream" in data.columns:
        data["assessed_stream"] = _categorical(data["assessed_stream"], list(STREAMS))
        add("unknown_stream", "assessed_stream", data["assessed_stream"].notna().to_numpy()
            & ~data["assessed_stream"].isin(STREAMS).to_numpy())

    # duplicates, counts ----------------------------------------------------------------
    dup_at = len(fails)  # filled in below, among rows passing every other rule
    add("duplicate_referral", "person_id", np.zeros(n, bool))
    for col in COUNT_COLUMNS:
        if col in data.columns:
            add("negative_count", col, (data[col] < 0).fillna(False).to_numpy())
    cap_by_group = np.array([prog.payment_groups[g].sustainment_cap for g in groups] + [0])
    gcode = pd.Categorical(data["payment_group"], categories=groups).codes
    cap = np.where(gcode >= 0, cap_by_group[gcode], np.iinfo(np.int64).max)
    sus = data["sustainment_payments"]
    add("sustainment_over_cap", "sustainment_payments", (sus > cap).fillna(False).to_numpy())
    add("sustainment_without_outcome", "sustainment_payments",
        (sus > 0).fillna(False).to_numpy() & data["job_outcome_date"].isna().to_numpy())

    # dates in order --------------------------------------------------------------------
    ref = data["referral_date"]
    lt = lambda a, b: (data[a] < data[b]).to_numpy()  # noqa: E731  NaT compares False
    if "attachment_date" in data.columns:
        add("attachment_inconsistent", "attachment_date",
            data["attachment_date"].notna().to_numpy()
            & (data["attached"] == False).fillna(False).to_numpy())  # noqa: E712
        add("attachment_before_referral", "attachment_date", lt("attachment_date",
                                                                 "referral_date"))
    add("job_start_before_referral", "job_start_date", lt("job_start_date", "referral_date"))
    add("outcome_without_job_start", "job_outcome_date",
        data["job_outcome_date"].notna().to_numpy() & data["job_start_date"].isna().to_numpy())
    add("outcome_before_job_start", "job_outcome_date", lt("job_outcome_date", "job_start_date"))
    add("job_end_before_job_start", "job_end_date", lt("job_end_date", "job_start_date"))
    add("exit_before_referral", "exit_date", lt("exit_date", "referral_date"))
    end = data["data_end_date"]
    for col in DATE_COLUMNS:
        if col in data.columns and col != "data_end_date":
            add("date_after_extract", col, (data[col] > end).to_numpy())
    del ref

    # recodes and warnings on optional covariates ---------------------------------------
    if "sex" in data.columns:  # recode on the categories, not on 2M strings
        s = data["sex"]
        sc = s if isinstance(s.dtype, pd.CategoricalDtype) else s.astype("category")
        orig = list(sc.cat.categories)
        mapped = []
        for v in orig:
            t = str(v).strip()
            mapped.append(t.upper() if t.upper() in ("F", "M") else _SEX.get(t.lower()))
        codes = sc.cat.codes.to_numpy()
        new_code = np.array([{"F": 0, "M": 1}.get(m, -1) for m in mapped] + [-1])[codes]
        changed = np.array([m != v for m, v in zip(mapped, orig)] + [False])[codes]
        recodes.append(("sex_recoded", "sex", changed))
        data["sex"] = pd.Categorical.from_codes(new_code, categories=["F", "M"])
    if "age" in data.columns:
        warns.append(("age_implausible", "age",
                      ((data["age"] < 16) | (data["age"] > 70)).fillna(False).to_numpy(), []))

    # duplicates, judged among rows passing every other rule so that neither the row order
    # nor which copy fails another rule changes what is kept: exact copies keep the first;
    # copies that disagree cannot be told apart, so all of them go
    other = np.zeros(n, bool)
    for _, _, mask in fails:
        other |= mask
    fails[dup_at:dup_at + 1] = [("duplicate_referral", "person_id", np.zeros(n, bool)),
                                ("conflicting_duplicate", "person_id", np.zeros(n, bool))]
    ok = np.flatnonzero(~other)
    if len(ok) > 1:
        key = data.iloc[ok][["person_id", "referral_date"]]
        in_group = key.duplicated(keep=False).to_numpy()
        if in_group.any():
            rows = ok[in_group]
            fields = [c for c in REQUIRED + OPTIONAL if c in data.columns]
            sub = data.iloc[rows][["person_id", "referral_date"]].assign(
                _h=pd.util.hash_pandas_object(data.iloc[rows][fields], index=False)
                .to_numpy())
            n_versions = sub.groupby(["person_id", "referral_date"], sort=False,
                                     observed=True)["_h"].transform("nunique").to_numpy()
            exact = (n_versions == 1) & sub.duplicated(["person_id", "referral_date"],
                                                        keep="first").to_numpy()
            dup = np.zeros(n, bool)
            dup[rows[exact]] = True
            conflict = np.zeros(n, bool)
            conflict[rows[n_versions > 1]] = True
            fails[dup_at] = ("duplicate_referral", "person_id", dup)
            fails[dup_at + 1] = ("conflicting_duplicate", "person_id", conflict)

    # attribute each failing row to its first rule ---------------------------------------
    first = np.zeros(n, bool)
    rows = []
    for rule, col, mask in fails:
        newly = mask & ~first
        first |= mask
        rows.append((rule, col, int(mask.sum()), int(newly.sum()), _examples(pid, mask)))
    failing = [r for r in rows if r[2] > 0]
    action = "error" if strict else "dropped"
    table = [dict(rule=r, column=c, description=RULES[r][1], n_failing=nf,
                  n_dropped=0 if strict else nd, action=action, examples=ex)
             for r, c, nf, nd, ex in rows]
    table.insert(3, dict(rule="repeated_header", column="", description=RULES[
        "repeated_header"][1], n_failing=n_headers, n_dropped=n_headers, action="dropped",
        examples=header_ex))
    for rule, col, mask in recodes:
        table.append(dict(rule=rule, column=col, description=RULES[rule][1],
                          n_failing=int(mask.sum()), n_dropped=0, action="recoded",
                          examples=_examples(pid, mask)))
    kept = data.loc[~first].reset_index(drop=True) if not strict else data
    # single-prime strata on the kept rows (needs valid dates and codes)
    if not strict or not failing:
        mask, labels = _single_prime(kept, period_freq, add_period)
        warns.append(("single_prime_stratum", "prime", mask, labels))
    for rule, col, mask, labels in warns:
        src_pid = kept["person_id"] if rule == "single_prime_stratum" else pid
        table.append(dict(rule=rule, column=col, description=RULES[rule][1],
                          n_failing=int(mask.sum()), n_dropped=0, action="warning",
                          examples=labels or _examples(src_pid, mask)))
    listed = {r["rule"] for r in table}
    for rule, col in _OPTIONAL_RULES.items():  # optional column absent: say so
        if rule not in listed:
            table.append(dict(rule=rule, column=col, description=RULES[rule][1], n_failing=0,
                              n_dropped=0, action="not checked (column absent)", examples=[]))
    if "single_prime_stratum" not in listed:  # strict with row errors: strata not checked
        table.append(dict(rule="single_prime_stratum", column="prime",
                          description=RULES["single_prime_stratum"][1], n_failing=0,
                          n_dropped=0, action="not checked (row errors)", examples=[]))
    rules = pd.DataFrame(table, columns=["rule", "column", "description", "n_failing",
                                         "n_dropped", "action", "examples"])
    if strict and failing:
        rule, col, nf, _, ex = failing[0]
        report = ChecksReport(n_total, n_total - n_headers, rules, data, strict, period_freq)
        others = [f"{r}({c}): {k}" for r, c, k, _, _ in failing[1:]]
        msg = f"{nf:,} row(s) break the data contract: {RULES[rule][1]}"
        if others:
            msg += f" (also failing: {', '.join(others[:6])}{' ...' if len(others) > 6 else ''})"
        err = DataContractError(msg, column=col, rule=rule, examples=ex)
        err.report = report
        raise err
    for col in ("sustainment_payments",):
        kept[col] = _final_int(kept[col])
    for col in ("age", "benefit_duration_days"):
        if col in kept.columns:
            kept[col] = _final_int(kept[col])
    for col in BOOL_COLUMNS:
        if col in kept.columns and not kept[col].isna().any():
            kept[col] = kept[col].astype(bool)
    for col in CODE_COLUMNS + (("assessed_stream",) if "assessed_stream" in kept else ()):
        kept[col] = _drop_unused(kept[col])
    sp = rules.loc[rules["rule"] == "single_prime_stratum"]
    if len(sp) and sp["n_failing"].iloc[0] > 0:
        warnings.warn(f"{int(sp['n_failing'].iloc[0]):,} referral(s) are in district x period "
                      f"strata with one prime only (e.g. {sp['examples'].iloc[0][:3]}): no "
                      "within-stratum comparison there", StatisticalWarning, stacklevel=3)
    if len(kept) == 0:
        warnings.warn(f"every one of the {n_total:,} rows was dropped by the checks (see the "
                      "report's rules table): nothing left to analyse", StatisticalWarning,
                      stacklevel=3)
    return ChecksReport(n_total, len(kept), rules, kept, strict, period_freq)


def _short(items: list, k: int = 12) -> str:
    return ", ".join(map(repr, items[:k])) + (" ..." if len(items) > k else "")


def _check_labels(df: pd.DataFrame) -> None:
    """Column labels must be flat and unique (a repeated name makes ``df[col]`` a frame)."""
    if isinstance(df.columns, pd.MultiIndex):
        raise DataContractError(f"columns have {df.columns.nlevels} levels "
                                f"({_short([str(c) for c in df.columns[:3]], 3)}); the data "
                                "need one column per field, flat names", rule="column_labels")
    dup = df.columns[df.columns.duplicated()]
    if len(dup):
        raise DataContractError(f"column name(s) repeated: {_short(sorted(map(str, set(dup))))}"
                                "; each field must appear once", column=str(dup[0]),
                                rule="column_labels")


def _header_rows(data: pd.DataFrame) -> np.ndarray:
    """Rows that repeat the header line (person_id, referral_date and cpa equal their names)."""
    mask = np.ones(len(data), bool)
    for col in ("person_id", "referral_date", "cpa"):
        s = data[col]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s)
                or isinstance(s.dtype, pd.CategoricalDtype)):
            return np.zeros(len(data), bool)
        if isinstance(s.dtype, pd.CategoricalDtype):
            if col not in set(map(str, s.cat.categories)):
                return np.zeros(len(data), bool)
            s = s.astype(object)
        eq = s.map(lambda v: isinstance(v, str) and v.strip() == col).to_numpy(dtype=bool) \
            if s.dtype == object else (s.str.strip() == col).fillna(False).to_numpy(dtype=bool)
        mask &= eq
        if not mask.any():
            return mask
    return mask


def _not_scalar(s: pd.Series) -> np.ndarray:
    """Rows holding a container (list, dict, array, ...) in an object column."""
    if s.dtype != object:
        return np.zeros(len(s), bool)
    if pd.api.types.infer_dtype(s, skipna=True) in _SCALAR_KINDS:
        return np.zeros(len(s), bool)
    return s.map(lambda v: isinstance(v, (list, tuple, dict, set, frozenset, np.ndarray,
                                          pd.Series, pd.DataFrame, pd.Index))
                 ).to_numpy(dtype=bool)


def _examples(pid: pd.Series, mask: np.ndarray) -> list:
    idx = np.flatnonzero(mask)[:5]
    return [v.item() if hasattr(v, "item") else v for v in pid.to_numpy()[idx]]


def _district_check(data: pd.DataFrame, districts, add, cpas=None) -> None:
    """A district under two or more *known* CPAs raises (a row with an unknown CPA fails
    ``unknown_cpa`` instead); with a ``districts`` mapping, rows off the mapping fail."""
    ok = data["district"].notna() & data["cpa"].notna()
    if cpas is not None:
        ok &= data["cpa"].isin(cpas)
    pairs = (pd.DataFrame({"d": data["district"].cat.codes[ok], "c": data["cpa"].cat.codes[ok]})
             .drop_duplicates())
    multi = pairs["d"][pairs["d"].duplicated()].unique()
    if len(multi):
        dcat = data["district"].cat.categories
        name = dcat[multi[0]]
        sub = data.loc[(data["district"] == name) & ok, ["cpa", "person_id"]]
        minority = sub["cpa"].astype(object).value_counts().index[-1]
        ex = sub.loc[sub["cpa"].astype(object) == minority, "person_id"].head(5).tolist()
        cpas_of = sorted(map(str, sub["cpa"].dropna().unique()))
        raise DataContractError(f"district {name!r} appears under {len(cpas_of)} CPAs "
                                f"{cpas_of}; a district must belong to exactly one CPA "
                                f"({len(multi)} such district(s))", column="district",
                                rule="district_in_several_cpas", examples=ex)
    if districts is not None:
        mapped = data["district"].astype(object).map(dict(districts))
        bad = (mapped.isna() | (mapped != data["cpa"].astype(object))).to_numpy() & \
            (data["district"].notna() & data["cpa"].notna()).to_numpy()
        add("district_not_in_cpa", "district", bad)
    else:
        add("district_not_in_cpa", "district", np.zeros(len(data), bool))


def _single_prime(kept: pd.DataFrame, freq: str, add_period) -> tuple[np.ndarray, list]:
    if kept.empty:
        return np.zeros(0, bool), []
    per = add_period(kept[["referral_date"]], freq=freq)["period"]
    key = pd.DataFrame({"d": kept["district"].cat.codes.to_numpy(),
                        "p": per.cat.codes.to_numpy(), "x": kept["prime"].cat.codes.to_numpy()})
    k = key.groupby(["d", "p"], sort=False)["x"].transform("nunique").to_numpy()
    mask = k == 1
    labels = []
    if mask.any():
        sub = key[mask].drop_duplicates(["d", "p"]).head(5)
        dcat, pcat = kept["district"].cat.categories, per.cat.categories
        labels = [f"{dcat[d]} {pcat[p]}" for d, p in zip(sub["d"], sub["p"])]
    return mask, labels
