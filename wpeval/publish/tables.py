"""Official-statistics style tables from referral-level data, with disclosure control.

The tables follow the Work Programme official statistics (DWP; domain.md section 3):

- :func:`summary_table`: referrals, attachments, job outcomes and sustainment payments by
  referral cohort (month), CPA, prime (contract) or payment group;
- :func:`crosstab`: one measure by two breakdowns with row and column totals;
- :func:`outcome_rates`: job-outcome rate within ``k`` months of referral (12 and 24 in the
  statistics) among referrals whose ``k`` months are fully observed;
- :func:`cumulative_rates`: the rate by months since referral (1..k) per cohort or group;
- :func:`mpl_table`: each contract's 12-month job-outcome rate against its minimum
  performance level (MPL = 1.1 x the non-intervention rate) by contract year and MPL group;
- :func:`payments_table`: payments by results by prime, CPA or group and per job outcome;
- :func:`report_tables`: the whole set.

Every table is a :class:`~wpeval.publish.disclosure.StatTable`: unrounded values, the published
(rounded, suppressed) values, the suppression mask, footnotes, and CSV / styled-HTML export.
Disclosure control (:mod:`wpeval.publish.disclosure`) is on by default and is switched off only with
``synthetic=True`` and ``disclosure=False``.

Window definitions match :func:`wpeval.data.outcomes.outcome_flags`: a referral is observed for
``k`` months when ``referral_date + k calendar months <= data_end_date`` and has an outcome
within ``k`` months when ``job_outcome_date <= referral_date + k months``. The statistics
count whole cohorts with ``k`` months observed; with one extract date the two agree.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from wpeval.publish import disclosure as sdc
from wpeval.data import programme as _programme
from wpeval.publish.disclosure import StatTable, publish_table
from wpeval.exceptions import DataContractError, ParameterError
from wpeval.payments import (PaymentsResult, Tariff, attached_flags, load_tariff, payments,
                       sustainment_counts)

COUNT_MEASURES = ("referrals", "attachments", "job_outcomes", "sustainment_payments")
TOTAL = "Total"

#: 2-year job-outcome rate by payment group, referrals to Dec 2017 [L&W18] (V). New ESA here
#: is the "fit for work within 12 months" subgroup; the 12-18 month subgroup had 12.2%.
PUBLISHED_2YR_RATES = {"jsa_18_24": 0.364, "jsa_25_plus": 0.317, "esa_new": 0.151,
                       "esa_ex_ib": 0.054, TOTAL: 0.278}


# ----------------------------------------------------------------------- helpers ---------
def _need(df: pd.DataFrame, cols: Sequence[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(f"tables need a pandas DataFrame, got {type(df).__name__}")
    dup = [c for c in cols if int((df.columns == c).sum()) > 1]
    if dup:
        raise DataContractError(f"columns {dup} appear more than once; rename or drop the "
                                "copies", column=dup[0], rule="unique_columns")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataContractError(f"tables need columns {missing}", column=missing[0],
                                rule="required_column")


def _day(df: pd.DataFrame, col: str) -> np.ndarray:
    s = df[col]
    if not pd.api.types.is_datetime64_any_dtype(s):
        raise DataContractError(f"{col} must be a datetime column, got {s.dtype}", column=col,
                                rule="datetime")
    out = s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    if col in ("referral_date", "data_end_date") and np.isnat(out).any():
        bad = np.isnat(out)
        ids = (df["person_id"].to_numpy()[bad][:5].tolist() if "person_id" in df.columns
               and df.columns.is_unique else df.index[bad][:5].tolist())
        raise DataContractError(f"{col} has {int(bad.sum())} missing value(s)", column=col,
                                rule="not_null", examples=ids)
    return out


def add_months(dates: np.ndarray, k) -> np.ndarray:
    """``dates + k`` calendar months (day clipped to the month's end, as pandas DateOffset)."""
    d = np.asarray(dates, dtype="datetime64[D]")
    m = d.astype("datetime64[M]")
    day = (d - m.astype("datetime64[D]")).astype(np.int64)
    tm = m + np.asarray(k, dtype=np.int64)
    dim = ((tm + 1).astype("datetime64[D]") - tm.astype("datetime64[D]")).astype(np.int64)
    return tm.astype("datetime64[D]") + np.minimum(day, dim - 1)


def _months_observed(ref: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Largest k with ref + k months <= end (-1 if end < ref)."""
    k = (end.astype("datetime64[M]") - ref.astype("datetime64[M]")).astype(np.int64)
    k = np.where(add_months(ref, k) > end, k - 1, k)
    return np.maximum(k, -1)


def _months_to(ref: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Smallest k with event <= ref + k months (NaT -> a large number)."""
    nat = np.isnat(event)
    ev = np.where(nat, ref, event)
    k = (ev.astype("datetime64[M]") - ref.astype("datetime64[M]")).astype(np.int64)
    k = np.where(add_months(ref, k) < ev, k + 1, k)
    return np.where(nat, np.iinfo(np.int32).max, np.maximum(k, 0))


def cohort_labels(dates) -> pd.Categorical:
    """Referral month ``"YYYY-MM"`` as an ordered Categorical (vectorised)."""
    m = np.asarray(dates, dtype="datetime64[ns]").astype("datetime64[M]")
    uniq, inv = np.unique(m, return_inverse=True)
    return pd.Categorical.from_codes(inv.ravel(), [str(u)[:7] for u in uniq], ordered=True)


def _factor(name: str, values, order: Sequence[str] | None = None):
    """(name, codes, labels): sorted integer codes (labels in ``order`` first, if given)."""
    codes, uniq = pd.factorize(values, sort=True)
    if (codes < 0).any():
        raise DataContractError(f"{name} has missing values", column=name, rule="not_null")
    labels = [str(u) for u in uniq]
    if order:
        new = [o for o in order if o in labels] + [lab for lab in labels if lab not in order]
        pos = {lab: i for i, lab in enumerate(new)}
        codes = np.array([pos[lab] for lab in labels], dtype=np.int64)[codes]
        labels = new
    return name, np.asarray(codes, dtype=np.int64), labels


def _keys(df: pd.DataFrame, by, tariff: Tariff | None) -> list[tuple[str, np.ndarray, list]]:
    """(name, codes, labels) for each breakdown; derives ``cohort`` and ``contract_year``;
    payment groups follow the programme's group order."""
    if by is None:
        return []
    by = [by] if isinstance(by, str) else list(by)
    out = []
    for name in by:
        if name == "cohort" and "cohort" not in df.columns:
            _need(df, ["referral_date"])
            m = _day(df, "referral_date").astype("datetime64[M]")
            _, codes, labels = _factor(name, m.astype(np.int64))
            labels = [str(np.datetime64(int(lab), "M")) for lab in labels]
            out.append((name, codes, labels))
        elif name == "contract_year" and "contract_year" not in df.columns:
            _need(df, ["referral_date"])
            years = (tariff or load_tariff()).contract_year(_day(df, "referral_date"))
            out.append(_factor(name, years))
        elif name == "payment_group" and name in df.columns:
            out.append(_factor(name, df[name], list(_programme.load().payment_groups)))
        elif name in df.columns:
            out.append(_factor(name, df[name]))
        else:
            raise ParameterError(f"cannot break down by {name!r}: not a column (or 'cohort', "
                                 "'contract_year')")
    return out


def _group_codes(keys, n: int) -> tuple[np.ndarray, pd.Index]:
    """Integer group code per row and the group labels (observed combinations, sorted)."""
    if not keys:
        return np.zeros(n, dtype=np.int64), pd.Index(["All"], name="group")
    sizes = [len(labels) for _, _, labels in keys]
    combined = np.zeros(n, dtype=np.int64)
    for (_, codes, _), size in zip(keys, sizes):
        combined = combined * size + codes
    total = int(np.prod(sizes))
    if total <= 10_000_000:
        present = np.flatnonzero(np.bincount(combined, minlength=total))
        lookup = np.full(total, -1, dtype=np.int64)
        lookup[present] = np.arange(present.size)
        codes = lookup[combined]
    else:
        present, codes = np.unique(combined, return_inverse=True)
    parts = np.unravel_index(present, sizes)
    if len(keys) == 1:
        name, _, labels = keys[0]
        return codes, pd.Index(np.asarray(labels, dtype=object)[parts[0]], name=name)
    arrays = [np.asarray(labels, dtype=object)[p] for (_, _, labels), p in zip(keys, parts)]
    return codes, pd.MultiIndex.from_arrays(arrays, names=[k[0] for k in keys])


def _with_total(frame: pd.DataFrame, total: pd.Series | dict) -> pd.DataFrame:
    idx = frame.index
    label = (TOTAL,) + ("",) * (idx.nlevels - 1) if idx.nlevels > 1 else TOTAL
    tot = pd.DataFrame([total], columns=frame.columns)
    tot.index = pd.MultiIndex.from_tuples([label], names=idx.names) if idx.nlevels > 1 \
        else pd.Index([label], name=idx.name)
    return pd.concat([frame, tot])


def _settings(disclosure, synthetic):
    return sdc.resolve_disclosure(disclosure, synthetic)


# ----------------------------------------------------------------------- tables ----------
def _measure_columns(df: pd.DataFrame) -> pd.DataFrame:
    _need(df, ["attached", "job_outcome_date", "sustainment_payments"])
    return pd.DataFrame({
        "referrals": np.ones(len(df), dtype=np.int64),
        "attachments": attached_flags(df).astype(np.int64),
        "job_outcomes": df["job_outcome_date"].notna().to_numpy().astype(np.int64),
        "sustainment_payments": sustainment_counts(df),
    })


def summary_table(df: pd.DataFrame, by="cohort", *,
                  measures: Sequence[str] = COUNT_MEASURES, synthetic: bool = False,
                  disclosure=True, tariff: Tariff | None = None,
                  title: str | None = None) -> StatTable:
    """Referrals, attachments, job outcomes and sustainment payments by a breakdown.

    Parameters
    ----------
    df : DataFrame
        Referral-level data.
    by : str or sequence of str, default "cohort"
        Breakdown: ``"cohort"`` (referral month), ``"contract_year"``, or columns such as
        ``"cpa"``, ``["cpa", "prime"]``, ``"payment_group"``.
    measures : sequence of str
        Any of ``referrals, attachments, job_outcomes, sustainment_payments``.
    synthetic, disclosure :
        Disclosure control (see :func:`wpeval.publish.disclosure.resolve_disclosure`).
    tariff : Tariff, optional
        For the contract-year definition.
    title : str, optional

    Returns
    -------
    StatTable
        One row per breakdown value plus a Total row. Job outcomes and sustainment payments
        are counted to the extract date (``sustainment_payments`` as recorded).
    """
    bad = [m for m in measures if m not in COUNT_MEASURES]
    if bad:
        raise ParameterError(f"unknown measures {bad}; choose from {COUNT_MEASURES}")
    settings = _settings(disclosure, synthetic)
    meas = _measure_columns(df)[list(measures)]
    codes, index = _group_codes(_keys(df, by, tariff), len(df))
    sums = {m: np.bincount(codes, weights=meas[m].to_numpy(), minlength=len(index))
            for m in measures}
    values = pd.DataFrame(sums, index=index).astype(np.int64)
    values = _with_total(values, values.sum())
    label = by if isinstance(by, str) else " and ".join(by)
    return publish_table(values, {m: "count" for m in measures}, settings=settings,
                         title=title or f"Work Programme referrals and outcomes by {label}",
                         notes=("Job outcomes and sustainment payments are counted to the data "
                                "extract date.",))


def crosstab(df: pd.DataFrame, index: str, columns: str, measure: str = "referrals", *,
             synthetic: bool = False, disclosure=True, tariff: Tariff | None = None,
             title: str | None = None) -> StatTable:
    """One count measure by two breakdowns, with row and column totals.

    Secondary suppression protects every row and column (see :mod:`wpeval.publish.disclosure`).

    Parameters
    ----------
    df : DataFrame
    index, columns : str
        Breakdowns (as in :func:`summary_table`'s ``by``).
    measure : str
        One of ``referrals, attachments, job_outcomes, sustainment_payments``.
    synthetic, disclosure, tariff, title :
        As in :func:`summary_table`.
    """
    if measure not in COUNT_MEASURES:
        raise ParameterError(f"unknown measure {measure!r}; choose from {COUNT_MEASURES}")
    settings = _settings(disclosure, synthetic)
    meas = _measure_columns(df)[measure].to_numpy()
    rkey, ckey = _keys(df, [index], tariff)[0], _keys(df, [columns], tariff)[0]
    rn, cn = rkey[0], ckey[0]
    rc, rl = _group_codes([rkey], len(df))
    cc, cl = _group_codes([ckey], len(df))
    cells = np.bincount(rc * len(cl) + cc, weights=meas, minlength=len(rl) * len(cl))
    cells = cells.reshape(len(rl), len(cl)).astype(np.int64)
    values = pd.DataFrame(cells, index=rl, columns=list(cl))
    values[TOTAL] = values.sum(axis=1)
    values = _with_total(values, values.sum())
    values.columns.name = cn
    return publish_table(values, {c: "count" for c in values.columns}, settings=settings,
                         lines="table",
                         title=title or f"{measure.replace('_', ' ').capitalize()} by {rn} "
                         f"and {cn}")


def _window_counts(df: pd.DataFrame, codes: np.ndarray, n_groups: int, max_months: int):
    """(den, num) arrays of shape (n_groups, max_months + 1): referrals observed for k
    months and those with a job outcome within k months, k = 0..max_months."""
    _need(df, ["referral_date", "job_outcome_date", "data_end_date"])
    ref = _day(df, "referral_date")
    K = int(max_months)
    obs = np.clip(_months_observed(ref, _day(df, "data_end_date")), -1, K) + 1  # 0..K+1
    out = np.minimum(_months_to(ref, _day(df, "job_outcome_date")), K + 1)      # 0..K+1
    W = K + 2
    hist = np.bincount((codes * W + out) * W + obs, minlength=n_groups * W * W)
    hist = hist.reshape(n_groups, W, W)            # [g, months_to_outcome, observed + 1]
    at_least = np.cumsum(hist[:, :, ::-1], axis=2)[:, :, ::-1]  # obs + 1 >= j
    ks = np.arange(K + 1)
    den = at_least.sum(axis=1)[:, ks + 1]          # observed >= k
    num = np.cumsum(at_least, axis=1)[:, ks, ks + 1]  # outcome <= k and observed >= k
    return den, num


def outcome_rates(df: pd.DataFrame, by="payment_group", *, months: int = 24,
                  synthetic: bool = False, disclosure=True, tariff: Tariff | None = None,
                  title: str | None = None) -> StatTable:
    """Job-outcome rate within ``months`` of referral, among referrals observed that long.

    Parameters
    ----------
    df : DataFrame
        Referral-level data with ``referral_date, job_outcome_date, data_end_date``.
    by : str, sequence or None
        Breakdown (as in :func:`summary_table`); None for the programme.
    months : int, default 24
        Window in calendar months (12 and 24 in the official statistics).
    synthetic, disclosure, tariff, title :
        As in :func:`summary_table`.

    Returns
    -------
    StatTable
        ``referrals_observed`` (denominator), ``job_outcomes`` (numerator), ``rate``; a
        Total row. Rates use unrounded counts.
    """
    if not isinstance(months, (int, np.integer)) or months < 1:
        raise ParameterError(f"months must be a positive integer, got {months!r}")
    settings = _settings(disclosure, synthetic)
    codes, index = _group_codes(_keys(df, by, tariff), len(df))
    den, num = _window_counts(df, codes, len(index), months)
    values = pd.DataFrame({"referrals_observed": den[:, months], "job_outcomes": num[:, months]},
                          index=index)
    values = _with_total(values, values.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        values["rate"] = values["job_outcomes"] / values["referrals_observed"].where(
            values["referrals_observed"] > 0)
    return publish_table(values, {"referrals_observed": "count", "job_outcomes": "count",
                                  "rate": "rate"}, settings=settings,
                         rate_links={"rate": ("job_outcomes", "referrals_observed")},
                         title=title or f"Job-outcome rate within {months} months of referral",
                         notes=(f"Referrals whose {months} months after referral are fully "
                                "observed by the extract date; job outcome on or before referral "
                                f"date + {months} months.",))


def cumulative_rates(df: pd.DataFrame, by="cohort", *, max_months: int = 24,
                     months: Sequence[int] = (3, 6, 12, 18, 24), synthetic: bool = False,
                     disclosure=True, tariff: Tariff | None = None,
                     title: str | None = None) -> StatTable:
    """Cumulative job-outcome rate by months since referral.

    Parameters
    ----------
    df : DataFrame
    by : str, sequence or None, default "cohort"
        Breakdown (referral month by default).
    max_months : int, default 24
        Longest window in the supporting curve (``.data``).
    months : sequence of int
        Windows shown as the table's columns (each <= ``max_months``).
    synthetic, disclosure, tariff, title :
        As in :func:`summary_table`.

    Returns
    -------
    StatTable
        Rates (one column per window, ``"12 months"``...), a Total row, and ``.data``: the
        long curve ``[<by>..., months, referrals_observed, job_outcomes, rate, suppressed]``
        for k = 1..max_months. A rate is suppressed when its numerator or denominator is
        under the threshold, and missing (``[x]``) where no referral is observed that long.
    """
    months = [int(k) for k in months]
    if not months or min(months) < 1 or max(months) > max_months:
        raise ParameterError(f"months must lie in 1..max_months={max_months}, got {months}")
    settings = _settings(disclosure, synthetic)
    codes, index = _group_codes(_keys(df, by, tariff), len(df))
    den, num = _window_counts(df, codes, len(index), max_months)
    den = np.vstack([den, den.sum(axis=0)])
    num = np.vstack([num, num.sum(axis=0)])
    index = _with_total(pd.DataFrame(index=index), {}).index
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(den > 0, num / np.maximum(den, 1), np.nan)
    supp = np.zeros_like(rate, dtype=bool)
    if settings is not None:
        supp = (sdc.primary_suppression(num, settings) | sdc.primary_suppression(den, settings))
    cols = [f"{k} months" for k in months]
    values = pd.DataFrame(rate[:, months], index=index, columns=cols)
    mask = pd.DataFrame(supp[:, months], index=index, columns=cols)
    pub = values.where(~mask)
    ks = np.arange(1, max_months + 1)
    long = pd.DataFrame({"months": np.tile(ks, len(index)),
                         "referrals_observed": den[:, ks].ravel(),
                         "job_outcomes": num[:, ks].ravel(),
                         "rate": rate[:, ks].ravel(), "suppressed": supp[:, ks].ravel()})
    labels = index.to_frame(index=False).loc[np.repeat(np.arange(len(index)), max_months)]
    long = pd.concat([labels.reset_index(drop=True), long], axis=1)
    long["rate"] = long["rate"].where(~long["suppressed"])
    note = (settings.note() if settings is not None else "No disclosure control (synthetic "
            "data).")
    return StatTable(title=title or "Cumulative job-outcome rate by months since referral",
                     values=values, kinds={c: "rate" for c in cols}, suppressed=mask,
                     published=pub, disclosure=settings, data=long,
                     notes=("Rate after k months: job outcomes within k months among "
                            "referrals observed for k months.", note))


def mpl_table(df: pd.DataFrame, tariff: "Tariff | str | Mapping | None" = None, *,
              synthetic: bool = False, disclosure=True, title: str | None = None) -> StatTable:
    """Each contract's job-outcome rate against its minimum performance level (MPL).

    Parameters
    ----------
    df : DataFrame
        Referral-level data with ``cpa, prime, payment_group, referral_date,
        job_outcome_date, data_end_date``.
    tariff : Tariff, path, mapping or None
        Supplies the contract years, MPL groups, window (12 months), uplift (1.1) and
        non-intervention rates (``mpl`` section of the tariff YAML).
    synthetic, disclosure, title :
        As in :func:`summary_table`.

    Returns
    -------
    StatTable
        Rows (cpa, prime, contract_year, payment_group) for MPL groups; columns
        ``referrals`` (in the contract year), ``referrals_observed`` (window observed),
        ``job_outcomes`` (within the window), ``rate``, ``non_intervention``, ``mpl``,
        ``met`` ("yes", "no", "incomplete" while some referrals are not yet observed for
        the window) and ``status`` (V/D/U of the non-intervention rate).
    """
    tar = load_tariff(tariff)
    settings = _settings(disclosure, synthetic)
    _need(df, ["cpa", "prime", "payment_group"])
    groups = tar.mpl_groups
    sel = df["payment_group"].astype(str).isin(groups).to_numpy()
    sub = df.loc[sel]
    if sub.empty:
        raise DataContractError(f"no referrals in the MPL groups {groups}",
                                column="payment_group", rule="mpl_groups")
    K = int(tar.mpl["window_months"][0])
    keys = _keys(sub, ["cpa", "prime", "contract_year", "payment_group"], tar)
    codes, index = _group_codes(keys, len(sub))
    den, num = _window_counts(sub, codes, len(index), K)
    total = np.bincount(codes, minlength=len(index))
    values = pd.DataFrame({"referrals": total, "referrals_observed": den[:, K],
                           "job_outcomes": num[:, K]}, index=index)
    with np.errstate(invalid="ignore", divide="ignore"):
        values["rate"] = values["job_outcomes"] / values["referrals_observed"].where(
            values["referrals_observed"] > 0)
    uplift = float(tar.mpl["uplift"][0])
    ni = [tar.non_intervention(int(y), g) for y, g in zip(
        index.get_level_values("contract_year"), index.get_level_values("payment_group"))]
    values["non_intervention"] = [v for v, _ in ni]
    values["mpl"] = values["non_intervention"] * uplift
    complete = values["referrals_observed"] == values["referrals"]
    met = np.where(values["rate"] >= values["mpl"], "yes", "no")
    values["met"] = np.where(complete, met, "incomplete")
    values["status"] = [s if tar.mpl["uplift"][1] != "U" else "U" for _, s in ni]
    kinds = {"referrals": "count", "referrals_observed": "count", "job_outcomes": "count",
             "rate": "rate", "non_intervention": "rate", "mpl": "rate", "met": "text",
             "status": "text"}
    st = publish_table(values, kinds, settings=settings, lines=None,
                       rate_links={"rate": ("job_outcomes", "referrals_observed")},
                       title=title or "Minimum performance levels: job-outcome rate within "
                       f"{K} months by contract, contract year and payment group",
                       notes=(f"MPL = {uplift:g} x non-intervention rate (groups "
                              f"{', '.join(groups)}). Contract year by referral date: year 1 "
                              "June 2011-March 2012, then April-March (assumption).",
                              "status: V stated in a source, D derived, U unconfirmed "
                              "placeholder."))
    if settings is not None:  # a suppressed rate must not be revealed by 'met'
        pub = st.published.copy()
        pub["met"] = pub["met"].where(~st.suppressed["rate"], sdc.SUPPRESSED)
        st = replace(st, published=pub)
    return st


def payments_table(source: "pd.DataFrame | PaymentsResult", by=("cpa", "prime"), *,
                   tariff=None, until=None, synthetic: bool = False, disclosure=True,
                   title: str | None = None) -> StatTable:
    """Payments by results by a breakdown, and per job outcome.

    Parameters
    ----------
    source : DataFrame or PaymentsResult
        Referral-level data (payments computed with ``tariff``) or a computed result.
    by : str or sequence, default ("cpa", "prime")
        Columns of the payments result (``cpa, prime, payment_group, contract_year``).
    tariff : optional
        Passed to :func:`wpeval.payments.payments` when ``source`` is a DataFrame.
    until : date-like, optional
        Count payments dated up to this date only.
    synthetic, disclosure, title :
        As in :func:`summary_table`.

    Returns
    -------
    StatTable
        Counts (referrals, attachments, job outcomes, sustainment payments), amounts paid
        (pounds, suppressed with their count), ``total_paid``, ``paid_per_job_outcome`` and
        ``placeholder_paid`` (the part relying on unconfirmed tariff values).
    """
    res = source if isinstance(source, PaymentsResult) else payments(source, tariff)
    settings = _settings(disclosure, synthetic)
    by = [by] if isinstance(by, str) else list(by)
    values = res.by(*by, until=until).drop(columns="paid_per_job_outcome")
    values.index = (pd.MultiIndex.from_frame(values.index.to_frame(index=False).astype(str))
                    if values.index.nlevels > 1 else values.index.astype(str).rename(by[0]))
    values = _with_total(values, values.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        values["paid_per_job_outcome"] = values["total_paid"] / values["job_outcomes"].where(
            values["job_outcomes"] > 0)
    counts = ["referrals", "attachments", "job_outcomes", "sustainment_payments"]
    links = {"attachment_paid": "attachments", "job_outcome_paid": "job_outcomes",
             "sustainment_paid": "sustainment_payments", "total_paid": "referrals",
             "placeholder_paid": "referrals"}
    kinds = {**{c: "count" for c in counts}, **{c: "money" for c in links},
             "paid_per_job_outcome": "money"}
    st = publish_table(values[list(kinds)], kinds, settings=settings, money_links=links,
                       rate_links={"paid_per_job_outcome": ("total_paid", "job_outcomes")},
                       title=title or f"Payments by results by {' and '.join(by)} (pounds)",
                       notes=(f"Tariff: {res.tariff.source}; DWP maximum prices less any "
                              "contract discount. placeholder_paid: amounts using unconfirmed "
                              "(U) tariff values.",))
    if settings is not None:
        pub = st.published.copy()
        pub["paid_per_job_outcome"] = sdc.round_to_base(
            st.values["paid_per_job_outcome"].to_numpy(), settings.money_base)
        pub["paid_per_job_outcome"] = pub["paid_per_job_outcome"].where(
            ~st.suppressed["paid_per_job_outcome"])
        st = replace(st, published=pub)
    return st


def compare_published(rates: StatTable) -> pd.DataFrame:
    """Put a 24-month rate-by-payment-group table beside the published 2-year rates
    (:data:`PUBLISHED_2YR_RATES`, L&W18, V) for the groups published."""
    rows = [(g, rates.value(g, "rate"), p) for g, p in PUBLISHED_2YR_RATES.items()
            if g in rates.values.index]
    return pd.DataFrame(rows, columns=["payment_group", "rate", "published_rate"])


def report_tables(df: pd.DataFrame, *, tariff=None, synthetic: bool = False,
                  disclosure=True) -> dict[str, StatTable]:
    """The full set of report tables (the layout of the published statistics).

    Returns
    -------
    dict
        ``by_cohort, by_cpa, by_contract, by_payment_group, outcomes_cohort_by_group,
        rate_24m_by_group, rate_12m_by_cohort, cumulative_by_group, mpl,
        payments_by_contract, payments_by_group``.
    """
    tar = load_tariff(tariff)
    kw = {"synthetic": synthetic, "disclosure": disclosure}
    res = payments(df, tar, warn=False)
    return {
        "by_cohort": summary_table(df, "cohort", **kw),
        "by_cpa": summary_table(df, "cpa", **kw),
        "by_contract": summary_table(df, ["cpa", "prime"], **kw),
        "by_payment_group": summary_table(df, "payment_group", **kw),
        "outcomes_cohort_by_group": crosstab(df, "cohort", "payment_group", "job_outcomes",
                                             **kw),
        "rate_24m_by_group": outcome_rates(df, "payment_group", months=24, **kw),
        "rate_12m_by_cohort": outcome_rates(df, "cohort", months=12, **kw),
        "cumulative_by_group": cumulative_rates(df, "payment_group", **kw),
        "mpl": mpl_table(df, tar, **kw),
        "payments_by_contract": payments_table(res, ["cpa", "prime"], **kw),
        "payments_by_group": payments_table(res, "payment_group", **kw),
    }
