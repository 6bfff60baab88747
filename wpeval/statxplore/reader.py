"""Read Stat-Xplore's Open Data API ``/table`` responses (JSON) and tidy CSV files.

A ``/table`` response (``POST /webapi/rest/v1/table``) holds ``database``, ``measures[]``,
``fields[]`` (each with ``items[]``: ``type``, ``labels[]``, ``uris[]``, optional
``annotationKeys``), ``cubes`` keyed by measure URI (each ``{values, precision}``, where
``values`` nests one level per field in field order) and ``annotationMap`` (footnotes).
:func:`read_json` turns it into a tidy long frame: one column per field, named from the field
label, then ``measure`` (the measure label) and ``value``, then ``is_total`` (True when any of
the cell's items is a ``Total`` item) and ``database`` (the database id). Footnotes and the
field and measure URIs are kept in ``frame.attrs["statxplore"]``.

Row order is the order of the cube (the first field varies slowest, measures in response
order), which is also the order of the tables that the House of Commons Library's R client
``statxplorer`` extracts; ``tests/statxplore/test_reader.py`` checks the reader against them
cell for cell.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wpeval.exceptions import DataContractError, ParameterError

__all__ = ["TOTAL_TYPES", "parse_response", "read", "read_csv", "read_json"]

#: item types Stat-Xplore uses for totals (every other type is a category)
TOTAL_TYPES = ("Total",)
#: columns the reader adds after the field columns
VALUE_COLUMNS = ("measure", "value", "is_total", "database")


def _require(doc: dict, key: str, where: str, kind: type) -> Any:
    if key not in doc:
        raise DataContractError(
            f"not a Stat-Xplore table response: {where} has no {key!r}",
            column=key,
            rule="statxplore_response_shape",
        )
    value = doc[key]
    if not isinstance(value, kind):
        raise DataContractError(
            f"{where}[{key!r}] must be a {kind.__name__}, got {type(value).__name__}",
            column=key,
            rule="statxplore_response_shape",
        )
    return value


def _field_columns(fields: list[dict]) -> list[str]:
    """Column names from field labels, made unique and kept clear of the value columns."""
    names: list[str] = []
    for i, f in enumerate(fields):
        label = str(f.get("label") or f.get("uri") or f"field_{i + 1}")
        if label in VALUE_COLUMNS:
            label = f"{label} (field)"
        base, k = label, 2
        while label in names:
            label, k = f"{base} ({k})", k + 1
        names.append(label)
    return names


def _items(field: dict, where: str) -> tuple[list[str], np.ndarray, dict]:
    items = _require(field, "items", where, list)
    if not items:
        raise DataContractError(
            f"{where} has no items", column="items", rule="statxplore_response_shape"
        )
    labels, total, notes = [], np.zeros(len(items), dtype=bool), {}
    for j, item in enumerate(items):
        lab = item.get("labels") or item.get("uris") or [f"item {j + 1}"]
        labels.append(str(lab[0]))
        total[j] = item.get("type") in TOTAL_TYPES
        if item.get("annotationKeys"):
            notes[labels[-1]] = list(item["annotationKeys"])
    return labels, total, notes


def _cube_array(cube: dict, uri: str, shape: tuple[int, ...], columns: list[str]) -> np.ndarray:
    values = _require(cube, "values", f"cubes[{uri!r}]", list)
    try:
        arr = np.array(values, dtype=float)
    except (ValueError, TypeError) as exc:
        raise DataContractError(
            f"cube {uri!r}: values are ragged or not numbers, so they cannot match the "
            f"fields {columns} with {list(shape)} items ({exc})",
            column="cubes",
            rule="values_match_fields",
        ) from exc
    if arr.shape != shape:
        raise DataContractError(
            f"cube {uri!r}: values have shape {list(arr.shape)} but the fields {columns} have "
            f"{list(shape)} items",
            column="cubes",
            rule="values_match_fields",
        )
    return arr


def parse_response(doc: dict, source: str = "<response>") -> pd.DataFrame:
    """Turn a parsed ``/table`` response into the tidy long frame (see the module docstring).

    Parameters
    ----------
    doc : dict
        The JSON response, already parsed.
    source : str, optional
        Name used in error messages and recorded in ``attrs``.

    Returns
    -------
    pandas.DataFrame
        Field columns, ``measure``, ``value`` (float; ``NaN`` where Stat-Xplore gave null),
        ``is_total``, ``database``; ``attrs["statxplore"]`` holds ``database`` (id, uri,
        label), ``measures`` (uri, label, function), ``fields`` (column, label, uri),
        ``footnotes`` (the ``annotationMap``), ``item_footnotes`` (column -> item label ->
        keys), ``precision`` (measure label -> decimals) and ``source``.

    Raises
    ------
    DataContractError
        No ``cubes`` / ``fields`` / ``measures``, a measure without a cube, or a cube whose
        values do not match the fields' item counts (the message names the cube and both
        shapes).
    """
    if not isinstance(doc, dict):
        raise DataContractError(
            f"{source}: a Stat-Xplore response is a JSON object, got {type(doc).__name__}",
            rule="statxplore_response_shape",
        )
    cubes = _require(doc, "cubes", source, dict)
    fields = _require(doc, "fields", source, list)
    measures = doc.get("measures") or [{"uri": k, "label": k} for k in cubes]
    database = doc.get("database") or {}
    if isinstance(database, str):
        database = {"uri": database, "id": database.rsplit(":", 1)[-1], "label": database}
    columns = _field_columns(fields)
    parsed = [_items(f, f"fields[{i}] ({columns[i]!r})") for i, f in enumerate(fields)]
    shape = tuple(len(p[0]) for p in parsed)
    # every combination of items, first field slowest (C order, as the cube nests)
    grids = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij") if shape else []
    index = [g.ravel() for g in grids]
    is_total = np.zeros(int(np.prod(shape)) if shape else 1, dtype=bool)
    for (_, tot, _), idx in zip(parsed, index):
        is_total |= tot[idx]
    frames, precision = [], {}
    for m in measures:
        uri = str(m.get("uri"))
        label = str(m.get("label") or uri)
        if uri not in cubes:
            raise DataContractError(
                f"{source}: measure {uri!r} has no cube; cubes hold {sorted(cubes)}",
                column="cubes",
                rule="cube_per_measure",
            )
        arr = _cube_array(cubes[uri], uri, shape, columns)
        precision[label] = cubes[uri].get("precision")
        data = {
            col: np.asarray(labs, dtype=object)[idx]
            for col, (labs, _, _), idx in zip(columns, parsed, index)
        }
        data.update(measure=label, value=arr.ravel(), is_total=is_total)
        frames.append(pd.DataFrame(data))
    if not frames:
        raise DataContractError(
            f"{source}: the response has no measures",
            column="measures",
            rule="statxplore_response_shape",
        )
    out = pd.concat(frames, ignore_index=True)
    out["database"] = str(database.get("id") or database.get("uri") or "")
    out.attrs["statxplore"] = {
        "source": source,
        "database": dict(database),
        "measures": [
            {
                "uri": str(m.get("uri")),
                "label": str(m.get("label") or m.get("uri")),
                "function": m.get("function"),
            }
            for m in measures
        ],
        "fields": [
            {"column": c, "label": f.get("label"), "uri": f.get("uri")}
            for c, f in zip(columns, fields)
        ],
        "footnotes": dict(doc.get("annotationMap") or {}),
        "item_footnotes": {c: p[2] for c, p in zip(columns, parsed) if p[2]},
        "precision": precision,
    }
    return out


def _drop_totals(frame: pd.DataFrame, totals: str) -> pd.DataFrame:
    if totals not in ("flag", "drop"):
        raise ParameterError(f"totals must be 'flag' or 'drop', got {totals!r}")
    if totals == "flag":
        return frame
    attrs = dict(frame.attrs)
    kept = frame.loc[~frame["is_total"].to_numpy()].reset_index(drop=True)
    attrs.setdefault("statxplore", {})
    attrs["statxplore"] = {
        **attrs["statxplore"],
        "n_total_rows_dropped": int(frame["is_total"].sum()),
    }
    kept.attrs = attrs
    return kept


def read_json(path: str | Path, *, totals: str = "flag") -> pd.DataFrame:
    """Read a Stat-Xplore ``/table`` JSON response into the tidy long frame.

    Parameters
    ----------
    path : str or path
        The JSON file (as saved from the API or by ``wpeval statxplore fetch``).
    totals : {"flag", "drop"}
        Keep total items with ``is_total`` True (default) or drop them (the number dropped is
        in ``attrs["statxplore"]["n_total_rows_dropped"]``). Totals are never summed with
        the categories they total.

    Returns
    -------
    pandas.DataFrame
        See :func:`parse_response`.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ParameterError(f"Stat-Xplore file {str(path)!r} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise DataContractError(
            f"{path}: not valid JSON ({exc})", rule="statxplore_response_shape"
        ) from exc
    return _drop_totals(parse_response(doc, source=str(path)), totals)


