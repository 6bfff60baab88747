"""Stat-Xplore-shaped ``/table`` responses built from monthly tables (for demos and tests).

:func:`to_response` writes the JSON shape of a genuine Stat-Xplore ``/table`` response
(``query``, ``database``, ``measures``, ``fields`` with ``items``, ``cubes``,
``annotationMap``) for one Work Programme database, with every combination of field items
filled (zeros included, as Stat-Xplore returns them) and, optionally, Total items. Values pass
through a :class:`~wpeval.statxplore.noise.NoiseModel` (``noise=None``: exact counts).
:func:`demo_responses` does this for each database from the synthetic programme or any
referral-level data, which is how the demo notebook gets "published" figures that are not
committed files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from wpeval.exceptions import ParameterError
from wpeval.statxplore.noise import NoiseModel
from wpeval.statxplore.tables import monthly_tables
from wpeval.statxplore.workprogramme import ContractLookup, load_lookup

__all__ = ["break_extract", "demo_responses", "scale_cells", "to_response"]

#: breakdown -> the monthly-table columns it is made of
_BY = {"contract": ("cpa", "prime")}
_FIELD_LABELS = {
    "month": "Month",
    "contract": "Contract Package Area and Contract",
    "payment_group": "Payment Group",
    "jo_length_weeks": "Job Outcome Length",
    "age_band": "Age Band",
    "gender": "Gender",
    "disability": "Disability",
}


def _axes(table: pd.DataFrame, lookup: ContractLookup, breakdowns) -> list[tuple]:
    """(name, item labels, item keys) per field, in field order."""
    prog = lookup.programme
    axes = []
    for b in breakdowns:
        if b == "month":
            months = pd.period_range(table["month"].min(), table["month"].max(), freq="M")
            axes.append((b, [m.strftime("%B %Y") for m in months], list(months)))
        elif b == "contract":
            pairs = prog.contracts
            axes.append((b, [lookup.label_of(c, p) for c, p in pairs], pairs))
        elif b == "payment_group":
            codes = list(prog.payment_groups)
            axes.append((b, [prog.payment_groups[c].label for c in codes], codes))
        elif b == "jo_length_weeks":
            weeks = sorted({g.jo_trigger_weeks for g in prog.payment_groups.values()})
            axes.append((b, [f"{w} weeks" for w in weeks], weeks))
        elif b in ("age_band", "gender", "disability"):
            labels = lookup.demographics.labels(b)
            axes.append((b, labels, labels))
        else:
            raise ParameterError(f"unknown breakdown {b!r}; use {list(_FIELD_LABELS)}")
    return axes


def _dense(table: pd.DataFrame, axes) -> np.ndarray:
    shape = tuple(len(a[2]) for a in axes)
    cube = np.zeros(shape)
    idx = []
    for name, _, keys in axes:
        pos = {k: i for i, k in enumerate(keys)}
        if name == "contract":
            col = list(zip(table["cpa"], table["prime"]))
        else:
            col = table[name].tolist()
        where = np.array([pos.get(v, -1) for v in col], dtype=int)
        if (where < 0).any():
            bad = [v for v, w in zip(col, where) if w < 0][:5]
            raise ParameterError(f"{name} values {bad} are not in the programme")
        idx.append(where)
    np.add.at(cube, tuple(idx), table["value"].to_numpy(float))
    return cube


def _with_totals(cube: np.ndarray) -> np.ndarray:
    """Append a Total item to every axis (sums of the true counts)."""
    for ax in range(cube.ndim):
        cube = np.concatenate([cube, cube.sum(axis=ax, keepdims=True)], axis=ax)
    return cube


def to_response(
    table: pd.DataFrame,
    database: str,
    *,
    lookup: ContractLookup | None = None,
    breakdowns=("month", "contract", "payment_group"),
    noise: NoiseModel | None = None,
    seed=None,
    totals: bool = False,
) -> dict:
    """A Stat-Xplore ``/table`` response (as a dict) for one table of :func:`monthly_tables`.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of one table (``month``, ``cpa``, ``prime``, ``payment_group``, ``value``...).
    database : str
        Work Programme database id, e.g. ``"WP_Referrals"`` (see the lookup's ``databases``).
    lookup : ContractLookup, optional
        Labels (default :func:`load_lookup`).
    breakdowns : sequence of str
        Fields, in order, from ``month``, ``contract``, ``payment_group``,
        ``jo_length_weeks``, ``age_band``, ``gender``, ``disability`` (the last three: every
        configured label and the unknown one, see :mod:`wpeval.statxplore.demographics`).
    noise : NoiseModel, optional
        Applied independently to every cell, totals included (None: exact counts).
    seed : int or numpy Generator, optional
        For the noise.
    totals : bool
        Add a Total item to every field (totals of the true counts, then noised).
    """
    lookup = lookup or load_lookup()
    if database not in lookup.databases:
        raise ParameterError(f"unknown database {database!r}; known: {list(lookup.databases)}")
    spec = lookup.databases[database]
    axes = _axes(table, lookup, breakdowns)
    cube = _dense(table, axes)
    if totals:
        cube = _with_totals(cube)
    if noise is not None:
        cube = noise.apply(np.rint(cube), seed).astype(float)
    uris = spec.get("fields_uri", {})
    fields = []
    for name, labels, keys in axes:
        uri = uris.get(name, f"str:field:{database}:{name.upper()}")
        items = [
            {"type": "RecodeItem", "uris": [f"{uri}:{k}"], "labels": [lab]}
            for lab, k in zip(labels, keys)
        ]
        if totals:
            items.append({"type": "Total", "labels": ["Total"]})
        fields.append({"uri": uri, "label": _FIELD_LABELS[name], "items": items})
    measure = {
        "uri": spec["measure"],
        "label": spec["measure_label"],
        "measure": spec["measure"],
        "function": "COUNT",
    }
    return {
        "query": {
            "database": f"str:database:{database}",
            "measures": [spec["measure"]],
            "dimensions": [[f["uri"]] for f in fields],
        },
        "database": {
            "id": database,
            "uri": f"str:database:{database}",
            "label": f"Work Programme {spec['measure_label']}",
            "annotationKeys": ["S"],
        },
        "measures": [measure],
        "fields": fields,
        "cubes": {spec["measure"]: {"values": cube.tolist(), "precision": 0}},
        "annotationMap": {
            "S": "Synthetic figures made by wpeval from a synthetic programme, "
            "with Stat-Xplore-like noise and rounding; not DWP statistics."
        },
    }


def demo_responses(
    data: pd.DataFrame,
    folder: str | Path,
    *,
    lookup: ContractLookup | None = None,
    noise: NoiseModel | None = None,
    seed: int = 0,
    totals: bool = True,
    databases=None,
    monthly: pd.DataFrame | None = None,
    breakdowns=("month", "contract", "payment_group"),
) -> list[Path]:
    """Write one Stat-Xplore-shaped JSON file per Work Programme database from referral data.

    Parameters
    ----------
    data : pandas.DataFrame
        Referral-level data (e.g. ``wpeval.make_programme(...).referrals``).
    folder : str or path
        Where ``<database>.json`` files are written (created if needed).
    lookup : ContractLookup, optional
    noise : NoiseModel, optional
        Default ``NoiseModel()`` (pass ``NoiseModel(scale=0, base=1)`` for exact counts).
    seed : int
        Seed of the noise; each database gets its own stream.
    totals : bool
        Include Total items.
    databases : sequence of str, optional
        Only these database ids (default every database of the lookup).
    monthly : pandas.DataFrame, optional
        ``monthly_tables(data, programme=lookup.programme)`` when the caller has it already
        (the demo notebook reconciles the same extract): used instead of computing it again.
        It must be broken down by ``breakdowns``.
    breakdowns : sequence of str
        Fields of every file, as in :func:`to_response` (``jo_length_weeks`` is added for the
        job-outcome database); e.g. ``("month", "gender")`` for referrals by month x gender.

    Returns
    -------
    list of Path
    """
    lookup = lookup or load_lookup()
    noise = noise if noise is not None else NoiseModel()
    wanted = list(lookup.databases) if databases is None else list(databases)
    unknown = [d for d in wanted if d not in lookup.databases]
    if unknown:
        raise ParameterError(f"unknown database(s) {unknown}; known: {list(lookup.databases)}")
    tables = [lookup.databases[d]["table"] for d in wanted]
    breakdowns = tuple(b for b in breakdowns if b != "jo_length_weeks")
    if monthly is None:
        by = [c for b in breakdowns if b != "month" for c in _BY.get(b, (b,))]
        monthly = monthly_tables(
            data,
            programme=lookup.programme,
            tables=tables,
            by=by,
            demographics=lookup.demographics,
        )
    tabs = monthly[monthly["table"].isin(tables)]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (db, spec) in enumerate(lookup.databases.items()):
        if db not in wanted:
            continue
        t = tabs[tabs["table"] == spec["table"]]
        lo, hi = (pd.Period(m, "M") for m in spec["coverage"])
        t = t[(t["month"] >= lo) & (t["month"] <= hi)]
        if t.empty:
            continue
        bd = breakdowns + (
            ("jo_length_weeks",) if "jo_length_weeks" in spec.get("fields_uri", {}) else ()
        )
        resp = to_response(
            t,
            db,
            lookup=lookup,
            noise=noise,
            breakdowns=bd,
            seed=np.random.default_rng([seed, i]),
            totals=totals,
        )
        path = folder / f"{db}.json"
        path.write_text(json.dumps(resp), encoding="utf-8")
        paths.append(path)
    return paths


def scale_cells(
    tables: pd.DataFrame,
    factor: float,
    *,
    table: str | None = None,
    cpa: str | None = None,
    prime: str | None = None,
    month=None,
    where: dict | None = None,
) -> pd.DataFrame:
    """A copy of ``tables`` with the selected cells multiplied by ``factor`` (rounded to whole
    counts): how the tests and the demo plant a known discrepancy. ``where`` selects on other
    columns, e.g. ``{"age_band": "25-34"}``."""
    out = tables.copy()
    sel = np.ones(len(out), dtype=bool)
    pairs = [("table", table), ("cpa", cpa), ("prime", prime), ("month", month)]
    for col, val in [*pairs, *(where or {}).items()]:
        if val is not None:
            sel &= (out[col] == (pd.Period(val, "M") if col == "month" else val)).to_numpy()
    if not sel.any():
        raise ParameterError("no cells match the selection")
    out.loc[sel, "value"] = np.rint(out.loc[sel, "value"] * factor)
    return out


def break_extract(data: pd.DataFrame, share: float, *, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """A deliberately broken extract: ``share`` of the referrals of the largest
    contract x payment group x referral month cell removed (as if lost in a transfer).

    Returns
    -------
    (broken, cell) : the data without those rows, and the cell (cpa, prime, payment_group,
    month as text, rows removed).
    """
    if not 0 < share <= 1:
        raise ParameterError(f"share must be in (0, 1], got {share!r}")
    month = pd.to_datetime(data["referral_date"]).dt.to_period("M")
    keys = ["cpa", "prime", "payment_group"]
    sizes = data.groupby([*[data[k] for k in keys], month.rename("month")], observed=True).size()
    cpa, prime, group, mon = sizes.idxmax()
    inside = (
        (data["cpa"] == cpa)
        & (data["prime"] == prime)
        & (data["payment_group"] == group)
        & (month == mon)
    ).to_numpy()
    rows = np.flatnonzero(inside)
    rng = np.random.default_rng(seed)
    lost = rng.choice(rows, size=round(share * len(rows)), replace=False)
    keep = np.ones(len(data), dtype=bool)
    keep[lost] = False
    cell = {
        "cpa": str(cpa),
        "prime": str(prime),
        "payment_group": str(group),
        "month": str(mon),
        "referrals": len(rows),
        "removed": len(lost),
    }
    return data.loc[keep], cell
