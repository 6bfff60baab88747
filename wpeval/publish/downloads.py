"""Files a reader can take away from a report: each table as CSV, each figure as PNG and SVG,
and one spreadsheet per report (ODS, the format GOV.UK asks for, and XLSX).

The spreadsheets follow the Government Analysis Function's guidance on releasing statistics
in spreadsheets: a cover sheet (title, what the data are, source, provenance), a contents
sheet, a notes sheet, then one table per sheet. Each table sheet starts with its title in cell
A1 and a line saying how many tables it holds; the table has one header row, no merged cells
and no blank rows or columns; suppressed cells hold ``[c]`` and unavailable ones ``[x]``; sheet
names are short and without spaces (``Table_1``...).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: folder, inside a report's output folder, holding its downloads
FOLDER = "downloads"
#: spreadsheet formats written, with the pandas ExcelWriter engine of each
SPREADSHEET_ENGINES = {"ods": "odf", "xlsx": "openpyxl"}
#: tables longer than this (e.g. whole survival curves) go to CSV only, not to the
#: spreadsheet: pandas' odf writer manages about 4,000 cells per second (20,000 cells in 4.9 s
#: here), so a 40,000-row curve would take minutes; a release spreadsheet holds summary tables
SHEET_MAX_ROWS = 1000


@dataclass
class TableFile:
    """A table of a report, as written to CSV and to its spreadsheet sheet."""

    key: str
    caption: str
    frame: pd.DataFrame
    notes: list = field(default_factory=list)
    csv: str = ""


def safe_key(key: str) -> str:
    """A file-name-safe version of a result key."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(key)).strip("_") or "table"


def sheet_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A frame ready for a sheet or CSV: a meaningful index becomes columns, column labels are
    text, lists and other objects become text and missing values ``[x]``."""
    if not isinstance(df.index, pd.RangeIndex) or df.index.name is not None:
        df = df.reset_index()
    out = df.copy()
    out.columns = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in out.columns]
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
            out[col] = [
                (
                    "[x]"
                    if v is None or (isinstance(v, float) and math.isnan(v))
                    else ", ".join(map(str, v))
                    if isinstance(v, (list, tuple))
                    else v
                    if isinstance(v, (str, int, float, bool))
                    else str(v)
                )
                for v in s
            ]
        elif pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.dt.strftime("%Y-%m-%d").fillna("[x]")
        elif pd.api.types.is_float_dtype(s) and s.isna().any():
            out[col] = s.astype(object).where(s.notna(), "[x]")
    return out


def write_csv(table: TableFile, folder: Path) -> str:
    """Write ``table`` as ``<folder>/<key>.csv`` (UTF-8); return the file name."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{safe_key(table.key)}.csv"
    sheet_frame(table.frame).to_csv(folder / name, index=False, encoding="utf-8")
    table.csv = name
    return name


def _sheet_names(tables: Sequence[TableFile]) -> list[str]:
    return [f"Table_{i + 1}" for i in range(len(tables))]


def cover_rows(title: str, cover: dict) -> list[tuple[str, str]]:
    """Rows of the cover sheet below the title: (heading, text)."""
    return [(k, "" if v is None else str(v)) for k, v in cover.items()]


def write_spreadsheet(
    path: str | Path,
    title: str,
    tables: Sequence[TableFile],
    cover: dict,
    notes: Sequence[str] = (),
) -> Path:
    """Write one spreadsheet (``.ods`` or ``.xlsx``, by the extension) for a report.

    Parameters
    ----------
    path : str or Path
        File to write; the extension chooses the format.
    title : str
        The report title (cell A1 of the cover sheet).
    tables : sequence of TableFile
        One sheet each, in order; tables over :data:`SHEET_MAX_ROWS` rows are listed on the
        cover sheet and left to their CSV files.
    cover : dict
        Heading -> text rows of the cover sheet (what, source, provenance, ...).
    notes : sequence of str
        Notes of the notes sheet, numbered ``[note 1]``...
    """
    path = Path(path)
    engine = SPREADSHEET_ENGINES[path.suffix.lstrip(".").lower()]
    long = [t for t in tables if len(t.frame) > SHEET_MAX_ROWS]
    tables = [t for t in tables if len(t.frame) <= SHEET_MAX_ROWS]
    if long:
        cover = {
            **cover,
            "Tables in CSV only": (
                f"{len(long)} table(s) longer than {SHEET_MAX_ROWS:,} rows are in the CSV "
                "downloads only: " + "; ".join(f"{t.caption} ({t.key}.csv)" for t in long)
            ),
        }
    names = _sheet_names(tables)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path, engine=engine) as xw:
        rows = [(title, "")] + [("", "")] + cover_rows(title, cover)
        pd.DataFrame(rows).to_excel(xw, sheet_name="Cover_sheet", index=False, header=False)
        contents = pd.DataFrame({"Sheet name": names, "Table title": [t.caption for t in tables]})
        _titled(
            xw,
            "Contents",
            "Contents",
            f"This worksheet contains one table. It lists the {len(tables)} tables of "
            "this spreadsheet.",
            contents,
        )
        all_notes = list(notes)
        for t in tables:
            all_notes.extend(n for n in t.notes if n and n not in all_notes)
        note_frame = pd.DataFrame(
            {
                "Note number": [f"[note {i + 1}]" for i in range(len(all_notes))],
                "Note text": all_notes,
            }
        )
        _titled(xw, "Notes", "Notes", "This worksheet contains one table.", note_frame)
        for name, t in zip(names, tables):
            refs = [f"[note {all_notes.index(n) + 1}]" for n in t.notes if n in all_notes]
            _titled(
                xw,
                name,
                t.caption + (" " + " ".join(refs) if refs else ""),
                "This worksheet contains one table. Suppressed cells are shown as [c] "
                "and unavailable ones as [x].",
                sheet_frame(t.frame),
            )
    return path


def _titled(xw, sheet: str, title: str, line: str, frame: pd.DataFrame) -> None:
    """One sheet: the title in A1, a line on its content in A2, then the table (header row
    in row 3), written in one go (pandas' odf writer cannot add to a sheet it has written)."""
    width = max(1, frame.shape[1])
    pad = [None] * (width - 1)
    rows = [[title, *pad], [line, *pad], [str(c) for c in frame.columns]]
    rows += [
        [None if isinstance(v, float) and math.isnan(v) else v for v in rec]
        for rec in frame.itertuples(index=False)
    ]
    pd.DataFrame(rows, dtype=object).to_excel(xw, sheet_name=sheet, index=False, header=False)


def save_figure(fig, folder: Path, stem: str, dpi: int = 110) -> dict:
    """Write a matplotlib figure as ``<stem>.png`` and ``<stem>.svg``; return the file names."""
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(
        folder / f"{stem}.png",
        format="png",
        dpi=dpi,
        bbox_inches="tight",
        metadata={"Software": None},
    )
    fig.savefig(
        folder / f"{stem}.svg",
        format="svg",
        bbox_inches="tight",
        metadata={"Date": None, "Creator": None},
    )
    return {"png": f"{stem}.png", "svg": f"{stem}.svg"}
