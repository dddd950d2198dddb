"""The retention period of completed answers: what goes when it ends, and which days stay counted.

Completed responses are kept for a number of months from their reporting day
(SIPAS_RETENTION_MONTHS), then deleted with their answers, comments and quality flags;
closed unfinished sessions and expired invitations that old go too. The daily counts of
those days stay: they are anonymous aggregates, and they are all that is left of them, so
the aggregation never recounts a day before the latest cutoff (`retained_from`).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, func, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import (
    Answer,
    DirtyDay,
    Invitation,
    Response,
    RetentionRun,
    SurveySession,
)
from storage.sessions import OPEN_STATUSES

__all__ = ["RetentionOutcome", "RetentionPolicy", "apply_retention", "retained_from"]


def months_before(day: date, months: int) -> date:
    """The same day of the month `months` calendar months earlier (the month's last day when
    that month is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class RetentionPolicy:
    """How long completed answers are kept, in months, counted in local reporting days."""

    months: int
    zone: ZoneInfo

    def cutoff(self, now: datetime) -> date:
        """The first reporting day still kept at `now`: today, `months` months ago."""
        return months_before(now.astimezone(self.zone).date(), self.months)


@dataclass(frozen=True)
class RetentionOutcome:
    """What one application of the retention period deleted (nothing when `applied` is false:
    this cutoff had been applied already)."""

    cutoff_day: date
    applied: bool
    responses: int = 0
    unfinished_sessions: int = 0
    invitations: int = 0


async def retained_from(session: AsyncSession) -> date | None:
    """The first reporting day whose responses are kept (the latest cutoff applied), or None if
    nothing was ever deleted for age. Earlier days are never counted again."""
    day: date | None = await session.scalar(select(func.max(RetentionRun.cutoff_day)))
    return day


async def apply_retention(
    database: Database, policy: RetentionPolicy, now: datetime, *, again: bool = False
) -> RetentionOutcome:
    """Delete what the retention period has let go, in one transaction, then erase it from disk.

    Once a day is enough: unless `again`, nothing is done when today's cutoff was applied
    already (responses imported late for earlier days go at the next day's run).
    """
    cutoff = policy.cutoff(now)
    async with database.transaction() as tx:
        applied = await retained_from(tx)
        if applied is not None and applied >= cutoff and not again:
            return RetentionOutcome(cutoff, applied=False)
        outcome = await _delete_before(tx, cutoff, datetime.combine(cutoff, time(), policy.zone))
        tx.add(
            RetentionRun(
                ran_at=now,
                cutoff_day=max(cutoff, applied) if applied is not None else cutoff,
                responses=outcome.responses,
                unfinished_sessions=outcome.unfinished_sessions,
                invitations=outcome.invitations,
            )
        )
    if outcome.responses or outcome.unfinished_sessions:
        await database.erase_deleted()
    return outcome


async def _delete_before(tx: AsyncSession, cutoff: date, start: datetime) -> RetentionOutcome:
    """Delete responses of reporting days before `cutoff`, and what else is older than `start`."""
    expired = select(Response.session_id).where(Response.reporting_day < cutoff)
    responses = await tx.scalar(select(func.count()).select_from(expired.subquery()))
    await tx.execute(delete(Answer).where(Answer.session_id.in_(expired)))
    # Each response and its quality flags go with their session (ON DELETE CASCADE).
    await tx.execute(delete(SurveySession).where(SurveySession.id.in_(expired)))
    # Declined, cancelled or expired: their answers went when they closed, only the fact remains.
    unfinished = await _deleted(
        tx,
        delete(SurveySession).where(
            SurveySession.status.not_in(OPEN_STATUSES),
            SurveySession.completed_at.is_(None),
            SurveySession.last_activity_at < start,
        ),
    )
    invitations = await _deleted(
        tx,
        delete(Invitation).where(
            Invitation.expires_at < start,
            ~exists().where(SurveySession.invitation_id == Invitation.id),
            ~exists().where(Response.invitation_id == Invitation.id),
        ),
    )
    # Those days are never counted again (see `retained_from`): their marks would only linger.
    await tx.execute(delete(DirtyDay).where(DirtyDay.day < cutoff))
    return RetentionOutcome(cutoff, True, int(responses or 0), unfinished, invitations)


async def _deleted(tx: AsyncSession, statement: Any) -> int:
    return int(cast(CursorResult[Any], await tx.execute(statement)).rowcount)
