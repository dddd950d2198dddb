"""PAR Index scorecards at rest: assessment years, a scorecard per assessed unit, self-scores
with evidence, and the appraisal council's adjustments, which are only ever added.

Everything here is plain rows: what the criteria mean, how points add up and who may see
what is decided in `par/`. Each write is one transaction, so an import or an appraisal is
stored whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import (
    AdminUnit,
    Agency,
    ParAppraisal,
    ParScorecard,
    ParSelfScore,
    ParYear,
    StaffAccount,
)

__all__ = [
    "AppraisalInput",
    "AppraisalRecord",
    "AssessedUnit",
    "SavedScores",
    "ScorecardRecord",
    "SelfScoreInput",
    "SelfScoreRecord",
    "YearMismatch",
    "YearRecord",
    "add_appraisals",
    "appraisals",
    "assessed_units",
    "open_year",
    "opened_years",
    "save_self_scores",
    "scorecards",
    "self_scores",
    "year_record",
]


@dataclass(frozen=True)
class YearRecord:
    """An opened assessment year and the criteria it keeps."""

    year: int
    scheme_id: str
    criteria_sha256: str
    criteria_text: str
    opened_at: datetime


@dataclass(frozen=True)
class AssessedUnit:
    """A unit that gets a scorecard: a Sở (`department`) or a UBND xã/phường (`commune`)."""

    tree: str
    code: str
    name: str


@dataclass(frozen=True)
class ScorecardRecord:
    """One unit's scorecard in a year."""

    id: int
    year: int
    tree: str
    unit_code: str
    unit_name: str


@dataclass(frozen=True)
class SelfScoreInput:
    """A self-score to store: the unit, the criterion, the points, evidence and note."""

    unit_code: str
    criterion_code: str
    points: float
    evidence: str | None
    note: str | None


@dataclass(frozen=True)
class SelfScoreRecord:
    """A stored self-score and where it came from."""

    unit_code: str
    criterion_code: str
    points: float
    evidence: str | None
    note: str | None
    source_file: str
    imported_at: datetime


@dataclass(frozen=True)
class SavedScores:
    """What storing a file's self-scores did."""

    added: int
    changed: int
    unchanged: int


@dataclass(frozen=True)
class AppraisalInput:
    """An adjustment to record: the unit, the criterion, the points it sets and why."""

    unit_code: str
    criterion_code: str
    points: float
    reason: str


@dataclass(frozen=True)
class AppraisalRecord:
    """One recorded adjustment, with the staff admin who recorded it."""

    id: int
    unit_code: str
    criterion_code: str
    points: float
    reason: str
    staff_name: str
    channel: str
    recorded_at: datetime


class YearMismatch(Exception):
    """The year is already open with other criteria; `existing` says which."""

    def __init__(self, existing: YearRecord) -> None:
        super().__init__(f"{existing.year} is open with {existing.scheme_id}")
        self.existing = existing


def _year(row: ParYear) -> YearRecord:
    return YearRecord(
        row.year, row.scheme_id, row.criteria_sha256, row.criteria_text, row.opened_at
    )


async def year_record(database: Database, year: int) -> YearRecord | None:
    """The opened year, or None."""
    async with database.reading() as session:
        row = await session.get(ParYear, year)
        return None if row is None else _year(row)


async def opened_years(database: Database) -> list[int]:
    """Every opened year, newest first."""
    async with database.reading() as session:
        return list(
            (await session.scalars(select(ParYear.year).order_by(ParYear.year.desc()))).all()
        )


