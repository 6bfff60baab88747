"""Demographic breakdowns (age band, gender, disability) of the Work Programme tables.

Both sides of a reconciliation carry the same columns with the same text: ``age_band``,
``gender`` and ``disability`` hold the published item labels configured in the
``demographics`` section of ``wpeval/config/statxplore_contracts.yaml``.

- :func:`derive` makes them from an extract's ``age`` (whole years at referral, banded),
  ``sex`` (``F``/``M``) and ``disability`` (true/false) columns; a missing value, or an age in
  no band, is counted under the unknown label (never dropped) and the count is returned;
- :func:`to_labels` maps a published column to the configured spelling (case and spaces
  ignored, plus ``aliases``) and names any label it does not know.

The labels, the bands and age at referral are placeholders (status U, docs/assumptions.md X7).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from wpeval.exceptions import DataContractError, ParameterError

__all__ = ["BREAKDOWNS", "Demographics", "demographics_from_config", "derive", "to_labels"]

#: kit breakdown column -> the extract column it is derived from
BREAKDOWNS = {"age_band": "age", "gender": "sex", "disability": "disability"}


@dataclass(frozen=True)
class Demographics:
    """Configured labels of the demographic breakdowns.

    Attributes
    ----------
    age_bands : tuple of (label, min, max)
        Whole-year bands, bounds inclusive (``None``: open).
    gender : dict
        Extract ``sex`` value (``"F"``, ``"M"``) -> published label.
    disability : dict
        Extract flag (``True``, ``False``) -> published label.
    unknown : str
        Label of missing values (and ages in no band).
    aliases : dict
        Other published spelling (lower-cased) -> configured label.
    age_at : str
        When age is measured (``"referral"``).
    """

    age_bands: tuple
    gender: dict
    disability: dict
    unknown: str = "Unknown"
    aliases: dict | None = None
    age_at: str = "referral"

    def labels(self, column: str) -> list[str]:
        """Published labels of ``column`` in item order, the unknown label last."""
        if column == "age_band":
            known = [b[0] for b in self.age_bands]
        elif column in ("gender", "disability"):
            known = list(getattr(self, column).values())
        else:
            raise ParameterError(f"not a demographic breakdown: {column!r}; use {list(BREAKDOWNS)}")
        return [*known, self.unknown]


def _flag(key) -> bool:
    text = str(key).strip().lower()
    if text not in ("true", "false"):
        raise ParameterError(f"demographics.disability keys must be true/false, got {key!r}")
    return text == "true"


def demographics_from_config(raw: dict | None, source: str = "lookup") -> Demographics:
    """A :class:`Demographics` from the YAML ``demographics`` mapping (None: no labels)."""
    raw = raw or {}
    bands = []
    for b in raw.get("age_bands") or []:
        if not isinstance(b, dict) or "label" not in b:
            raise ParameterError(f"{source}: each age band needs a label; got {b!r}")
        lo, hi = b.get("min"), b.get("max")
        bands.append(
            (str(b["label"]), None if lo is None else int(lo), None if hi is None else int(hi))
        )
    for (la, _, hi), (lb, lo, _) in zip(bands, bands[1:]):
        if hi is None or lo is None or lo <= hi:
            raise ParameterError(
                f"{source}: age bands {la!r} and {lb!r} overlap or are not in order"
            )
    demo = Demographics(
        age_bands=tuple(bands),
        gender={str(k).strip().upper(): str(v) for k, v in (raw.get("gender") or {}).items()},
        disability={_flag(k): str(v) for k, v in (raw.get("disability") or {}).items()},
        unknown=str(raw.get("unknown_label", "Unknown")),
        age_at=str(raw.get("age_at", "referral")),
    )
    known = {lab for c in BREAKDOWNS for lab in demo.labels(c)}
    aliases = {}
    for alias, label in (raw.get("aliases") or {}).items():
        if str(label) not in known:
            raise ParameterError(f"{source}: alias {alias!r} maps to {label!r}, not a label")
        aliases[str(alias).strip().lower()] = str(label)
    return replace(demo, aliases=aliases)


def _age_band(age: pd.Series, demo: Demographics) -> tuple[np.ndarray, int, int]:
    """Band positions (-1: unknown), missing ages and ages in no band."""
    years = np.floor(pd.to_numeric(age, errors="coerce").to_numpy(float))
    pos = np.full(len(years), -1)
    for i, (_, lo, hi) in enumerate(demo.age_bands):
        inside = np.ones(len(years), bool) if lo is None else years >= lo
        if hi is not None:
            inside &= years <= hi
        pos[inside & (pos < 0)] = i
    missing = np.isnan(years)
    return pos, int(missing.sum()), int(((pos < 0) & ~missing).sum())


def _key(value, column: str):
    """The configured key of one extract value (None: not known)."""
    text = str(value).strip()
    if column == "disability":
        low = text.lower()
        return (
            True if low in ("true", "1", "1.0") else False if low in ("false", "0", "0.0") else None
        )
    return text.upper()


def _coded(values: pd.Series, mapping: dict, column: str) -> tuple[np.ndarray, int]:
    """Positions in ``mapping``'s labels (-1: missing) and the number missing; a value that is
    neither missing nor in ``mapping`` is an error naming it. Works on the distinct values."""
    keys = list(mapping)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    where = {k: i for i, k in enumerate(keys)}
    upos = np.array([where.get(_key(u, column), -2) for u in uniques] + [-1], dtype=int)
    bad = [str(u) for u, p in zip(uniques, upos) if p == -2]
    if bad:
        raise DataContractError(
            f"{column} values {bad[:5]} have no published label (known: {keys}); add them to "
            "the demographics section of statxplore_contracts.yaml",
            column=column,
            rule=f"known_{column}_value",
            examples=bad[:5],
        )
    return upos[codes], int((codes < 0).sum())


def derive(df: pd.DataFrame, by, demo: Demographics) -> tuple[pd.DataFrame, dict]:
    """``df`` with each demographic breakdown of ``by`` set to its label (categorical, the
    unknown label for missing values), and the counts of rows labelled unknown:
    ``unknown_<column>`` (and ``age_outside_bands`` for ages in no band)."""
    notes: dict[str, int] = {}
    out = df
    for col in (c for c in by if c in BREAKDOWNS):
        src = df[BREAKDOWNS[col]]
        if col == "age_band":
            if not demo.age_bands:
                raise ParameterError("no age bands configured (demographics.age_bands)")
            pos, missing, outside = _age_band(src, demo)
            notes["age_outside_bands"] = outside
        else:
            pos, missing = _coded(src, getattr(demo, col), BREAKDOWNS[col])
        notes[f"unknown_{col}"] = int((pos < 0).sum())
        labels = demo.labels(col)
        codes = np.where(pos < 0, len(labels) - 1, pos)
        out = out.assign(**{col: pd.Categorical.from_codes(codes, categories=labels)})
    return out, notes


def to_labels(values: pd.Series, column: str, demo: Demographics) -> pd.Series:
    """Published labels of ``column`` in the configured spelling; unknown labels raise
    DataContractError naming them."""
    known = {lab.strip().lower(): lab for lab in demo.labels(column)}
    known.update({a: lab for a, lab in (demo.aliases or {}).items() if lab in known.values()})
    mapped = values.astype(str).str.strip().str.lower().map(known)
    if mapped.isna().any():
        bad = list(pd.unique(values[mapped.isna()].astype(str))[:5])
        raise DataContractError(
            f"unknown {column} label(s) {bad}; known: {demo.labels(column)}; add them to the "
            "demographics section (or its aliases) of statxplore_contracts.yaml",
            column=column,
            rule=f"known_{column}_label",
            examples=bad,
        )
    return mapped
