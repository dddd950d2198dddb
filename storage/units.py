"""Administrative units, agencies and service points: validated CSV loading and the lookups others use.

Three input formats are read here, each validated in full before anything is written
(every problem is reported as `FILE:LINE: column: what is wrong (what is expected)`):

- the *units file* (`load_units_csv`), one row per unit, agency or service point, with
  the columns in `UNITS_COLUMNS`;
- the *official list* (`import_official`), in the format of vn-units-2025.csv;
- the *crosswalk* (`load_crosswalk_csv`), in the format of hanoi-crosswalk-2025.csv.

Loading is an upsert keyed on codes: re-loading a file changes nothing, and nothing is
ever deleted (retire a unit with `valid_to`, close a counter with `active` = false).
Codes are text: leading zeros are part of the code.
"""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from problems import Problem, ProblemsFound, tally
from storage.db import Database, Transaction
from storage.models import AdminUnit, Agency, ServicePoint, UnitCrosswalk
from storage.spreadsheets import csv_rows
from storage.unit_formats import (
    AGENCY_KINDS,
    CROSSWALK_COLUMNS,
    OFFICIAL_COLUMNS,
    OFFICIAL_VALID_FROM,
    ROW_KINDS,
    UNIT_LEVELS,
    UNITS_COLUMNS,
)

__all__ = [
    "SAMPLE_DIR",
    "Counts",
    "DistrictShare",
    "Geography",
    "LoadReport",
    "Loader",
    "ServicePointListing",
    "UnitDataError",
    "active_service_point_codes",
    "former_district_map",
    "former_district_of",
    "former_districts_of",
    "get_agency",
    "get_service_point",
    "get_service_point_listing",
    "get_unit",
    "import_official",
    "list_service_points",
    "list_units",
    "load_all_or_nothing",
    "load_crosswalk_csv",
    "load_geography",
    "load_sample",
    "load_units_csv",
    "service_point_codes",
    "units_below",
]

# The columns a row of each kind may fill; any other non-empty column is an error.
_KIND_COLUMNS: dict[str, frozenset[str]] = {
    "unit": frozenset(
        {"kind", "code", "name", "full_name", "name_en", "level", "unit_type", "parent_code"}
        | {"valid_from", "valid_to"}
    ),
    "agency": frozenset({"kind", "code", "name", "name_en", "unit_code", "agency_kind"}),
    "service_point": frozenset(
        {"kind", "code", "name", "name_en", "unit_code", "agency_code", "active"}
    ),
}
_CROSSWALK_REQUIRED = (*CROSSWALK_COLUMNS, "partial")


SAMPLE_DIR = Path(__file__).parent / "sample"
SAMPLE_PROVINCE = "01"
SAMPLE_OFFICIAL_FILE = "hanoi-units-2025.csv"
SAMPLE_UNITS_FILE = "hanoi-sample.csv"
SAMPLE_CENTRES_FILE = "hanoi-centres-2025.csv"
"""A public administrative service centre and a counter for each of the 120 other xã/phường
(NĐ 118/2025: every xã/phường has its own centre), beside the six branches of the sample."""
SAMPLE_CROSSWALK_FILE = "hanoi-crosswalk-2025.csv"

_LEVEL_RANK = {level: rank for rank, level in enumerate(UNIT_LEVELS)}
# Official codes have a fixed width; a shorter all-digit code is almost always a
# spreadsheet that read the code as a number and dropped its leading zeros.
_OFFICIAL_DIGITS = {"province": 2, "district": 3, "commune": 5}
_CODE = re.compile(r"[A-Z0-9-]+")
_MAX_CODE = {"unit": 16, "agency": 32, "service_point": 32}
_MAX_TEXT = {"name": 200, "full_name": 250, "name_en": 250, "unit_type": 40}
_BOOLEANS = {"true": True, "false": False}
_Coded = TypeVar("_Coded", Agency, ServicePoint)


# --- Results and errors ----------------------------------------------------------------------


