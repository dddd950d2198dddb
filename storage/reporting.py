"""What staff reports read beside the index tables: the quality flags, invitations and comments
of a set of counters over a span of days.

None of these are indices (those come from the daily counts, `storage.counts`); they are
counted here, per counter set and period, for the dashboard's unit pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Integer, cast, func, select

from storage.db import AsyncSession
from storage.models import (
    Answer,
    Invitation,
    Response,
    ResponseQuality,
    ServicePoint,
    SurveySession,
)


@dataclass(frozen=True)
class Quality:
    """Quality flags of completed responses: how many were judged, flagged, and why."""

    responses: int
    flagged: int
    straight_lining: int
    speeding: int
    repeated: int


@dataclass(frozen=True)
class Coverage:
    """Invitations of one counter in a period: minted, started, completed, response rate."""

    service_point_code: str
    name: str
    minted: int
    started: int
    completed: int

    @property
    def rate(self) -> float | None:
        return 100.0 * self.completed / self.minted if self.minted else None


async def quality_flags(
    session: AsyncSession, first: date, last: date, service_points: Sequence[str]
) -> Quality:
    """Counts of quality flags among the responses of reporting days `first` to `last` at
    these counters (as the last aggregation judged them)."""
    query = (
        select(
            func.count(ResponseQuality.response_id),
            func.sum(cast(ResponseQuality.flagged, Integer)),
            func.sum(cast(ResponseQuality.straight_lining, Integer)),
            func.sum(cast(ResponseQuality.speeding, Integer)),
            func.sum(cast(ResponseQuality.repeated, Integer)),
        )
        .join(Response, Response.id == ResponseQuality.response_id)
        .where(
            Response.service_point_code.in_(service_points),
            ResponseQuality.reporting_day >= first,
            ResponseQuality.reporting_day <= last,
        )
    )
    row = (await session.execute(query)).one()
    return Quality(*(int(value or 0) for value in row))


async def invitation_coverage(
    session: AsyncSession,
    created_from: datetime,
    created_before: datetime,
    service_points: Sequence[str],
) -> list[Coverage]:
    """Per counter, in code order: invitations created from `created_from` to before
    `created_before`, and how many of them were started and completed."""
    query = (
        select(
            ServicePoint.code,
            ServicePoint.name,
            func.count(Invitation.id),
            func.count(Invitation.claimed_at),
            func.count(Invitation.completed_at),
        )
        .outerjoin(
            Invitation,
            (Invitation.service_point_code == ServicePoint.code)
            & (Invitation.created_at >= created_from)
            & (Invitation.created_at < created_before),
        )
        .where(ServicePoint.code.in_(service_points))
        .group_by(ServicePoint.code, ServicePoint.name)
        .order_by(ServicePoint.code)
    )
    rows = (await session.execute(query)).tuples().all()
    return [
        Coverage(code, name, minted, started, done) for code, name, minted, started, done in rows
    ]


async def comment_answers(
    session: AsyncSession,
    first: date,
    last: date,
    service_points: Sequence[str],
    item_codes: Sequence[str],
    *,
    limit: int,
) -> list[str]:
    """The free-text answers to `item_codes` of completed responses at these counters on
    reporting days `first` to `last`, newest first, at most `limit` (as stored: scrubbed then)."""
    query = (
        select(Answer.value)
        .join(SurveySession, Answer.session_id == SurveySession.id)
        .join(Response, Response.session_id == SurveySession.id)
        .where(
            Response.service_point_code.in_(service_points),
            Response.reporting_day >= first,
            Response.reporting_day <= last,
            Answer.item_code.in_(item_codes),
            Answer.value.is_not(None),
        )
        .order_by(Response.reporting_day.desc(), Answer.id.desc())
        .limit(limit)
    )
    return [value or "" for value in (await session.scalars(query)).all()]
