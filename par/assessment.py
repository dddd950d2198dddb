"""An assessment year: opened once with a scheme's criteria, a scorecard for every Sở and every
UBND xã/phường of the loaded units; everything later reads the criteria the year keeps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeVar

from par.criteria import SELF_SCORED, CriteriaScheme, CriteriaTree, Criterion, parse_criteria
from par.files import Columns, number_or_none, read_rows
from problems import Problem, ProblemsFound, tally
from storage.db import Database
from storage.par import (
    ScorecardRecord,
    YearMismatch,
    assessed_units,
    open_year,
    opened_years,
    scorecards,
    year_record,
)

__all__ = [
    "Assessment",
    "EntryProblem",
    "OpenedYear",
    "ParError",
    "ParFileError",
    "load_assessment",
    "open_assessment",
    "points_within",
]


class ParError(ProblemsFound):
    """A PAR operation refused; the message says what is wrong and what to do."""


class ParFileError(ProblemsFound):
    """A file was refused: every problem found in it, in file order, and what became of it
    (`outcome`: nothing stored, nothing recorded)."""

    def __init__(self, problems: Sequence[Problem], *, outcome: str) -> None:
        super().__init__(
            problems,
            summary=f"{tally(problems)}; {outcome}. Fix them and run the command again.",
        )


@dataclass(frozen=True)
class OpenedYear:
    """What opening a year did."""

    year: int
    scheme_id: str
    added: int
    already_open: int
    added_by_tree: dict[str, int]


@dataclass(frozen=True)
class Assessment:
    """An opened year: its criteria (as kept when it was opened) and its scorecards."""

    year: int
    scheme: CriteriaScheme
    scorecards: tuple[ScorecardRecord, ...]

    def scorecard(self, unit_code: str) -> ScorecardRecord | None:
        return next((card for card in self.scorecards if card.unit_code == unit_code), None)

    def tree(self, scorecard: ScorecardRecord) -> CriteriaTree:
        return self.scheme.trees[scorecard.tree]

    def self_scored(self, unit_code: str, criterion_code: str) -> Criterion:
        """The criterion a unit scores itself and the council appraises; EntryProblem naming
        the column at fault otherwise."""
        if not unit_code:
            raise EntryProblem("unit", "empty (the unit's code is required)")
        scorecard = self.scorecard(unit_code)
        if scorecard is None:
            raise EntryProblem(
                "unit", f"no scorecard for {unit_code!r} in {self.year} (see `sipas par show`)"
            )
        if not criterion_code:
            raise EntryProblem("criterion", "empty (the criterion's code is required)")
        criterion = self.tree(scorecard).criterion(criterion_code)
        if criterion is None:
            raise EntryProblem(
                "criterion",
                f"no criterion {criterion_code!r} in the {scorecard.tree} tree of {self.scheme.id}",
            )
        if criterion.scoring is None:
            raise EntryProblem(
                "criterion", f"{criterion_code} is a group of criteria: score its criteria"
            )
        if criterion.scoring not in SELF_SCORED:
            raise EntryProblem(
                "criterion", f"{criterion_code} is filled from the survey, not scored by hand"
            )
        return criterion


class EntryProblem(Exception):
    """What is wrong with one entry (a row of a file, a command's arguments), by column key."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


class CriterionEntry(Protocol):
    """An entry of a file handed in: one unit's one criterion."""

    @property
    def unit_code(self) -> str: ...

    @property
    def criterion_code(self) -> str: ...


EntryT = TypeVar("EntryT", bound=CriterionEntry)


def entries_of_file(
    path: Path,
    columns: Columns,
    *,
    required: tuple[str, ...],
    entry_of: Callable[[list[str]], EntryT | None],
    done: str,
    outcome: str,
    empty: Problem,
) -> list[EntryT]:
    """The entries of a file handed in (self-scores, appraisals), one row per criterion, checked
    whole: `entry_of` reads a row (None for a row that gives nothing, EntryProblem for a bad
    one); ParFileError lists every problem by row and column, and `outcome` says what became of
    the file (nothing stored, nothing recorded)."""
    source = str(path)
    rows, problems = read_rows(path)
    if not problems:
        problems = columns.find(rows[0][1], source, required=required)
    if problems:
        raise ParFileError(problems, outcome=outcome)
    entries: list[EntryT] = []
    first_row: dict[tuple[str, str], int] = {}
    for number, cells in rows[1:]:
        try:
            entry = entry_of(cells)
        except EntryProblem as problem:
            problems.append(
                Problem(
                    file=source,
                    row=number,
                    column=columns.label(problem.column),
                    message=problem.message,
                )
            )
            continue
        if entry is None:
            continue
        key = (entry.unit_code, entry.criterion_code)
        if key in first_row:
            problems.append(
                Problem(
                    file=source,
                    row=number,
                    column=columns.label("criterion"),
                    message=f"{entry.criterion_code} of {entry.unit_code} is {done} on row "
                    f"{first_row[key]} already (one row per criterion)",
                )
            )
            continue
        first_row[key] = number
        entries.append(entry)
    if not problems and not entries:
        problems.append(empty)
    if problems:
        raise ParFileError(problems, outcome=outcome)
    return entries


def points_within(criterion: Criterion, text: str, column: str) -> float:
    """The points typed for a criterion, between 0 and its maximum; EntryProblem otherwise."""
    points = number_or_none(text)
    if points is None:
        raise EntryProblem(column, f"{text!r} is not a number of points (e.g. 1.5 or 1,5)")
    if not 0 <= points <= criterion.max_points:
        raise EntryProblem(
            column, f"{text} is outside 0–{criterion.max_points:g}, the points of {criterion.code}"
        )
    return points


async def open_assessment(database: Database, scheme: CriteriaScheme, now: datetime) -> OpenedYear:
    """Open the scheme's year: a scorecard for every assessed unit of a tree the scheme has.

    Opening again changes nothing (units loaded since get theirs); opening a year already
    open with other criteria is refused.
    """
    units = [
        unit for unit in await assessed_units(database, scheme.year) if unit.tree in scheme.trees
    ]
    if not units:
        raise ParError(
            f"no Sở (agencies of kind department) nor xã/phường to assess in {scheme.year}: "
            "load units first (`sipas units load`)"
        )
    try:
        added, present = await open_year(
            database,
            year=scheme.year,
            scheme_id=scheme.id,
            criteria_text=scheme.text,
            criteria_sha256=scheme.sha256,
            units=units,
            now=now,
        )
    except YearMismatch as mismatch:
        raise ParError(
            f"{scheme.year} is already open with {mismatch.existing.scheme_id} "
            f"(criteria sha256 {mismatch.existing.criteria_sha256[:12]}…), not with this "
            f"{scheme.id} file (sha256 {scheme.sha256[:12]}…): a year keeps the criteria it "
            "was opened with"
        ) from None
    by_tree = {tree: 0 for tree in scheme.trees}
    for unit in added:
        by_tree[unit.tree] += 1
    return OpenedYear(scheme.year, scheme.id, len(added), present, by_tree)


async def load_assessment(database: Database, year: int | None = None) -> Assessment:
    """An opened year (the newest when `year` is None) with its criteria and scorecards."""
    if year is None:
        years = await opened_years(database)
        if not years:
            raise ParError("no assessment year is open: `sipas par open --year YEAR --scheme NAME`")
        year = years[0]
    record = await year_record(database, year)
    if record is None:
        raise ParError(f"{year} is not open: `sipas par open --year {year} --scheme NAME` first")
    scheme = parse_criteria(record.criteria_text, source=f"{record.scheme_id} ({year})")
    return Assessment(year, scheme, tuple(await scorecards(database, year)))
