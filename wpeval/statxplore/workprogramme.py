"""Map a Work Programme Stat-Xplore table to ``(table, month, cpa, prime, payment_group, ...,
value)``.

The labels are data, read from ``wpeval/config/statxplore_contracts.yaml`` (see the comments
there) and from the programme file (``wpeval/config/programme.yaml`` or the one passed in):
contract labels map to ``(cpa, prime)``, payment-group labels to group codes, field labels (or
field-URI codes such as ``CONTRACT_CODE``, compared case-insensitively) to canonical columns.
Unknown labels are errors that name them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wpeval.exceptions import DataContractError, ParameterError
from wpeval.statxplore.demographics import BREAKDOWNS, to_labels
from wpeval.statxplore.lookup import ContractLookup, load_lookup, write_lookup

__all__ = [
    "CANONICAL",
    "ContractLookup",
    "load_lookup",
    "parse_months",
    "read_work_programme",
    "work_programme",
    "write_lookup",
]

#: canonical columns of a Work Programme table, in output order (those present are kept)
CANONICAL = (
    "table",
    "month",
    "cpa",
    "prime",
    "payment_group",
    "jo_length_weeks",
    "age_band",
    "gender",
    "disability",
)


def parse_months(labels: pd.Series, column: str = "month") -> pd.Series:
    """Parse Stat-Xplore month labels ("June 2011", "Jun 2011", "201106", "2011-06") to
    monthly ``Period`` values; unparseable labels raise DataContractError naming a few."""
    text = labels.astype(str).str.strip()
    uniq = pd.Series(text.unique())
    parsed = pd.Series(pd.NaT, index=uniq.index, dtype="datetime64[ns]")
    for fmt in ("%B %Y", "%b %Y", "%Y%m", "%Y-%m", "%b-%y", "%B-%y", "%Y-%m-%d"):
        todo = parsed.isna()
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(uniq[todo], format=fmt, errors="coerce")
    if parsed.isna().any():
        raise DataContractError(
            "month labels could not be read as months (e.g. 'June 2011')",
            column=column,
            rule="month_label",
            examples=uniq[parsed.isna()].head(5).tolist(),
        )
    mapping = dict(zip(uniq, parsed.dt.to_period("M")))
    return text.map(mapping).astype("period[M]")


def _match_columns(frame: pd.DataFrame, lookup: ContractLookup) -> dict:
    """Frame column -> canonical name, from labels first, then field-URI codes."""
    uris = {
        f["column"]: str(f.get("uri") or "")
        for f in frame.attrs.get("statxplore", {}).get("fields", [])
    }
    out = {}
    for col in frame.columns:
        if col in ("measure", "value", "is_total", "database"):
            continue
        low = str(col).strip().lower()
        code = uris.get(col, "").rsplit(":", 1)[-1].lower()
        for canon, spec in lookup.fields.items():
            if low in spec["labels"] or low == canon or (code and code in spec["uri_codes"]):
                if canon in out.values():
                    raise DataContractError(
                        f"two columns map to {canon!r}", column=col, rule="one_column_per_breakdown"
                    )
                out[col] = canon
                break
    return out


def _map_labels(values: pd.Series, mapping: dict, column: str, what: str, lower: bool = False):
    keys = values.astype(str).str.strip()
    keys = keys.str.lower() if lower else keys
    mapped = keys.map(mapping)
    unknown = mapped.isna()
    if unknown.any():
        bad = pd.unique(values[unknown].astype(str))
        known = list(dict.fromkeys(mapping))[:3]
        raise DataContractError(
            f"unknown {what} label(s) {list(bad[:5])}; add them to the "
            f"Stat-Xplore lookup (statxplore_contracts.yaml); known labels "
            f"include {known}",
            column=column,
            rule=f"known_{what}_label",
            examples=list(bad[:5]),
        )
    return mapped


def _database_id(frame: pd.DataFrame, database: str | None, lookup: ContractLookup) -> str:
    db = database
    if db is None and "database" in frame and frame["database"].nunique() == 1:
        db = str(frame["database"].iloc[0])
    db = (db or "").rsplit(":", 1)[-1]
    if db not in lookup.databases:
        raise ParameterError(
            f"not a Work Programme database: {db!r}; pass database= one of {list(lookup.databases)}"
        )
    return db


def work_programme(
    frame: pd.DataFrame,
    *,
    lookup: ContractLookup | None = None,
    database: str | None = None,
    measure: str | None = None,
) -> pd.DataFrame:
    """Map a tidy Stat-Xplore frame of a Work Programme database to canonical columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of :func:`wpeval.statxplore.read` for one of the Work Programme databases.
    lookup : ContractLookup, optional
        Labels (default :func:`load_lookup`).
    database : str, optional
        Database id (e.g. ``"WP_Job_Outcomes"``); default: the frame's ``database`` column.
    measure : str, optional
        Keep only this measure label when the frame holds several.

    Returns
    -------
    pandas.DataFrame
        ``table`` (the lookup's table name, e.g. ``"job_outcomes"``), ``month``
        (``Period[M]``), ``cpa``, ``prime``, ``payment_group`` (code), then any of
        ``jo_length_weeks`` (int), ``age_band``, ``gender``, ``disability`` present (their
        labels in the lookup's spelling, :mod:`wpeval.statxplore.demographics`), then
        ``value``. A table broken down by a demographic field need not have a contract
        breakdown (then no ``cpa``, ``prime``).
        Total items are dropped (never summed with their categories); their number is in
        ``attrs["statxplore"]["n_total_rows_dropped"]``.

    Raises
    ------
    DataContractError
        No month breakdown, no contract nor demographic breakdown, or an unknown contract,
        payment-group, month, age-band, gender or disability label (the message names it).
    """
    lookup = lookup or load_lookup()
    db = _database_id(frame, database, lookup)
    if measure is not None:
        frame = frame[frame["measure"] == measure]
    elif "measure" in frame and frame["measure"].nunique() > 1:
        raise ParameterError(
            f"the frame holds several measures {list(frame['measure'].unique())}; pass measure="
        )
    columns = _match_columns(frame, lookup)
    for need in ("month",):
        if need not in columns.values():
            raise DataContractError(
                f"no {need} breakdown among the fields {list(frame.columns)}",
                column=need,
                rule="required_breakdown",
            )
    totals = frame["is_total"].to_numpy(bool) if "is_total" in frame else np.zeros(len(frame), bool)
    work = frame.loc[~totals].rename(columns=columns)
    out = pd.DataFrame({"table": lookup.databases[db]["table"]}, index=work.index)
    out["month"] = parse_months(work["month"])
    if "contract" in work:
        pairs = _map_labels(work["contract"], lookup.contracts, "contract", "contract")
        out["cpa"] = pairs.str[0]
        out["prime"] = pairs.str[1]
    elif {"cpa", "prime"} <= set(work.columns):
        out["cpa"], out["prime"] = work["cpa"].astype(str), work["prime"].astype(str)
    elif not set(BREAKDOWNS) & set(work.columns):
        raise DataContractError(
            "no 'Contract Package Area and Contract' breakdown (nor cpa and prime columns, "
            "nor a demographic breakdown)",
            column="contract",
            rule="required_breakdown",
        )
    if "payment_group" in work:
        out["payment_group"] = _map_labels(
            work["payment_group"], lookup.groups, "payment_group", "payment group", lower=True
        )
    if "jo_length_weeks" in work:
        weeks = pd.to_numeric(
            work["jo_length_weeks"].astype(str).str.extract(r"(\d+)")[0], errors="coerce"
        )
        if weeks.isna().any():
            raise DataContractError(
                "job-outcome length labels need a number of weeks",
                column="jo_length_weeks",
                rule="jo_length_label",
                examples=work.loc[weeks.isna(), "jo_length_weeks"].head(5).tolist(),
            )
        out["jo_length_weeks"] = weeks.astype(int)
    for extra in BREAKDOWNS:
        if extra in work:
            out[extra] = to_labels(work[extra], extra, lookup.demographics)
    out["value"] = work["value"].astype(float)
    out = out.reset_index(drop=True)
    out.attrs["statxplore"] = {
        **frame.attrs.get("statxplore", {}),
        "database_id": db,
        "n_total_rows_dropped": int(totals.sum()),
    }
    return out


def read_work_programme(paths, *, lookup: ContractLookup | None = None) -> pd.DataFrame:
    """Read several Stat-Xplore files (JSON or tidy CSV) of Work Programme databases and map
    each with :func:`work_programme`; returns their rows concatenated.

    Parameters
    ----------
    paths : sequence of str or path
        One file per database (a database may not appear twice).
    lookup : ContractLookup, optional
        Labels (default :func:`load_lookup`).
    """
    from wpeval.statxplore.reader import read

    lookup = lookup or load_lookup()
    frames, seen = [], set()
    for path in paths:
        frame = work_programme(read(path), lookup=lookup)
        table = frame["table"].iloc[0] if len(frame) else None
        if table in seen:
            raise DataContractError(
                f"two files hold the {table!r} table (second: {path})",
                column="table",
                rule="one_file_per_database",
            )
        seen.add(table)
        frames.append(frame)
    if not frames:
        raise ParameterError("no Stat-Xplore files given")
    return pd.concat(frames, ignore_index=True)
