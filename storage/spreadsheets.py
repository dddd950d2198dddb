"""Spreadsheet files people hand us, read row by row (CSV as spreadsheets save it, and XLSX),
and the one rule for every cell of text the product writes into a CSV or XLSX file.

Both importers read through here (units files in `storage.units`, paper and kiosk
responses in `handlers.response_import`), so a file means the same to both: rows are
numbered as a spreadsheet shows them (the header is row 1), cells are the text a person
sees, and a file that cannot be read is one more `Problem`, not a crash.

Written text that a spreadsheet would take for a formula (a unit named
`=HYPERLINK("http://…","Xem")`, a comment starting with `-` or `@`) is made inert with a
leading apostrophe (`inert_cell`); reading such a file back removes it again.
"""

from __future__ import annotations

import csv
import itertools
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from problems import Problem

__all__ = [
    "FORMULA_STARTS",
    "SUFFIXES",
    "Row",
    "csv_rows",
    "delimiter_of",
    "inert_cell",
    "spreadsheet_rows",
]

SUFFIXES = (".csv", ".xlsx")
# What makes Excel, LibreOffice or Google Sheets read a cell as a formula (tab and carriage
# return too: some strip them and read what follows).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
INERT_MARK = "'"

CellT = TypeVar("CellT")

Row = tuple[int, list[str]]
"""A row's number (the header is row 1) and its cells as text."""


def delimiter_of(header: str) -> str:
    """The separator of a CSV file, judged from its header line.

    Spreadsheets in a locale with a decimal comma (Excel in Vietnamese among them) save
    "CSV" with semicolons; elsewhere with commas.
    """
    return ";" if header.count(";") > header.count(",") else ","


def inert_cell(value: CellT) -> CellT | str:
    """A cell to write: text that starts like a formula behind an apostrophe, so that it shows
    as the text it is; numbers (a negative one too) and everything else as they are.

    Every CSV and XLSX writer passes its cells through here (XLSX all at once, in
    `analytics.export.workbook_bytes`).
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return INERT_MARK + value
    return value


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text a person sees in it (without the mark of `inert_cell`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 4.0 typed as 4 in a number-formatted cell
    if isinstance(value, datetime):
        return value.isoformat()  # spreadsheets keep no offset: the importer's check says so
    # Text typed in different tools arrives in different Unicode forms; NFC makes
    # "Hòa" typed two ways one string.
    text = unicodedata.normalize("NFC", str(value)).strip()
    if text.startswith(INERT_MARK) and text[1:].startswith(FORMULA_STARTS):
        return text[1:].strip()  # a file this product wrote, read back as it was
    return text


def _decoded(lines: Iterable[bytes]) -> Iterator[str]:
    # Line by line, so that text which is not UTF-8 is caught on its own line; a UTF-8
    # character never contains the byte of "\n", so splitting first is safe.
    for number, line in enumerate(lines):
        yield line.decode("utf-8-sig" if number == 0 else "utf-8")  # the BOM spreadsheets write


def csv_rows(file: str, lines: Iterable[bytes], problems: list[Problem]) -> Iterator[Row]:
    """The rows of CSV text (UTF-8, `,` or `;`), streaming; header is row 1.

    Text that cannot be read ends the rows with a problem appended to `problems`, naming
    the row it was found in.
    """
    decoded = _decoded(lines)
    number = 0
    try:
        header = next(decoded, "")
        reader = csv.reader(itertools.chain([header], decoded), delimiter=delimiter_of(header))
        for number, cells in enumerate(reader, start=1):
            yield number, [_cell_text(cell) for cell in cells]
    except UnicodeDecodeError:
        problems.append(
            Problem(
                file=file,
                row=number + 1,
                column="(file)",
                message="not UTF-8 text",
                hint="save the file as CSV UTF-8",
            )
        )
    except csv.Error as error:
        problems.append(
            Problem(
                file=file, row=number + 1, column="(file)", message=f"not readable as CSV: {error}"
            )
        )


def _xlsx_rows(path: Path, problems: list[Problem]) -> Iterator[Row]:
    from openpyxl import load_workbook  # imported here: only XLSX files pay for it

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, [_cell_text(cell) for cell in cells]
        finally:
            workbook.close()
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
        problems.append(
            Problem(
                file=str(path),
                column="(file)",
                message=f"not readable as an .xlsx workbook: {error}",
            )
        )


def spreadsheet_rows(path: Path, problems: list[Problem]) -> Iterator[Row]:
    """The rows of a .csv file or of an .xlsx workbook's first sheet, streaming; header is row 1.

    A file of another kind, or one that cannot be read, ends the rows with a problem
    appended to `problems`.
    """
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        yield from _xlsx_rows(path, problems)
    elif suffix == ".csv":
        with path.open("rb") as handle:
            yield from csv_rows(str(path), handle, problems)
    else:
        problems.append(
            Problem(
                file=str(path),
                column="(file)",
                message="not a .csv or .xlsx file",
                hint="save it as one of those",
            )
        )
