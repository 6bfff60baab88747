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
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from . import programme as _programme
from .exceptions import DataContractError, ParameterError, StatisticalWarning

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
_SEX = {"f": "F", "female": "F", "w": "F", "woman": "F", "m": "M", "male": "M", "man": "M"}
_BOOL_TEXT = {"true": True, "t": True, "1": True, "yes": True, "y": True,
              "false": False, "f": False, "0": False, "no": False, "n": False}

#: rule name -> (kind, description). kind "row": rows failing are errors (raise / drop);
#: "recode": values changed and counted; "warn": reported only.
RULES: dict[str, tuple[str, str]] = {
    "missing_columns": ("row", "a required column is absent"),
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
    "duplicate_referral": ("row", "same person_id and referral_date as an earlier row"),
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
        action, examples`` (up to 5 person_ids, or stratum labels).
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
    """Return (datetime64[ns] series, mask of non-empty values that failed to parse)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        return s.astype("datetime64[ns]"), np.zeros(len(s), bool)
    present = s.notna().to_numpy()
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        txt = s.astype("string").str.strip()
        present &= (txt != "").fillna(False).to_numpy()
        out = pd.to_datetime(txt.where(txt != ""), format="ISO8601", errors="coerce")
    else:
        out = pd.to_datetime(s, errors="coerce")
    out = out.astype("datetime64[ns]")
    return out, present & out.isna().to_numpy()


def _coerce_bool(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.astype(bool), np.zeros(len(s), bool)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        ok = s.isin([0, 1]) | s.isna()
        out = s.where(ok).map({0: False, 1: True, 0.0: False, 1.0: True})
    else:
        out = s.map(lambda v: v if isinstance(v, (bool, np.bool_)) or v is None
                    or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                    else _BOOL_TEXT.get(str(v).strip().lower(), "bad"))
    bad = (out == "bad").to_numpy() if out.dtype == object else np.zeros(len(s), bool)
    out = out.where(~bad, None).astype("boolean")
    return out, bad


def _coerce_count(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s, np.zeros(len(s), bool)
    num = pd.to_numeric(s, errors="coerce").astype("float64")
    bad = (num.isna() & s.notna()).to_numpy()
    frac = np.isfinite(num.to_numpy()) & (np.mod(num.fillna(0).to_numpy(), 1) != 0)
    inf = np.isinf(num.to_numpy())
    bad |= frac | inf
    out = num.where(~pd.Series(bad, index=s.index)).round().astype("Int64")
    return out, bad


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
    programme : wpeval.programme.Programme, str or Path, optional
        Programme reference data (payment groups, CPAs and their primes); a path is passed to
        :func:`wpeval.programme.load`. Default: the GB Work Programme.
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
        Missing required columns, a district under two CPAs, or (strict) any row-level error.
    """
    from .design import add_period

    if not isinstance(df, pd.DataFrame):
        raise ParameterError(f"validate needs a DataFrame, got {type(df).__name__}")
    if period_freq not in ("Q", "M", "H"):
        raise ParameterError(f"period_freq must be 'Q', 'M' or 'H', not {period_freq!r}")
    prog = programme if isinstance(programme, _programme.Programme) else \
        _programme.load(programme)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataContractError(f"required column(s) {missing} are absent",
                                column=missing[0], rule="missing_columns")
    n = len(df)
    data = df.reset_index(drop=True).copy()
    pid = data["person_id"]
    fails: list[tuple[str, str, np.ndarray]] = []  # (rule, column, mask) in rule order
    recodes: list[tuple[str, str, np.ndarray]] = []
    warns: list[tuple[str, str, np.ndarray, list]] = []

    def add(rule: str, column: str, mask) -> None:
        fails.append((rule, column, np.asarray(mask, dtype=bool)))

    add("missing_columns", ",".join(REQUIRED), np.zeros(n, bool))  # checked above: raises
    groups = list(prog.payment_groups)
    cpas = list(prog.cpas)
    for col, order in (("cpa", cpas), ("district", None), ("prime", None),
                       ("payment_group", groups)):
        ch = {"mask": np.zeros(n, bool)}
        data[col] = _categorical(data[col], order, ch)
        recodes.append(("code_normalised", col, ch["mask"]))
    # types -----------------------------------------------------------------------------
    null = {c: data[c].isna().to_numpy() for c in NOT_NULL}
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
        p = pd.to_numeric(data["allocation_prob"], errors="coerce").astype("float64")
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
    _district_check(data, districts, add)  # raises for a district under several CPAs
    add("district_in_several_cpas", "district", np.zeros(n, bool))
    if "assessed_stream" in data.columns:
        data["assessed_stream"] = _categorical(data["assessed_stream"], list(STREAMS))
        add("unknown_stream", "assessed_stream", data["assessed_stream"].notna().to_numpy()
            & ~data["assessed_stream"].isin(STREAMS).to_numpy())

    # duplicates, counts ----------------------------------------------------------------
    add("duplicate_referral", "person_id",
        data.duplicated(["person_id", "referral_date"], keep="first").to_numpy()
        & ~null["person_id"] & ~null["referral_date"])
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
    rules = pd.DataFrame(table, columns=["rule", "column", "description", "n_failing",
                                         "n_dropped", "action", "examples"])
    if strict and failing:
        rule, col, nf, _, ex = failing[0]
        report = ChecksReport(n, n, rules, data, strict, period_freq)
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
                      "within-stratum comparison there", StatisticalWarning, stacklevel=2)
    return ChecksReport(n, len(kept), rules, kept, strict, period_freq)


def _examples(pid: pd.Series, mask: np.ndarray) -> list:
    idx = np.flatnonzero(mask)[:5]
    return [v.item() if hasattr(v, "item") else v for v in pid.to_numpy()[idx]]


def _district_check(data: pd.DataFrame, districts, add) -> None:
    ok = data["district"].notna() & data["cpa"].notna()
    pairs = (pd.DataFrame({"d": data["district"].cat.codes[ok], "c": data["cpa"].cat.codes[ok]})
             .drop_duplicates())
    multi = pairs["d"][pairs["d"].duplicated()].unique()
    if len(multi):
        dcat = data["district"].cat.categories
        name = dcat[multi[0]]
        sub = data.loc[data["district"] == name, ["cpa", "person_id"]]
        minority = sub["cpa"].astype(object).value_counts().index[-1]
        ex = sub.loc[sub["cpa"].astype(object) == minority, "person_id"].head(5).tolist()
        cpas_of = sorted(map(str, sub["cpa"].dropna().unique()))
        raise DataContractError(f"district {name!r} appears under {len(cpas_of)} CPAs "
                                f"{cpas_of}; a district must belong to exactly one CPA "
                                f"({len(multi)} such district(s))", column="district",
                                rule="district_in_several_cpas", examples=ex)
    if districts is not None:
        mapped = data["district"].astype(object).map(dict(districts))
        bad = (mapped.isna() | (mapped != data["cpa"].astype(object))) & ok
        add("district_not_in_cpa", "district", bad.to_numpy())
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