class UnitDataError(ProblemsFound):
    """An input file was refused; `problems` lists every problem found, in file order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        ordered = sorted(problems, key=lambda problem: (problem.file or "", problem.row or 0))
        super().__init__(
            ordered,
            summary=f"{tally(ordered)}; nothing was written. Fix them and run the command again.",
        )


@dataclass
class Counts:
    """Rows of one table a load added, changed, or found already as given."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def count(self, outcome: Literal["added", "updated", "unchanged"]) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def changed(self) -> int:
        return self.added + self.updated


@dataclass
class LoadReport:
    """What one load did, per table."""

    units: Counts = field(default_factory=Counts)
    agencies: Counts = field(default_factory=Counts)
    service_points: Counts = field(default_factory=Counts)
    crosswalk: Counts = field(default_factory=Counts)
    procedures: Counts = field(default_factory=Counts)  # the catalogue, storage.procedures
    volumes: Counts = field(default_factory=Counts)  # dossier volumes, storage.volumes

    def tables(self) -> dict[str, Counts]:
        return {
            "units": self.units,
            "agencies": self.agencies,
            "service_points": self.service_points,
            "crosswalk": self.crosswalk,
            "procedures": self.procedures,
            "volumes": self.volumes,
        }

    @property
    def changed(self) -> int:
        return sum(counts.changed for counts in self.tables().values())

    def __iadd__(self, other: LoadReport) -> LoadReport:
        for name, counts in self.tables().items():
            theirs = other.tables()[name]
            counts.added += theirs.added
            counts.updated += theirs.updated
            counts.unchanged += theirs.unchanged
        return self


# --- Reading CSV -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    line: int
    values: dict[str, str]


