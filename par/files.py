"""The files units and the council hand in, read as spreadsheets show them: rows numbered from
the header (row 1), cells as text, columns found by their Vietnamese or English name."""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from storage.spreadsheet_csv import delimiter_of
from storage.units import Problem

__all__ = ["Columns", "number_or_none", "read_rows"]

SUFFIXES = (".csv", ".xlsx")
_DECIMALS = re.compile(r"-?\d+([.,]\d{1,2})?")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 4.0 typed as 4 in a number-formatted cell
    if isinstance(value, datetime):
        return value.isoformat()
    # Text typed in different tools arrives in different Unicode forms; NFC makes them one.
    return unicodedata.normalize("NFC", str(value)).strip()


def read_rows(path: Path) -> tuple[list[tuple[int, list[str]]], list[Problem]]:
    """(row number, cells) of a .csv (UTF-8, `,` or `;`) or an .xlsx file's first sheet, and
    the problem that stopped the reading, if any."""
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        return [], [Problem(source, None, "(file)", "not a .csv or .xlsx file (save it as one)")]
    rows: list[tuple[int, list[str]]] = []
    try:
        if suffix == ".csv":
            text = path.read_text(encoding="utf-8-sig")  # the BOM spreadsheets write
            reader = csv.reader(
                io.StringIO(text, newline=""), delimiter=delimiter_of(text.split("\n", 1)[0])
            )
            rows = [
                (number, [_cell_text(cell) for cell in cells])
                for number, cells in enumerate(reader, 1)
            ]
        else:
            from openpyxl import load_workbook  # only XLSX files pay for it

            workbook = load_workbook(path, read_only=True, data_only=True)
            try:
                rows = [
                    (number, [_cell_text(cell) for cell in cells])
                    for number, cells in enumerate(
                        workbook.worksheets[0].iter_rows(values_only=True), 1
                    )
                ]
            finally:
                workbook.close()
    except UnicodeDecodeError:
        return [], [Problem(source, None, "(file)", "not UTF-8 text (save the file as CSV UTF-8)")]
    except csv.Error as error:
        return [], [Problem(source, None, "(file)", f"not readable as CSV: {error}")]
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
        return [], [Problem(source, None, "(file)", f"not readable as an .xlsx workbook: {error}")]
    return rows, []


class Columns:
    """Where each wanted column is in a header row; a column may be named in Vietnamese (as the
    templates write it) or by its English key."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = dict(names)  # key -> Vietnamese header
        self.position: dict[str, int] = {}

    def find(self, header: list[str], source: str, required: tuple[str, ...]) -> list[Problem]:
        """Locate the columns in `header`; the problems of a header that lacks one."""
        wanted = {_folded(label): key for key, label in self.names.items()}
        wanted |= {_folded(key): key for key in self.names}
        problems: list[Problem] = []
        for position, cell in enumerate(header):
            key = wanted.get(_folded(cell))
            if key is None:
                continue
            if key in self.position:
                problems.append(
                    Problem(source, 1, cell, "column appears more than once (name it once)")
                )
            self.position[key] = position
        for key in required:
            if key not in self.position:
                problems.append(
                    Problem(source, 1, self.names[key], f"column missing from the header ({key})")
                )
        return problems

    def cell(self, cells: list[str], key: str) -> str:
        position = self.position.get(key)
        return cells[position].strip() if position is not None and position < len(cells) else ""

    def label(self, key: str) -> str:
        return self.names[key]


def _folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def number_or_none(text: str) -> float | None:
    """Points as typed: 1.5 or 1,5 (a decimal comma, as Vietnamese spreadsheets write), at most
    two decimals; None for anything else."""
    if not _DECIMALS.fullmatch(text):
        return None
    value = float(text.replace(",", "."))
    return value if math.isfinite(value) else None
