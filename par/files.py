"""The files units and the council hand in, read as spreadsheets show them (through
`storage.spreadsheets`): columns found by their Vietnamese or English name, points as typed."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from problems import Problem
from storage.spreadsheets import Row, spreadsheet_rows

__all__ = ["Columns", "number_or_none", "read_rows"]

_DECIMALS = re.compile(r"-?\d+([.,]\d{1,2})?")


def read_rows(path: Path) -> tuple[list[Row], list[Problem]]:
    """The rows of a .csv or .xlsx file (header first), and the problem that stopped the
    reading, if any: an empty file is one."""
    problems: list[Problem] = []
    rows = list(spreadsheet_rows(path, problems))
    if not problems and not rows:
        problems.append(
            Problem(
                file=str(path),
                row=1,
                column="(header)",
                message="empty file",
                hint="a header row is expected",
            )
        )
    return rows, problems


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
                    Problem(
                        file=source,
                        row=1,
                        column=cell,
                        message="column appears more than once",
                        hint="name it once",
                    )
                )
            self.position[key] = position
        for key in required:
            if key not in self.position:
                problems.append(
                    Problem(
                        file=source,
                        row=1,
                        column=self.names[key],
                        message="column missing from the header",
                        hint=f"add it, named {self.names[key]!r} or {key!r}",
                    )
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
