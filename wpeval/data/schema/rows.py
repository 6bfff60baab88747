"""Row-level checks of the data contract, one step per group of rules.

Each step appends ``(rule, column, mask)`` entries to a :class:`_Checks` accumulator, in the
order of :data:`~wpeval.data.schema.rules.RULES`; :func:`check_rows` then attributes every
failing row to the first rule it fails, builds the rules table and either raises (strict) or
drops and counts the rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wpeval.data.schema.coerce import (
    _categorical,
    _coerce_bool,
    _coerce_count,
    _coerce_dates,
    _drop_unused,
    _final_int,
    _to_float,
)
from wpeval.data.schema.frame import _district_check, _examples, _not_scalar, _single_prime
from wpeval.data.schema.report import ChecksReport
from wpeval.data.schema.rules import (
    _OPTIONAL_RULES,
    _SEX,
    BOOL_COLUMNS,
    CODE_COLUMNS,
    COUNT_COLUMNS,
    DATE_COLUMNS,
    NOT_NULL,
    OPTIONAL,
    REQUIRED,
    RULES,
    STREAMS,
)
from wpeval.exceptions import DataContractError, StatisticalWarning


@dataclass
class _Checks:
    """Masks found so far: failures (errors / drops), recodes and warnings, in rule order."""

    n: int
    fails: list = field(default_factory=list)  # (rule, column, mask)
    recodes: list = field(default_factory=list)  # (rule, column, mask)
    warns: list = field(default_factory=list)  # (rule, column, mask, labels)

    def add(self, rule: str, column: str, mask) -> None:
        self.fails.append((rule, column, np.asarray(mask, dtype=bool)))

    def none(self) -> np.ndarray:
        return np.zeros(self.n, bool)


def _check_scalars(data: pd.DataFrame, ck: _Checks) -> dict:
    """Containers in cells become missing and fail ``not_scalar``; returns their masks."""
    ck.add("missing_columns", ",".join(REQUIRED), ck.none())  # checked before: raises
    ck.add("column_labels", "", ck.none())  # checked before: raises
    ck.add("no_rows", "", ck.none())  # checked before: raises
    bad_by_col = {}
    for col in [c for c in REQUIRED + OPTIONAL if c in data.columns]:
        m = _not_scalar(data[col])
        if m.any():
            data[col] = data[col].where(~m, None)
            bad_by_col[col] = m
    for col, m in bad_by_col.items():
        ck.add("not_scalar", col, m)
    if not bad_by_col:
        ck.add("not_scalar", "", ck.none())
    return bad_by_col


def _check_types(data: pd.DataFrame, prog, ck: _Checks, bad_by_col: dict) -> dict:
    """Codes to categories, then nulls, dates, flags, counts and probabilities; returns the
    null mask of each required column."""
    for col, order in (
        ("cpa", list(prog.cpas)),
        ("district", None),
        ("prime", None),
        ("payment_group", list(prog.payment_groups)),
    ):
        ch = {"mask": ck.none()}
        data[col] = _categorical(data[col], order, ch)
        ck.recodes.append(("code_normalised", col, ch["mask"]))
    null = {c: data[c].isna().to_numpy() & ~bad_by_col.get(c, ck.none()) for c in NOT_NULL}
    for col in NOT_NULL:
        ck.add("null_required", col, null[col])
    for cols, rule, coerce in (
        (DATE_COLUMNS, "unparsable_date", _coerce_dates),
        (BOOL_COLUMNS, "not_boolean", _coerce_bool),
        (COUNT_COLUMNS, "not_integer", _coerce_count),
    ):
        for col in cols:
            if col in data.columns:
                data[col], bad = coerce(data[col])
                ck.add(rule, col, bad)
    if "allocation_prob" in data.columns:
        p = _to_float(data["allocation_prob"])
        ck.add(
            "invalid_probability",
            "allocation_prob",
            data["allocation_prob"].notna().to_numpy() & ~((p > 0) & (p <= 1)).to_numpy(),
        )
        data["allocation_prob"] = p
    return null


def _check_codes(data: pd.DataFrame, prog, ck: _Checks, null: dict, districts) -> None:
    """Known payment groups and CPAs, primes of their CPA, districts inside one CPA, streams."""
    groups, cpas = list(prog.payment_groups), list(prog.cpas)
    ck.add(
        "unknown_payment_group",
        "payment_group",
        ~data["payment_group"].isin(groups).to_numpy() & ~null["payment_group"],
    )
    ck.add("unknown_cpa", "cpa", ~data["cpa"].isin(cpas).to_numpy() & ~null["cpa"])
    ccat, pcat = list(data["cpa"].cat.categories), list(data["prime"].cat.categories)
    valid = np.zeros((len(ccat) + 1, len(pcat) + 1), bool)
    for i, c in enumerate(ccat):
        for p_ in prog.cpas.get(c, {}).get("primes", []):
            if p_ in pcat:
                valid[i, pcat.index(p_)] = True
    cc, pc = data["cpa"].cat.codes.to_numpy(), data["prime"].cat.codes.to_numpy()
    known_cpa = data["cpa"].isin(cpas).to_numpy()
    ck.add("prime_not_in_cpa", "prime", known_cpa & (pc >= 0) & ~valid[cc, pc])
    _district_check(data, districts, ck.add, cpas)  # raises: a district under several CPAs
    ck.add("district_in_several_cpas", "district", ck.none())
    if "assessed_stream" in data.columns:
        data["assessed_stream"] = _categorical(data["assessed_stream"], list(STREAMS))
        ck.add(
            "unknown_stream",
            "assessed_stream",
            data["assessed_stream"].notna().to_numpy()
            & ~data["assessed_stream"].isin(STREAMS).to_numpy(),
        )


def _check_counts(data: pd.DataFrame, prog, ck: _Checks) -> int:
    """Negative counts and sustainment payments over the cap or without an outcome; returns
    the position reserved for the duplicate rules (judged last)."""
    dup_at = len(ck.fails)
    ck.add("duplicate_referral", "person_id", ck.none())
    for col in COUNT_COLUMNS:
        if col in data.columns:
            ck.add("negative_count", col, (data[col] < 0).fillna(False).to_numpy())
    groups = list(prog.payment_groups)
    cap_by_group = np.array([prog.payment_groups[g].sustainment_cap for g in groups] + [0])
    gcode = pd.Categorical(data["payment_group"], categories=groups).codes
    cap = np.where(gcode >= 0, cap_by_group[gcode], np.iinfo(np.int64).max)
    sus = data["sustainment_payments"]
    ck.add("sustainment_over_cap", "sustainment_payments", (sus > cap).fillna(False).to_numpy())
    ck.add(
        "sustainment_without_outcome",
        "sustainment_payments",
        (sus > 0).fillna(False).to_numpy() & data["job_outcome_date"].isna().to_numpy(),
    )
    return dup_at


def _check_date_order(data: pd.DataFrame, ck: _Checks) -> None:
    """Dates in the order of the programme, none after the extract date."""

    def lt(a, b):  # NaT compares False
        return (data[a] < data[b]).to_numpy()

    if "attachment_date" in data.columns:
        ck.add(
            "attachment_inconsistent",
            "attachment_date",
            data["attachment_date"].notna().to_numpy() & (data["attached"] == False).fillna(False),  # noqa: E712 - NA-aware, not `not`.to_numpy(),
        )  # noqa: E712
        ck.add(
            "attachment_before_referral", "attachment_date", lt("attachment_date", "referral_date")
        )
    ck.add("job_start_before_referral", "job_start_date", lt("job_start_date", "referral_date"))
    ck.add(
        "outcome_without_job_start",
        "job_outcome_date",
        data["job_outcome_date"].notna().to_numpy() & data["job_start_date"].isna().to_numpy(),
    )
    ck.add("outcome_before_job_start", "job_outcome_date", lt("job_outcome_date", "job_start_date"))
    ck.add("job_end_before_job_start", "job_end_date", lt("job_end_date", "job_start_date"))
    ck.add("exit_before_referral", "exit_date", lt("exit_date", "referral_date"))
    end = data["data_end_date"]
    for col in DATE_COLUMNS:
        if col in data.columns and col != "data_end_date":
            ck.add("date_after_extract", col, (data[col] > end).to_numpy())


def _recode_covariates(data: pd.DataFrame, ck: _Checks) -> None:
    """``sex`` written another way recoded to F/M (on the categories, not on 2M strings);
    implausible ages warned."""
    if "sex" in data.columns:
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
        ck.recodes.append(("sex_recoded", "sex", changed))
        data["sex"] = pd.Categorical.from_codes(new_code, categories=["F", "M"])
    if "age" in data.columns:
        ck.warns.append(
            (
                "age_implausible",
                "age",
                ((data["age"] < 16) | (data["age"] > 70)).fillna(False).to_numpy(),
                [],
            )
        )


def _judge_duplicates(data: pd.DataFrame, ck: _Checks, dup_at: int) -> None:
    """Duplicates, judged among rows passing every other rule so that neither the row order
    nor which copy fails another rule changes what is kept: exact copies keep the first;
    copies that disagree cannot be told apart, so all of them go."""
    n = ck.n
    other = ck.none()
    for _, _, mask in ck.fails:
        other |= mask
    dup, conflict = ck.none(), ck.none()
    ok = np.flatnonzero(~other)
    if len(ok) > 1:
        key = data.iloc[ok][["person_id", "referral_date"]]
        in_group = key.duplicated(keep=False).to_numpy()
        if in_group.any():
            rows = ok[in_group]
            fields = [c for c in REQUIRED + OPTIONAL if c in data.columns]
            sub = data.iloc[rows][["person_id", "referral_date"]].assign(
                _h=pd.util.hash_pandas_object(data.iloc[rows][fields], index=False).to_numpy()
            )
            n_versions = (
                sub.groupby(["person_id", "referral_date"], sort=False, observed=True)["_h"]
                .transform("nunique")
                .to_numpy()
            )
            exact = (n_versions == 1) & sub.duplicated(
                ["person_id", "referral_date"], keep="first"
            ).to_numpy()
            dup[rows[exact]] = True
            conflict[rows[n_versions > 1]] = True
    assert len(dup) == n
    ck.fails[dup_at : dup_at + 1] = [
        ("duplicate_referral", "person_id", dup),
        ("conflicting_duplicate", "person_id", conflict),
    ]


def _rule_row(rule, col, n_failing, n_dropped, action, examples) -> dict:
    return dict(
        rule=rule,
        column=col,
        description=RULES[rule][1],
        n_failing=n_failing,
        n_dropped=n_dropped,
        action=action,
        examples=examples,
    )


def _attribute_failures(ck: _Checks, pid, strict: bool, n_headers: int, header_ex: list):
    """Each failing row counts for the first rule it fails; returns the drop mask, the table
    rows so far and the failing rules."""
    first = ck.none()
    rows = []
    for rule, col, mask in ck.fails:
        newly = mask & ~first
        first |= mask
        rows.append((rule, col, int(mask.sum()), int(newly.sum()), _examples(pid, mask)))
    failing = [r for r in rows if r[2] > 0]
    action = "error" if strict else "dropped"
    table = [_rule_row(r, c, nf, 0 if strict else nd, action, ex) for r, c, nf, nd, ex in rows]
    table.insert(3, _rule_row("repeated_header", "", n_headers, n_headers, "dropped", header_ex))
    for rule, col, mask in ck.recodes:
        table.append(_rule_row(rule, col, int(mask.sum()), 0, "recoded", _examples(pid, mask)))
    return first, table, failing


def _add_warnings(table: list, ck: _Checks, kept, pid, strict, failing, period_freq) -> None:
    """Warnings (single-prime strata on the kept rows), and rules that were not checked."""
    from wpeval.data.design import add_period

    if not strict or not failing:  # needs valid dates and codes
        mask, labels = _single_prime(kept, period_freq, add_period)
        ck.warns.append(("single_prime_stratum", "prime", mask, labels))
    for rule, col, mask, labels in ck.warns:
        src_pid = kept["person_id"] if rule == "single_prime_stratum" else pid
        table.append(
            _rule_row(rule, col, int(mask.sum()), 0, "warning", labels or _examples(src_pid, mask))
        )
    listed = {r["rule"] for r in table}
    for rule, col in _OPTIONAL_RULES.items():  # optional column absent: say so
        if rule not in listed:
            table.append(_rule_row(rule, col, 0, 0, "not checked (column absent)", []))
    if "single_prime_stratum" not in listed:  # strict with row errors: strata not checked
        table.append(
            _rule_row("single_prime_stratum", "prime", 0, 0, "not checked (row errors)", [])
        )


def _raise_first(failing, report) -> None:
    rule, col, nf, _, ex = failing[0]
    others = [f"{r}({c}): {k}" for r, c, k, _, _ in failing[1:]]
    msg = f"{nf:,} row(s) break the data contract: {RULES[rule][1]}"
    if others:
        msg += f" (also failing: {', '.join(others[:6])}{' ...' if len(others) > 6 else ''})"
    err = DataContractError(msg, column=col, rule=rule, examples=ex)
    err.report = report
    raise err


def _final_types(kept: pd.DataFrame) -> None:
    """Counts to int64, complete flags to bool, unused categories dropped."""
    for col in ("sustainment_payments", "age", "benefit_duration_days"):
        if col in kept.columns:
            kept[col] = _final_int(kept[col])
    for col in BOOL_COLUMNS:
        if col in kept.columns and not kept[col].isna().any():
            kept[col] = kept[col].astype(bool)
    for col in CODE_COLUMNS + (("assessed_stream",) if "assessed_stream" in kept else ()):
        kept[col] = _drop_unused(kept[col])


def _warn_outcome(rules: pd.DataFrame, kept: pd.DataFrame, n_total: int) -> None:
    sp = rules.loc[rules["rule"] == "single_prime_stratum"]
    if len(sp) and sp["n_failing"].iloc[0] > 0:
        warnings.warn(
            f"{int(sp['n_failing'].iloc[0]):,} referral(s) are in district x period "
            f"strata with one prime only (e.g. {sp['examples'].iloc[0][:3]}): no "
            "within-stratum comparison there",
            StatisticalWarning,
            stacklevel=4,
        )
    if len(kept) == 0:
        warnings.warn(
            f"every one of the {n_total:,} rows was dropped by the checks (see the "
            "report's rules table): nothing left to analyse",
            StatisticalWarning,
            stacklevel=4,
        )


def check_rows(
    data: pd.DataFrame,
    prog,
    strict: bool,
    period_freq: str,
    districts,
    n_total: int,
    n_headers: int,
    header_ex: list,
) -> ChecksReport:
    """The row-level checks of :func:`~wpeval.data.schema.validate` on a frame with at least
    one data row (``data`` is a private copy and is changed in place)."""
    ck = _Checks(len(data))
    bad_by_col = _check_scalars(data, ck)
    null = _check_types(data, prog, ck, bad_by_col)
    _check_codes(data, prog, ck, null, districts)
    dup_at = _check_counts(data, prog, ck)
    _check_date_order(data, ck)
    _recode_covariates(data, ck)
    _judge_duplicates(data, ck, dup_at)
    pid = data["person_id"]
    first, table, failing = _attribute_failures(ck, pid, strict, n_headers, header_ex)
    # nothing to drop: keep the frame (its index is already 0..n-1), no 2M-row copy
    kept = data if strict or not first.any() else data.loc[~first].reset_index(drop=True)
    _add_warnings(table, ck, kept, pid, strict, failing, period_freq)
    rules = pd.DataFrame(
        table,
        columns=["rule", "column", "description", "n_failing", "n_dropped", "action", "examples"],
    )
    if strict and failing:
        _raise_first(
            failing, ChecksReport(n_total, n_total - n_headers, rules, data, strict, period_freq)
        )
    _final_types(kept)
    _warn_outcome(rules, kept, n_total)
    return ChecksReport(n_total, len(kept), rules, kept, strict, period_freq)