def read_csv(path: str | Path, *, totals: str = "flag", total_label: str = "Total") -> pd.DataFrame:
    """Read a tidy CSV of published counts: one column per field, then ``value``.

    Parameters
    ----------
    path : str or path
        UTF-8 CSV with a header row. It must hold a ``value`` column (numbers); every other
        column is a field, except the optional ``measure`` and ``database`` columns.
    totals : {"flag", "drop"}
        As in :func:`read_json`; a row is a total when any field holds ``total_label``.
    total_label : str
        The label that marks a total item.

    Returns
    -------
    pandas.DataFrame
        The same layout as :func:`read_json` (``measure`` and ``database`` are "" when the
        file has no such column).
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ParameterError(f"CSV file {str(path)!r} does not exist") from exc
    if "value" not in raw.columns:
        raise DataContractError(
            f"{path}: a tidy CSV needs a 'value' column; columns are {list(raw.columns)}",
            column="value",
            rule="required_column",
        )
    fields = [c for c in raw.columns if c not in VALUE_COLUMNS]
    value = pd.to_numeric(
        raw["value"].str.replace(",", "", regex=False).replace("", None), errors="coerce"
    )
    bad = value.isna() & (raw["value"].str.strip() != "")
    if bad.any():
        raise DataContractError(
            f"{path}: {int(bad.sum())} value(s) are not numbers",
            column="value",
            rule="numeric",
            examples=raw.loc[bad, "value"].head(5).tolist(),
        )
    out = raw[fields].copy()
    out["measure"] = raw.get("measure", "")
    out["value"] = value.astype(float)
    out["is_total"] = (raw[fields] == total_label).any(axis=1) if fields else False
    out["database"] = raw.get("database", "")
    out.attrs["statxplore"] = {
        "source": str(path),
        "database": {},
        "measures": [],
        "fields": [{"column": c, "label": c, "uri": None} for c in fields],
        "footnotes": {},
        "item_footnotes": {},
        "precision": {},
    }
    return _drop_totals(out, totals)


def read(path: str | Path, *, totals: str = "flag") -> pd.DataFrame:
    """Read published Stat-Xplore counts: a ``/table`` JSON response or a tidy CSV.

    Parameters
    ----------
    path : str or path
        ``.json`` (a ``/table`` response, :func:`read_json`) or ``.csv`` (:func:`read_csv`).
    totals : {"flag", "drop"}
        Keep total items flagged in ``is_total`` (default) or drop them.

    Returns
    -------
    pandas.DataFrame
        One column per field (named from the field label), ``measure``, ``value``,
        ``is_total``, ``database``; metadata (footnotes, URIs) in ``attrs["statxplore"]``.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return read_json(path, totals=totals)
    if suffix == ".csv":
        return read_csv(path, totals=totals)
    raise ParameterError(
        f"cannot tell the format of {str(path)!r}: expected a .json "
        "(Stat-Xplore /table response) or .csv (tidy table) file"
    )