class _Problems:
    """Collects problems of one file so that all of them are reported at once."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[Problem] = []

    def add(self, line: int | None, column: str, message: str, hint: str | None = None) -> None:
        self.found.append(
            Problem(file=self.source, row=line, column=column, message=message, hint=hint)
        )

    def raise_if_any(self) -> None:
        if self.found:
            raise UnitDataError(self.found)


def _read_csv(
    source: str,
    data: bytes,
    *,
    required: Iterable[str],
    allowed: Iterable[str] | None,
) -> list[_Record]:
    """The rows of a CSV file, or UnitDataError for an unreadable file or a bad header."""
    problems = _Problems(source)
    rows = csv_rows(source, io.BytesIO(data), problems.found)
    header = next(rows, None)
    problems.raise_if_any()  # not readable as text
    if header is None or not any(header[1]):
        problems.add(1, "(header)", "empty file", f"expected a header row: {', '.join(required)}")
        problems.raise_if_any()
    assert header is not None
    columns = header[1]
    allowed_set = set(allowed) if allowed is not None else None
    for name, seen in Counter(columns).items():
        if seen > 1:
            problems.add(1, name or "(header)", "column appears more than once", "name it once")
    for name in columns:
        if allowed_set is not None and name not in allowed_set:
            expected = ", ".join(allowed) if allowed is not None else ""
            problems.add(1, name or "(header)", "unknown column", f"expected some of: {expected}")
    for name in required:
        if name not in columns:
            problems.add(1, name, "column missing from the header", "add it")
    problems.raise_if_any()

    records: list[_Record] = []
    for line, row in rows:
        if not any(row):
            continue  # blank lines are harmless
        if len(row) > len(columns):
            problems.add(
                line, "(row)", f"{len(row)} fields for {len(columns)} columns", "one per column"
            )
            continue
        values = dict(zip(columns, row, strict=False))
        for name in columns[len(row) :]:
            values[name] = ""
        records.append(_Record(line, values))
    problems.raise_if_any()
    return records


# --- Field checks -----------------------------------------------------------------------------


def _check_code(
    problems: _Problems, line: int, column: str, value: str, *, kind: str, required: bool = True
) -> str | None:
    """The code in `value` if it is well formed, else None after noting the problem."""
    if not value:
        if required:
            problems.add(line, column, "empty", "a code is required")
        return None
    limit = _MAX_CODE[kind]
    if not _CODE.fullmatch(value) or len(value) > limit:
        problems.add(
            line,
            column,
            f"{value!r} is not a code",
            f"capital letters A-Z, digits and '-', at most {limit}",
        )
        return None
    return value


def _check_official_width(
    problems: _Problems, line: int, column: str, code: str | None, level: str | None
) -> None:
    if code is None or level not in _OFFICIAL_DIGITS or not code.isdigit():
        return
    width = _OFFICIAL_DIGITS[level]
    if len(code) != width:
        dropped = "; a spreadsheet may have dropped leading zeros" if len(code) < width else ""
        problems.add(
            line,
            column,
            f"{code!r} has {len(code)} digit{'s' if len(code) != 1 else ''}",
            f"a {level} code has {width} digits, e.g. {'0' * (width - 1)}1{dropped}",
        )


def _check_text(
    problems: _Problems, line: int, column: str, value: str, *, required: bool
) -> str | None:
    if not value:
        if required:
            problems.add(line, column, "empty", "required")
        return None
    limit = _MAX_TEXT.get(column, 250)
    if len(value) > limit:
        problems.add(line, column, f"{len(value)} characters", f"at most {limit}")
        return None
    return value


def _check_date(problems: _Problems, line: int, column: str, value: str) -> date | None:
    if not value:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        problems.add(line, column, f"{value!r} is not a date", "YYYY-MM-DD, e.g. 2025-07-01")
        return None


def _check_choice(
    problems: _Problems, line: int, column: str, value: str, choices: Sequence[str]
) -> str | None:
    if value in choices:
        return value
    shown = repr(value) if value else "empty"
    problems.add(line, column, f"{shown} is not allowed", f"one of: {' | '.join(choices)}")
    return None


def _check_boolean(
    problems: _Problems, line: int, column: str, value: str, *, default: bool | None
) -> bool | None:
    if not value and default is not None:
        return default
    parsed = _BOOLEANS.get(value.lower())
    if parsed is None:
        shown = repr(value) if value else "empty"
        problems.add(line, column, f"{shown} is not allowed", "true or false")
    return parsed


# --- Parsed rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _UnitRow:
    line: int
    code: str
    values: dict[str, Any]  # AdminUnit column -> value, every column but `code`

    @property
    def level(self) -> str:
        return str(self.values["level"])

    @property
    def parent_code(self) -> str | None:
        parent = self.values["parent_code"]
        return str(parent) if parent is not None else None


@dataclass(frozen=True)
class _Row:
    line: int
    code: str
    values: dict[str, Any]


def _parse_unit(problems: _Problems, record: _Record, is_sample: bool) -> _UnitRow | None:
    line, get = record.line, record.values.get
    count_before = len(problems.found)
    level = _check_choice(problems, line, "level", get("level", ""), UNIT_LEVELS)
    code = _check_code(problems, line, "code", get("code", ""), kind="unit")
    _check_official_width(problems, line, "code", code, level)
    name = _check_text(problems, line, "name", get("name", ""), required=True)
    unit_type = _check_text(problems, line, "unit_type", get("unit_type", ""), required=True)
    full_name = _check_text(problems, line, "full_name", get("full_name", ""), required=False)
    name_en = _check_text(problems, line, "name_en", get("name_en", ""), required=False)
    parent_code = _check_code(
        problems, line, "parent_code", get("parent_code", ""), kind="unit", required=False
    )
    if level == "province" and get("parent_code"):
        problems.add(line, "parent_code", "a province has no parent", "leave it empty")
    elif level in ("district", "commune") and not get("parent_code"):
        problems.add(line, "parent_code", "empty", f"a {level} needs the code of the unit above")
    valid_from = _check_date(problems, line, "valid_from", get("valid_from", ""))
    valid_to = _check_date(problems, line, "valid_to", get("valid_to", ""))
    if valid_from and valid_to and valid_to < valid_from:
        problems.add(
            line, "valid_to", f"{valid_to} is before valid_from {valid_from}", "on or after"
        )
    if len(problems.found) > count_before or code is None or level is None:
        return None
    assert name is not None and unit_type is not None
    return _UnitRow(
        line,
        code,
        {
            "level": level,
            "name": name,
            "full_name": full_name or f"{unit_type} {name}",
            "full_name_en": name_en,
            "unit_type": unit_type,
            "parent_code": parent_code,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "is_sample": is_sample,
        },
    )


def _parse_agency(problems: _Problems, record: _Record, is_sample: bool) -> _Row | None:
    line, get = record.line, record.values.get
    count_before = len(problems.found)
    code = _check_code(problems, line, "code", get("code", ""), kind="agency")
    name = _check_text(problems, line, "name", get("name", ""), required=True)
    name_en = _check_text(problems, line, "name_en", get("name_en", ""), required=False)
    unit_code = _check_code(problems, line, "unit_code", get("unit_code", ""), kind="unit")
    kind = _check_choice(problems, line, "agency_kind", get("agency_kind", ""), AGENCY_KINDS)
    if len(problems.found) > count_before or code is None:
        return None
    values = {
        "name": name,
        "name_en": name_en,
        "kind": kind,
        "unit_code": unit_code,
        "is_sample": is_sample,
    }
    return _Row(line, code, values)


def _parse_service_point(problems: _Problems, record: _Record, is_sample: bool) -> _Row | None:
    line, get = record.line, record.values.get
    count_before = len(problems.found)
    code = _check_code(problems, line, "code", get("code", ""), kind="service_point")
    name = _check_text(problems, line, "name", get("name", ""), required=True)
    name_en = _check_text(problems, line, "name_en", get("name_en", ""), required=False)
    unit_code = _check_code(problems, line, "unit_code", get("unit_code", ""), kind="unit")
    agency_code = _check_code(
        problems, line, "agency_code", get("agency_code", ""), kind="agency", required=False
    )
    active = _check_boolean(problems, line, "active", get("active", ""), default=True)
    if len(problems.found) > count_before or code is None:
        return None
    values = {
        "name": name,
        "name_en": name_en,
        "unit_code": unit_code,
        "agency_code": agency_code,
        "active": active,
        "is_sample": is_sample,
    }
    return _Row(line, code, values)


def _note_duplicates(problems: _Problems, rows: Sequence[_UnitRow | _Row], what: str) -> None:
    first_line: dict[str, int] = {}
    for row in rows:
        if row.code in first_line:
            problems.add(
                row.line,
                "code",
                f"{what} {row.code!r} already on line {first_line[row.code]}",
                "each code once",
            )
        else:
            first_line[row.code] = row.line


def _check_unit_references(
    problems: _Problems, units: Sequence[_UnitRow], known_levels: Mapping[str, str]
) -> None:
    """Every parent exists (in the file or the database) and sits at a higher level."""
    for unit in units:
        parent = unit.parent_code
        if parent is None:
            continue
        if parent == unit.code:
            problems.add(unit.line, "parent_code", "a unit cannot be its own parent")
            continue
        parent_level = known_levels.get(parent)
        if parent_level is None:
            problems.add(
                unit.line,
                "parent_code",
                f"unknown unit {parent!r}",
                "a unit in this file or already loaded",
            )
        elif _LEVEL_RANK[parent_level] >= _LEVEL_RANK[unit.level]:
            above = "a province" if unit.level == "district" else "a province or district"
            problems.add(
                unit.line,
                "parent_code",
                f"{parent!r} is a {parent_level}, not above a {unit.level}",
                f"expected {above}",
            )


# --- Writing -----------------------------------------------------------------------------------


def _upsert(
    existing: object | None, values: Mapping[str, Any]
) -> Literal["added", "updated", "unchanged"]:
    """Copy `values` onto `existing`; say whether anything changed."""
    if existing is None:
        return "added"
    changed = False
    for name, value in values.items():
        if getattr(existing, name) != value:
            setattr(existing, name, value)
            changed = True
    return "updated" if changed else "unchanged"


async def _write_units(session: AsyncSession, rows: Sequence[_UnitRow], counts: Counts) -> None:
    existing = {unit.code: unit for unit in (await session.scalars(select(AdminUnit))).all()}
    # Parents before children: a parent is always at a higher level, so writing one
    # level at a time (with a flush between) satisfies the foreign key on any backend.
    for level in UNIT_LEVELS:
        for row in rows:
            if row.level != level:
                continue
            outcome = _upsert(existing.get(row.code), row.values)
            if outcome == "added":
                session.add(AdminUnit(code=row.code, **row.values))
            counts.count(outcome)
        await session.flush()


async def _write_rows(
    session: AsyncSession,
    model: type[_Coded],
    rows: Sequence[_Row],
    counts: Counts,
) -> None:
    existing = {item.code: item for item in (await session.scalars(select(model))).all()}
    for row in rows:
        outcome = _upsert(existing.get(row.code), row.values)
        if outcome == "added":
            session.add(model(code=row.code, **row.values))
        counts.count(outcome)
    await session.flush()


async def _known_unit_levels(session: AsyncSession) -> dict[str, str]:
    result = await session.execute(select(AdminUnit.code, AdminUnit.level))
    return {code: level for code, level in result.tuples()}


# --- Loaders -----------------------------------------------------------------------------------


async def load_units_csv(
    session: AsyncSession, source: str, data: bytes, *, is_sample: bool = False
) -> LoadReport:
    """Validate a units file in full, then upsert its units, agencies and service points.

    `source` names the file in problem messages. Raises UnitDataError (listing every
    problem) before writing anything; the caller's transaction makes the write atomic.
    """
    problems = _Problems(source)
    records = _read_csv(source, data, required=("kind", "code", "name"), allowed=UNITS_COLUMNS)
    units: list[_UnitRow] = []
    agencies: list[_Row] = []
    points: list[_Row] = []
    for record in records:
        kind = _check_choice(problems, record.line, "kind", record.values["kind"], ROW_KINDS)
        if kind is None:
            continue
        for column, value in record.values.items():
            if value and column not in _KIND_COLUMNS[kind]:
                problems.add(record.line, column, f"does not apply to a {kind}", "leave it empty")
        if kind == "unit":
            unit = _parse_unit(problems, record, is_sample)
            if unit is not None:
                units.append(unit)
        elif kind == "agency":
            agency = _parse_agency(problems, record, is_sample)
            if agency is not None:
                agencies.append(agency)
        else:
            point = _parse_service_point(problems, record, is_sample)
            if point is not None:
                points.append(point)
    _note_duplicates(problems, units, "unit")
    _note_duplicates(problems, agencies, "agency")
    _note_duplicates(problems, points, "service point")

    unit_levels = await _known_unit_levels(session)
    unit_levels.update({unit.code: unit.level for unit in units})
    _check_unit_references(problems, units, unit_levels)
    known_agencies = set((await session.scalars(select(Agency.code))).all())
    known_agencies.update(agency.code for agency in agencies)
    for row in (*agencies, *points):
        unit_code = row.values["unit_code"]
        if unit_code not in unit_levels:
            problems.add(
                row.line,
                "unit_code",
                f"unknown unit {unit_code!r}",
                "a unit in this file or already loaded",
            )
    for point in points:
        agency_code = point.values["agency_code"]
        if agency_code is not None and agency_code not in known_agencies:
            problems.add(
                point.line,
                "agency_code",
                f"unknown agency {agency_code!r}",
                "an agency in this file or already loaded",
            )
    problems.raise_if_any()

    report = LoadReport()
    await _write_units(session, units, report.units)
    await _write_rows(session, Agency, agencies, report.agencies)
    await _write_rows(session, ServicePoint, points, report.service_points)
    return report


async def import_official(
    session: AsyncSession,
    source: str,
    data: bytes,
    *,
    province: str,
    valid_from: date | None = OFFICIAL_VALID_FROM,
    is_sample: bool = False,
) -> LoadReport:
    """Upsert one province and its commune-level units from an official list (vn-units-2025.csv).

    Only the province's rows are checked and loaded; rows of other provinces are skipped.
    """
    if not re.fullmatch(r"\d{2}", province):
        raise ValueError(f"{province!r} is not a province code (2 digits, e.g. 01)")
    problems = _Problems(source)
    records = _read_csv(source, data, required=OFFICIAL_COLUMNS, allowed=None)
    selected = [
        record
        for record in records
        if record.values["code"] == province or record.values["parent_code"] == province
    ]
    units: list[_UnitRow] = []
    for record in selected:
        get = record.values.get
        level = get("level", "")
        if level not in ("province", "commune"):
            problems.add(record.line, "level", f"{level!r} is not allowed", "province | commune")
            continue
        if level == "province" and get("code") != province:
            problems.add(record.line, "level", f"a province under {province}", "commune expected")
            continue
        unit_record = _Record(
            record.line,
            {
                "level": level,
                "code": get("code", ""),
                "name": get("name", ""),
                "full_name": get("full_name", ""),
                "name_en": get("full_name_en", ""),
                "unit_type": get("unit_type", ""),
                "parent_code": get("parent_code", ""),
                "valid_from": valid_from.isoformat() if valid_from else "",
            },
        )
        unit = _parse_unit(problems, unit_record, is_sample)
        if unit is not None:
            units.append(unit)
    if not any(record.values["code"] == province for record in selected):
        problems.add(None, "code", f"no row for province {province!r}", "check --province")
    _note_duplicates(problems, units, "unit")
    unit_levels = await _known_unit_levels(session)
    unit_levels.update({unit.code: unit.level for unit in units})
    _check_unit_references(problems, units, unit_levels)
    problems.raise_if_any()

    report = LoadReport()
    await _write_units(session, units, report.units)
    return report


async def load_crosswalk_csv(session: AsyncSession, source: str, data: bytes) -> LoadReport:
    """Validate and upsert a crosswalk file (current commune → old communes and their districts).

    Keyed on (new_code, old_commune_code). `new_code` must be a loaded commune-level unit and
    `old_district_code` a loaded district; old communes themselves are not units.
    """
    problems = _Problems(source)
    records = _read_csv(source, data, required=_CROSSWALK_REQUIRED, allowed=None)
    unit_levels = await _known_unit_levels(session)
    rows: list[tuple[int, str, str, dict[str, Any]]] = []
    first_line: dict[tuple[str, str], int] = {}
    for record in records:
        line, get = record.line, record.values.get
        count_before = len(problems.found)
        new_code = _check_code(problems, line, "new_code", get("new_code", ""), kind="unit")
        old_code = _check_code(
            problems, line, "old_commune_code", get("old_commune_code", ""), kind="unit"
        )
        old_name = _check_text(
            problems, line, "old_commune_name", get("old_commune_name", ""), required=True
        )
        district = _check_code(
            problems, line, "old_district_code", get("old_district_code", ""), kind="unit"
        )
        partial = _check_boolean(problems, line, "partial", get("partial", ""), default=None)
        if new_code is not None and unit_levels.get(new_code) != "commune":
            problems.add(line, "new_code", f"{new_code!r} is not a loaded commune-level unit")
        if district is not None and unit_levels.get(district) != "district":
            problems.add(
                line, "old_district_code", f"{district!r} is not a loaded district", "load it first"
            )
        if len(problems.found) > count_before or new_code is None or old_code is None:
            continue
        key = (new_code, old_code)
        if key in first_line:
            problems.add(
                line,
                "old_commune_code",
                f"pair {new_code}/{old_code} already on line {first_line[key]}",
                "each pair once",
            )
            continue
        first_line[key] = line
        values = {"old_commune_name": old_name, "old_district_code": district, "partial": partial}
        rows.append((line, new_code, old_code, values))
    problems.raise_if_any()

    report = LoadReport()
    existing = {
        (row.new_code, row.old_commune_code): row
        for row in (await session.scalars(select(UnitCrosswalk))).all()
    }
    for _line, new_code, old_code, values in rows:
        outcome = _upsert(existing.get((new_code, old_code)), values)
        if outcome == "added":
            session.add(UnitCrosswalk(new_code=new_code, old_commune_code=old_code, **values))
        report.crosswalk.count(outcome)
    await session.flush()
    return report


async def load_sample(session: AsyncSession) -> LoadReport:
    """Load the shipped Hà Nội sample (city, 126 units, 30 former districts, crosswalk, and a
    service centre with counters in every xã/phường).

    Every row is marked `is_sample`. Loading it again changes nothing.
    """
    report = await import_official(
        session,
        SAMPLE_OFFICIAL_FILE,
        (SAMPLE_DIR / SAMPLE_OFFICIAL_FILE).read_bytes(),
        province=SAMPLE_PROVINCE,
        is_sample=True,
    )
    report += await load_units_csv(
        session, SAMPLE_UNITS_FILE, (SAMPLE_DIR / SAMPLE_UNITS_FILE).read_bytes(), is_sample=True
    )
    report += await load_units_csv(
        session,
        SAMPLE_CENTRES_FILE,
        (SAMPLE_DIR / SAMPLE_CENTRES_FILE).read_bytes(),
        is_sample=True,
    )
    report += await load_crosswalk_csv(
        session, SAMPLE_CROSSWALK_FILE, (SAMPLE_DIR / SAMPLE_CROSSWALK_FILE).read_bytes()
    )
    return report


Loader = Callable[[AsyncSession], Awaitable[LoadReport]]
"""One of the loaders above with its input given, e.g. `partial(load_units_csv, source=…, data=…)`."""


async def load_all_or_nothing(
    database: Database, loader: Loader, *, dry_run: bool = False
) -> LoadReport:
    """Run a loader in a transaction of its own: every row is written, or none is.

    None is written when the loader finds a problem (UnitDataError lists them all), nor
    with `dry_run`, which checks and counts what would be written.
    """
    async with database.transaction(dry_run=dry_run) as session:
        return await loader(session)


# --- Lookups -----------------------------------------------------------------------------------


async def get_unit(session: AsyncSession, code: str) -> AdminUnit | None:
    """The unit with this code, or None."""
    return await session.get(AdminUnit, code)


async def get_agency(session: AsyncSession, code: str) -> Agency | None:
    """The agency with this code, or None."""
    return await session.get(Agency, code)


async def get_service_point(session: Transaction, code: str) -> ServicePoint | None:
    """The service point (counter) with this code, or None (active or not: check `.active`)."""
    return await session.get(ServicePoint, code)


async def service_point_codes(database: Database) -> set[str]:
    """The code of every service point, open or closed."""
    async with database.reading() as session:
        return set((await session.scalars(select(ServicePoint.code))).all())


async def active_service_point_codes(session: AsyncSession) -> list[str]:
    """The codes of the service points that take surveys (active), in code order."""
    statement = select(ServicePoint.code).where(ServicePoint.active).order_by(ServicePoint.code)
    return list((await session.scalars(statement)).all())


async def list_units(
    session: AsyncSession, *, level: str | None = None, parent_code: str | None = None
) -> list[AdminUnit]:
    """Units, optionally of one level and/or directly under one parent; provinces first, by code."""
    query = select(AdminUnit)
    if level is not None:
        query = query.where(AdminUnit.level == level)
    if parent_code is not None:
        query = query.where(AdminUnit.parent_code == parent_code)
    units = (await session.scalars(query)).all()
    return sorted(units, key=lambda unit: (_LEVEL_RANK.get(unit.level, 99), unit.code))


@dataclass(frozen=True)
class Geography:
    """Every unit and agency by code, and every service point in code order: what
    aggregation reads to place each counter under a unit at each level."""

    units: dict[str, AdminUnit]
    agencies: dict[str, Agency]
    service_points: list[ServicePoint]


async def load_geography(session: AsyncSession) -> Geography:
    """Every unit, agency and service point (retired and closed ones too)."""
    units = {unit.code: unit for unit in (await session.scalars(select(AdminUnit))).all()}
    agencies = {agency.code: agency for agency in (await session.scalars(select(Agency))).all()}
    points = (await session.scalars(select(ServicePoint).order_by(ServicePoint.code))).all()
    return Geography(units, agencies, list(points))


@dataclass(frozen=True)
class ServicePointListing:
    """A service point with the unit and agency it belongs to."""

    point: ServicePoint
    unit: AdminUnit
    agency: Agency | None


_LISTINGS = (
    select(ServicePoint, AdminUnit, Agency)
    .join(AdminUnit, ServicePoint.unit_code == AdminUnit.code)
    .outerjoin(Agency, ServicePoint.agency_code == Agency.code)
    .order_by(ServicePoint.code)
)


async def list_service_points(
    session: AsyncSession, *, within: str | None = None
) -> list[ServicePointListing]:
    """Service points by code; with `within`, only those in that unit or any unit below it."""
    query = _LISTINGS
    if within is not None:
        query = query.where(ServicePoint.unit_code.in_(await units_below(session, within)))
    result = await session.execute(query)
    return [ServicePointListing(point, unit, agency) for point, unit, agency in result.tuples()]


async def get_service_point_listing(session: AsyncSession, code: str) -> ServicePointListing | None:
    """The service point with this code, with its unit and agency, or None."""
    found = (await session.execute(_LISTINGS.where(ServicePoint.code == code))).tuples().first()
    return ServicePointListing(*found) if found is not None else None


async def units_below(session: AsyncSession, code: str) -> set[str]:
    """`code` and every unit under it by parent links (a staff scope); empty if unknown.

    Follows `parent_code` only: a former district has no current units under it (its
    successors are reached through the crosswalk, see `former_district_of`).
    """
    if await session.get(AdminUnit, code) is None:
        return set()
    found = {code}
    frontier = {code}
    while frontier:
        children = set(
            (
                await session.scalars(
                    select(AdminUnit.code).where(AdminUnit.parent_code.in_(frontier))
                )
            ).all()
        )
        frontier = children - found  # guards against a cycle in hand-edited data
        found |= frontier
    return found


@dataclass(frozen=True)
class DistrictShare:
    """How many old communes (whole or part) one former district gave a current unit."""

    district_code: str
    old_communes: int


async def former_districts_of(session: AsyncSession, commune_code: str) -> list[DistrictShare]:
    """The former districts a current unit was formed from, the main one first (see below)."""
    shares = await _district_shares(session, commune_code)
    return shares.get(commune_code, [])


async def former_district_of(session: AsyncSession, commune_code: str) -> str | None:
    """The one former district a current unit is counted under for historical aggregation.

    Rule: the former district that contributed the most old communes to it (a split old
    commune counts once under each unit it went to), ties broken by the lowest district
    code. None for a unit with no crosswalk rows.
    """
    shares = await former_districts_of(session, commune_code)
    return shares[0].district_code if shares else None


async def former_district_map(session: AsyncSession) -> dict[str, str]:
    """Every current unit with crosswalk rows → its former district, by `former_district_of`'s rule."""
    return {
        code: shares[0].district_code
        for code, shares in (await _district_shares(session, None)).items()
    }


async def _district_shares(
    session: AsyncSession, commune_code: str | None
) -> dict[str, list[DistrictShare]]:
    query = select(UnitCrosswalk.new_code, UnitCrosswalk.old_district_code, func.count()).group_by(
        UnitCrosswalk.new_code, UnitCrosswalk.old_district_code
    )
    if commune_code is not None:
        query = query.where(UnitCrosswalk.new_code == commune_code)
    shares: dict[str, list[DistrictShare]] = defaultdict(list)
    for new_code, district_code, count in (await session.execute(query)).tuples():
        shares[new_code].append(DistrictShare(district_code, count))
    for listed in shares.values():
        listed.sort(key=lambda share: (-share.old_communes, share.district_code))
    return dict(shares)