async def assessed_units(database: Database, year: int) -> list[AssessedUnit]:
    """The units assessed in a year: agencies of kind department, and commune-level units
    in force during the year, by tree and code."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    async with database.reading() as session:
        agencies = (
            await session.scalars(
                select(Agency).where(Agency.kind == "department").order_by(Agency.code)
            )
        ).all()
        communes = (
            await session.scalars(
                select(AdminUnit)
                .where(
                    AdminUnit.level == "commune",
                    or_(AdminUnit.valid_from.is_(None), AdminUnit.valid_from <= last),
                    or_(AdminUnit.valid_to.is_(None), AdminUnit.valid_to >= first),
                )
                .order_by(AdminUnit.code)
            )
        ).all()
    return [AssessedUnit("department", agency.code, agency.name) for agency in agencies] + [
        AssessedUnit("commune", unit.code, unit.full_name) for unit in communes
    ]


async def open_year(
    database: Database,
    *,
    year: int,
    scheme_id: str,
    criteria_text: str,
    criteria_sha256: str,
    units: Sequence[AssessedUnit],
    now: datetime,
) -> tuple[list[AssessedUnit], int]:
    """Open a year (or find it open with the same criteria) and give every unit a scorecard.

    Returns the units given a scorecard now, and how many had one already. YearMismatch,
    and nothing written, when the year is open with other criteria.
    """
    async with database.transaction() as session:
        row = await session.get(ParYear, year)
        if row is None:
            session.add(
                ParYear(
                    year=year,
                    scheme_id=scheme_id,
                    criteria_sha256=criteria_sha256,
                    criteria_text=criteria_text,
                    opened_at=now,
                )
            )
            await session.flush()
        elif row.criteria_sha256 != criteria_sha256:
            raise YearMismatch(_year(row))
        present = set(
            (
                await session.scalars(
                    select(ParScorecard.unit_code).where(ParScorecard.year == year)
                )
            ).all()
        )
        added = [unit for unit in units if unit.code not in present]
        for unit in added:
            session.add(
                ParScorecard(
                    year=year,
                    tree=unit.tree,
                    unit_code=unit.code,
                    unit_name=unit.name,
                    opened_at=now,
                )
            )
    return added, len(units) - len(added)


async def scorecards(database: Database, year: int) -> list[ScorecardRecord]:
    """The scorecards of a year, by tree and unit code."""
    async with database.reading() as session:
        rows = (
            await session.scalars(
                select(ParScorecard)
                .where(ParScorecard.year == year)
                .order_by(ParScorecard.tree, ParScorecard.unit_code)
            )
        ).all()
    return [
        ScorecardRecord(row.id, row.year, row.tree, row.unit_code, row.unit_name) for row in rows
    ]


async def _scorecard_ids(session: AsyncSession, year: int) -> dict[str, int]:
    rows = await session.execute(
        select(ParScorecard.unit_code, ParScorecard.id).where(ParScorecard.year == year)
    )
    return dict(rows.tuples().all())


async def save_self_scores(
    database: Database,
    year: int,
    scores: Sequence[SelfScoreInput],
    *,
    source_file: str,
    now: datetime,
) -> SavedScores:
    """Store self-scores in one transaction: a criterion scored again takes the new points,
    evidence and note; the same values again change nothing. Every unit must have a
    scorecard in the year (KeyError otherwise, and nothing is stored)."""
    added = changed = unchanged = 0
    async with database.transaction() as session:
        ids = await _scorecard_ids(session, year)
        existing = {
            (row.scorecard_id, row.criterion_code): row
            for row in (
                await session.scalars(
                    select(ParSelfScore).where(ParSelfScore.scorecard_id.in_(ids.values()))
                )
            ).all()
        }
        for score in scores:
            scorecard_id = ids[score.unit_code]
            row = existing.get((scorecard_id, score.criterion_code))
            values = (score.points, score.evidence, score.note)
            if row is None:
                session.add(
                    ParSelfScore(
                        scorecard_id=scorecard_id,
                        criterion_code=score.criterion_code,
                        points=score.points,
                        evidence=score.evidence,
                        note=score.note,
                        source_file=source_file,
                        imported_at=now,
                    )
                )
                added += 1
            elif (row.points, row.evidence, row.note) == values:
                unchanged += 1
            else:
                row.points, row.evidence, row.note = values
                row.source_file, row.imported_at = source_file, now
                changed += 1
    return SavedScores(added, changed, unchanged)


async def self_scores(database: Database, year: int) -> list[SelfScoreRecord]:
    """Every self-score of a year, by unit and criterion."""
    async with database.reading() as session:
        rows = await session.execute(
            select(ParScorecard.unit_code, ParSelfScore)
            .join(ParScorecard, ParScorecard.id == ParSelfScore.scorecard_id)
            .where(ParScorecard.year == year)
            .order_by(ParScorecard.unit_code, ParSelfScore.criterion_code)
        )
        return [
            SelfScoreRecord(
                unit_code,
                score.criterion_code,
                score.points,
                score.evidence,
                score.note,
                score.source_file,
                score.imported_at,
            )
            for unit_code, score in rows.tuples().all()
        ]


async def add_appraisals(
    database: Database,
    year: int,
    adjustments: Sequence[AppraisalInput],
    *,
    staff_account_id: int,
    channel: str,
    now: datetime,
) -> int:
    """Record adjustments in one transaction, adding rows only. Every unit must have a
    scorecard in the year (KeyError otherwise, and nothing is stored)."""
    async with database.transaction() as session:
        ids = await _scorecard_ids(session, year)
        for adjustment in adjustments:
            session.add(
                ParAppraisal(
                    scorecard_id=ids[adjustment.unit_code],
                    criterion_code=adjustment.criterion_code,
                    points=adjustment.points,
                    reason=adjustment.reason,
                    staff_account_id=staff_account_id,
                    channel=channel,
                    recorded_at=now,
                )
            )
    return len(adjustments)


async def appraisals(
    database: Database, year: int, *, unit_code: str | None = None
) -> list[AppraisalRecord]:
    """The adjustments of a year (or of one unit), oldest first: the last one of a
    criterion is the appraised score."""
    query = (
        select(ParScorecard.unit_code, ParAppraisal, StaffAccount.name)
        .join(ParScorecard, ParScorecard.id == ParAppraisal.scorecard_id)
        .join(StaffAccount, StaffAccount.id == ParAppraisal.staff_account_id)
        .where(ParScorecard.year == year)
        .order_by(ParAppraisal.id)
    )
    if unit_code is not None:
        query = query.where(ParScorecard.unit_code == unit_code)
    async with database.reading() as session:
        rows = (await session.execute(query)).tuples().all()
    return [
        AppraisalRecord(
            appraisal.id,
            code,
            appraisal.criterion_code,
            appraisal.points,
            appraisal.reason,
            staff_name,
            appraisal.channel,
            appraisal.recorded_at,
        )
        for code, appraisal, staff_name in rows
    ]
