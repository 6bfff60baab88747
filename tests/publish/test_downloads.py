"""Spreadsheets and CSV files of a report, read back with their own libraries."""

from __future__ import annotations

import openpyxl
import pandas as pd

from wpeval.publish import downloads as dl


def tables():
    small = dl.TableFile(
        "rates",
        "Rates by group",
        pd.DataFrame({"group": ["a", "b"], "rate": [0.25, None], "n": ["[c]", 40]}),
        notes=["Rounded."],
    )
    long = dl.TableFile("curve", "A long curve", pd.DataFrame({"t": range(dl.SHEET_MAX_ROWS + 1)}))
    return [small, long]


def test_csv_marks_missing_and_keeps_values(tmp_path):
    t = tables()[0]
    name = dl.write_csv(t, tmp_path)
    back = pd.read_csv(tmp_path / name, keep_default_na=False)
    assert name == "rates.csv" and back["rate"].tolist() == ["0.25", "[x]"]
    assert back["n"].tolist() == ["[c]", "40"]


def test_spreadsheets_cover_contents_notes_and_one_table_per_sheet(tmp_path):
    for ext in ("xlsx", "ods"):
        path = dl.write_spreadsheet(
            tmp_path / f"r.{ext}", "SYNTHETIC DATA: Report", tables(), {"Source": "x.parquet"}
        )
        sheets = pd.read_excel(
            path, sheet_name=None, header=None, engine="odf" if ext == "ods" else "openpyxl"
        )
        assert list(sheets) == ["Cover_sheet", "Contents", "Notes", "Table_1"]  # long: CSV only
        cover = sheets["Cover_sheet"]
        assert cover.iloc[0, 0] == "SYNTHETIC DATA: Report"
        assert "curve.csv" in " ".join(map(str, cover[1].tolist()))
        table = sheets["Table_1"]
        assert table.iloc[0, 0] == "Rates by group [note 1]"
        assert table.iloc[2].tolist() == ["group", "rate", "n"]  # header in row 3
        assert table.iloc[4].tolist()[:2] == ["b", "[x]"]
        assert sheets["Notes"].iloc[3].tolist() == ["[note 1]", "Rounded."]
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert not any(ws.merged_cells.ranges for ws in wb.worksheets)  # no merged cells
