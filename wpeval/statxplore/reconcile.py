"""Reconcile an extract's monthly tables with the published Stat-Xplore tables, cell by cell.

Hypothesis checked in every cell: the published count is the extract's count after
Stat-Xplore's noise and rounding (:class:`~wpeval.statxplore.noise.NoiseModel`). Under it the
difference ``D = published - extract`` has an exact law given the extract's count, so each cell
gets the smallest tolerance ``t`` with ``P(|D| > t) <= alpha_cell``, and a cell *disagrees*
when ``|D| > t + rel_tol * extract``.

False alarms. With ``per="table"`` (default) ``alpha_cell = 1 - (1 - alpha)^(1/m)`` for the
``m`` cells of each published table (Sidak; the noise is independent between cells), so a
clean table shows any disagreement with probability at most ``alpha``; the exact rate,
``1 - prod(1 - P(|D_i| > t_i))``, is reported as ``achieved_rate`` (below ``alpha`` because D
is discrete). With ``per="cell"`` each cell has false-alarm probability at most ``alpha``.

Limits: the noise model's numbers are assumptions (status U); a real extract also differs from
the published series by later revisions (use ``rel_tol``) and by the date conventions of
:mod:`wpeval.statxplore.tables`. A disagreement is a question for the data owner, not proof
that either source is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from wpeval.exceptions import DataContractError, ParameterError
from wpeval.results import _jsonable, check_method
from wpeval.statxplore.noise import NoiseModel

__all__ = ["Reconciliation", "alpha_per_cell", "flag_cells", "reconcile"]


def alpha_per_cell(alpha: float, m: int, per: str = "table") -> float:
    """Per-cell false-alarm probability: Sidak over ``m`` cells (``per="table"``) or alpha."""
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must be in (0, 1), got {alpha!r}")
    if per == "cell":
        return float(alpha)
    if per != "table":
        raise ParameterError(f"per must be 'table' or 'cell', got {per!r}")
    return float(-np.expm1(np.log1p(-alpha) / max(int(m), 1)))


def flag_cells(
    extract, published, noise: NoiseModel, alpha_cell: float, rel_tol: float = 0.0
) -> dict:
    """Vectorised core of :func:`reconcile`.

    Parameters
    ----------
    extract : array-like of int, shape (m,) or (r, m)
        The extract's counts (taken as the truth); one row per simulated extract allowed.
    published : array-like, shape (m,) or (r, m)
        Published counts (r replicates allowed, e.g. simulated publications).
    noise : NoiseModel
    alpha_cell : float
        Per-cell false-alarm probability.
    rel_tol : float
        Extra allowance as a share of the extract count (revisions).

    Returns
    -------
    dict
        ``difference`` (published - extract), ``tolerance`` (t + rel_tol * extract, shaped
        like ``extract``), ``tail`` (exact ``P(|D| > t)``, shaped like ``extract``) and
        ``flag`` (|difference| > tolerance).
    """
    x = np.asarray(extract, dtype=float)
    t, tail = noise.tolerance(x, alpha_cell)
    tol = t + float(rel_tol) * x
    diff = np.asarray(published, dtype=float) - x
    return {"difference": diff, "tolerance": tol, "tail": tail, "flag": np.abs(diff) > tol + 1e-9}


@dataclass(frozen=True)
class Reconciliation:
    """Cell-by-cell comparison of an extract with the published tables.

    Attributes
    ----------
    cells : pandas.DataFrame
        One row per published cell: keys, ``extract``, ``published``, ``difference``,
        ``rel_difference``, ``tolerance``, ``p_exceed`` (P(|D| > t) under the noise model) and
        ``disagrees``.
    extract_only : pandas.DataFrame
        Extract cells outside the published tables (other months or contracts): not compared.
    tables : pandas.DataFrame
        Per table: cells compared, disagreements, ``alpha_cell``, ``achieved_rate``.
    method : mapping
        Estimator, SE type, CI method, design, noise model and alpha.
    """

    cells: pd.DataFrame
    extract_only: pd.DataFrame
    tables: pd.DataFrame
    method: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_method(self.method, "Reconciliation")

    def tidy(self) -> pd.DataFrame:
        """Every compared cell (a copy)."""
        return self.cells.copy()

    def disagreements(self) -> pd.DataFrame:
        """The cells that disagree beyond the tolerance, largest relative difference first
        (relative to the extract's count, or to 1 when the extract has none)."""
        out = self.cells[self.cells["disagrees"]]
        order = out["difference"].abs().div(out["extract"].where(out["extract"] > 0, 1.0))
        return out.loc[order.sort_values(ascending=False, kind="mergesort").index].reset_index(
            drop=True
        )

    def months(self) -> pd.DataFrame:
        """Per table and month: cells, cells disagreeing, extract and published sums."""
        g = self.cells.groupby(["table", "month"], sort=True)
        out = g.agg(
            cells=("disagrees", "size"),
            disagreeing=("disagrees", "sum"),
            extract=("extract", "sum"),
            published=("published", "sum"),
        ).reset_index()
        out["difference"] = out["published"] - out["extract"]
        return out

    @property
    def n_disagreeing(self) -> int:
        return int(self.cells["disagrees"].sum())

    def summary(self) -> str:
        lines = [
            (
                f"Reconciliation of an extract with {len(self.tables)} published table(s): "
                f"{len(self.cells):,} cells compared, {self.n_disagreeing} disagree beyond "
                "the noise tolerance."
            )
        ]
        for _, r in self.tables.iterrows():
            lines.append(
                f"  {r['table']}: {int(r['cells']):,} cells, {int(r['disagreeing'])} "
                f"disagreeing; false-alarm rate of a clean table "
                f"{r['achieved_rate']:.4f} (alpha {self.method['alpha']})"
            )
        lines.append(f"Method: {self.method['estimator']}; {self.method['ci_method']}.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict:
        """JSON-ready summary (no cell-level rows beyond the disagreements)."""
        dis = self.disagreements().copy()
        dis["month"] = dis["month"].astype(str)
        return _jsonable(
            {
                "method": dict(self.method),
                "n_cells": len(self.cells),
                "n_disagreeing": self.n_disagreeing,
                "tables": self.tables.to_dict("records"),
                "disagreements": dis.head(50).to_dict("records"),
                "n_extract_only": len(self.extract_only),
                **dict(self.extra),
            }
        )


_ORDER = ("table", "month", "cpa", "prime", "payment_group", "jo_length_weeks")


def _key_columns(pub: pd.DataFrame) -> list[str]:
    return [c for c in pub.columns if c != "value" and pub[c].notna().any()]


def _one_table(name, ext, pub, noise, alpha, per, rel_tol):
    keys = _key_columns(pub)
    missing = [k for k in keys if k not in ext.columns or ext[k].isna().all()]
    if missing:
        raise DataContractError(
            f"the extract's {name!r} table has no {missing} breakdown, which "
            "the published table has",
            column=missing[0],
            rule="same_breakdowns",
        )
    pub = pub.dropna(subset=["value"])
    if pub.duplicated(keys).any():
        raise DataContractError(
            f"published {name!r} table has duplicate cells (totals left "
            "in, or two tables of one database?)",
            column=keys[0],
            rule="one_row_per_cell",
        )
    agg = ext.groupby(keys, observed=True, sort=False)["value"].sum().rename("extract")
    merged = pub.rename(columns={"value": "published"})[keys + ["published"]].merge(
        agg.reset_index(), on=keys, how="outer", indicator=True
    )
    only = merged[merged["_merge"] == "right_only"].drop(columns=["_merge", "published"])
    cells = merged[merged["_merge"] != "right_only"].drop(columns="_merge").copy()
    cells["extract"] = cells["extract"].fillna(0.0)
    a_cell = alpha_per_cell(alpha, len(cells), per)
    res = flag_cells(
        cells["extract"].to_numpy(), cells["published"].to_numpy(), noise, a_cell, rel_tol
    )
    cells["difference"] = res["difference"]
    with np.errstate(divide="ignore", invalid="ignore"):
        cells["rel_difference"] = res["difference"] / cells["extract"].to_numpy()
    cells["tolerance"], cells["p_exceed"] = res["tolerance"], res["tail"]
    cells["disagrees"] = res["flag"]
    rate = abs(float(-np.expm1(np.log1p(-np.clip(res["tail"], 0, 1 - 1e-16)).sum())))
    order = [
        c
        for c in ("table", "month", "cpa", "prime", "payment_group", "jo_length_weeks")
        if c in keys
    ] + [c for c in keys if c not in _ORDER]
    cells = cells[order + [c for c in cells.columns if c not in keys]]
    row = {
        "table": name,
        "cells": len(cells),
        "disagreeing": int(res["flag"].sum()),
        "alpha_cell": a_cell,
        "achieved_rate": rate,
        "expected_false_alarms": float(res["tail"].sum()),
        "extract_only_cells": len(only),
    }
    return cells, only, row


def reconcile(
    extract_tables: pd.DataFrame,
    published: pd.DataFrame,
    *,
    noise: NoiseModel | None = None,
    alpha: float = 0.05,
    per: str = "table",
    rel_tol: float = 0.0,
) -> Reconciliation:
    """Compare an extract's monthly tables with the published ones, cell by cell.

    Parameters
    ----------
    extract_tables : pandas.DataFrame
        :func:`wpeval.statxplore.monthly_tables` of the extract (``table``, keys, ``value``).
    published : pandas.DataFrame
        :func:`wpeval.statxplore.work_programme` output of one or more databases
        (concatenated). The published table's breakdowns define the cells: the extract is
        summed to them; published cells the extract lacks count as 0 in the extract.
    noise : NoiseModel, optional
        Assumed noise and rounding (default ``NoiseModel()``).
    alpha : float
        False-alarm probability (per table or per cell, see ``per``).
    per : {"table", "cell"}
        What ``alpha`` bounds: any false alarm in a clean table (Sidak) or in one cell.
    rel_tol : float
        Extra allowance as a share of the extract's count (for revisions; default 0).

    Returns
    -------
    Reconciliation
    """
    noise = noise or NoiseModel()
    for name, frame in (("extract_tables", extract_tables), ("published", published)):
        if not {"table", "value"} <= set(frame.columns):
            raise DataContractError(
                f"{name} needs 'table' and 'value' columns", column="table", rule="required_column"
            )
    cells, only, rows = [], [], []
    for name, pub in published.groupby("table", sort=True):
        ext = extract_tables[extract_tables["table"] == name]
        c, o, r = _one_table(name, ext, pub, noise, alpha, per, rel_tol)
        cells.append(c)
        only.append(o)
        rows.append(r)
    if not cells:
        raise DataContractError(
            "the published frame holds no tables", column="table", rule="non_empty"
        )
    method = {
        "estimator": "cell-by-cell difference, published minus extract",
        "se_type": "exact law of Stat-Xplore-like noise and rounding given the extract",
        "ci_method": "tolerance = smallest t with P(|D| > t) <= alpha_cell"
        + (f" plus {rel_tol:g} x extract" if rel_tol else ""),
        "design": "none (descriptive check of two sources)",
        "alpha": alpha,
        "per": per,
        "rel_tol": rel_tol,
        "noise": {"scale": noise.scale, "max_abs": noise.max_abs, "base": noise.base},
    }
    return Reconciliation(
        cells=pd.concat(cells, ignore_index=True),
        extract_only=pd.concat(only, ignore_index=True),
        tables=pd.DataFrame(rows),
        method=method,
    )
