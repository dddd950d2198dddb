"""The appraisal council's adjustments: per criterion, the points it sets and why, recorded by a
staff admin, by file or one at a time; only ever added, so the history stays and the unit's
own score stays beside the appraised one.

An appraisal file is a unit's self-assessment file with two more columns (`sipas par
template --unit CODE --appraisal` writes it): «Điểm thẩm định» (appraised) and «Lý do điều
chỉnh» (reason). Rows with an appraised score are recorded; the rest are left alone, and a
row equal to the criterion's latest adjustment records nothing again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from par.assessment import (
    Assessment,
    EntryProblem,
    ParError,
    entries_of_file,
    load_assessment,
    points_within,
)
from par.files import Columns
from par.self_assessment import APPRAISAL_COLUMNS, MAX_TEXT, SELF_COLUMNS
from problems import Problem
from storage.db import Database
from storage.par import AppraisalInput, AppraisalRecord, add_appraisals, appraisals
from storage.staff import find_staff

__all__ = ["AppraisalResult", "Appraiser", "appraise", "appraise_file", "appraiser"]


@dataclass(frozen=True)
class Appraiser:
    """The staff admin who records adjustments."""

    id: int
    name: str


@dataclass(frozen=True)
class AppraisalResult:
    """What was recorded: the year, new adjustments, and entries equal to the latest one."""

    year: int
    recorded: int
    unchanged: int


async def appraiser(database: Database, name_or_id: str) -> Appraiser:
    """The enabled staff admin of this name (or id); ParError for anyone else."""
    async with database.reading() as session:
        account = await find_staff(session, name_or_id)
    if account is None:
        raise ParError(f"no staff account {name_or_id!r}: see `sipas staff list`")
    if account.disabled_at is not None:
        raise ParError(f"{account.name} is disabled")
    if account.role != "admin":
        raise ParError(
            f"{account.name} is a {account.role}: only staff admins record the council's appraisal"
        )
    return Appraiser(account.id, account.name)


def _entry(
    assessment: Assessment, unit: str, code: str, points: str, reason: str
) -> AppraisalInput:
    criterion = assessment.self_scored(unit, code)
    value = points_within(criterion, points, "appraised")
    if not reason:
        raise EntryProblem("reason", "empty (say why the council sets these points)")
    if len(reason) > MAX_TEXT:
        raise EntryProblem("reason", f"{len(reason)} characters (at most {MAX_TEXT})")
    return AppraisalInput(unit, code, value, reason)


async def _record(
    database: Database,
    assessment: Assessment,
    entries: Sequence[AppraisalInput],
    by: Appraiser,
    channel: str,
    now: datetime,
) -> AppraisalResult:
    latest: dict[tuple[str, str], AppraisalRecord] = {
        (entry.unit_code, entry.criterion_code): entry
        for entry in await appraisals(database, assessment.year)
    }
    new = [
        entry
        for entry in entries
        if (found := latest.get((entry.unit_code, entry.criterion_code))) is None
        or (found.points, found.reason) != (entry.points, entry.reason)
    ]
    if new:
        await add_appraisals(
            database, assessment.year, new, staff_account_id=by.id, channel=channel, now=now
        )
    return AppraisalResult(assessment.year, len(new), len(entries) - len(new))


async def appraise(
    database: Database,
    *,
    unit_code: str,
    criterion_code: str,
    points: str,
    reason: str,
    by: Appraiser,
    now: datetime,
    year: int | None = None,
    channel: str = "cli",
) -> AppraisalResult:
    """Record one adjustment; EntryProblem naming the field at fault (unit, criterion,
    appraised, reason), and nothing recorded, when it cannot be."""
    assessment = await load_assessment(database, year)
    entry = _entry(
        assessment, unit_code.strip(), criterion_code.strip(), points.strip(), reason.strip()
    )
    return await _record(database, assessment, [entry], by, channel, now)


def _appraisal_row(
    assessment: Assessment, columns: Columns, cells: list[str]
) -> AppraisalInput | None:
    """The adjustment a row makes, or None for a criterion left unadjusted; EntryProblem for a
    bad one."""
    points = columns.cell(cells, "appraised")
    reason = columns.cell(cells, "reason")
    if not points and not reason:
        return None
    if not points:
        raise EntryProblem("appraised", "empty, but a reason is given: add the points")
    return _entry(
        assessment, columns.cell(cells, "unit"), columns.cell(cells, "criterion"), points, reason
    )


async def appraise_file(
    database: Database, path: Path, *, by: Appraiser, now: datetime, year: int | None = None
) -> AppraisalResult:
    """Check an appraisal file whole, then record its adjustments in one transaction;
    ParFileError lists every problem (row, column, what is wrong) and nothing is recorded."""
    assessment = await load_assessment(database, year)
    columns = Columns(SELF_COLUMNS | APPRAISAL_COLUMNS)
    entries = entries_of_file(
        path,
        columns,
        required=("unit", "criterion", "appraised", "reason"),
        entry_of=lambda cells: _appraisal_row(assessment, columns, cells),
        done="appraised",
        outcome="nothing was recorded",
        empty=Problem(
            file=str(path),
            column=columns.label("appraised"),
            message="no appraised points in the file",
        ),
    )
    return await _record(database, assessment, entries, by, "file", now)
