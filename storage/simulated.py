"""Simulated survey data (`sipas simulate`): how it is marked, and taking all of it out again.

Synthetic respondents go through the real survey engine on a channel of their own; every
session and response they leave is marked `simulated`, so that aggregation leaves them out
unless asked (the demo) and `remove_simulated` finds every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import delete, select
from sqlalchemy.engine import CursorResult

from storage.db import Database
from storage.models import (
    Answer,
    Invitation,
    ProcessedEvent,
    Response,
    ResponseQuality,
    SurveySession,
)
from storage.sessions import mark_dirty

SIMULATED_CHANNEL = "simulated"


@dataclass(frozen=True)
class RemovalReport:
    """What removing the simulated data deleted."""

    sessions: int
    responses: int
    invitations: int
    days: tuple[date, ...]  # marked dirty, so the next aggregation drops them from every figure


async def remove_simulated(database: Database, now: datetime | None = None) -> RemovalReport:
    """Delete every simulated session, answer and response (and their invitations and events).

    The reporting days they counted on are marked dirty, so the next aggregation
    drops them from every figure.
    """
    now = now or datetime.now(UTC)
    simulated_sessions = select(SurveySession.id).where(SurveySession.simulated)
    simulated_responses = select(Response.id).where(Response.simulated)
    async with database.transaction() as tx:
        days = tuple(
            (
                await tx.scalars(
                    select(Response.reporting_day)
                    .where(Response.simulated)
                    .distinct()
                    .order_by(Response.reporting_day)
                )
            ).all()
        )
        invitation_ids = list(
            (
                await tx.scalars(
                    select(SurveySession.invitation_id)
                    .where(SurveySession.simulated, SurveySession.invitation_id.is_not(None))
                    .distinct()
                )
            ).all()
        )
        await tx.execute(
            delete(ResponseQuality).where(ResponseQuality.response_id.in_(simulated_responses))
        )
        responses = cast(
            CursorResult[Any], await tx.execute(delete(Response).where(Response.simulated))
        ).rowcount
        await tx.execute(delete(Answer).where(Answer.session_id.in_(simulated_sessions)))
        sessions = cast(
            CursorResult[Any],
            await tx.execute(delete(SurveySession).where(SurveySession.simulated)),
        ).rowcount
        # Chunked: both backends limit the number of bound parameters per statement.
        for start in range(0, len(invitation_ids), 1000):
            chunk = invitation_ids[start : start + 1000]
            await tx.execute(delete(Invitation).where(Invitation.id.in_(chunk)))
        await tx.execute(delete(ProcessedEvent).where(ProcessedEvent.channel == SIMULATED_CHANNEL))
        for day in days:
            await mark_dirty(tx, day, now)
    return RemovalReport(sessions, responses, len(invitation_ids), days)
