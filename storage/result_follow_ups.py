"""Result follow-ups: a respondent's leave to be asked the result block once, when the result is
returned, with the chat address kept for that one message, and what became of it.

A respondent who has not received the result yet may agree, at the end of the survey, to be
written to once when it is returned. The chat address is then kept here, encrypted (the
engine's `AddressCipher` under its own purpose), apart from the answers and only for that:

    waiting ──result returned──▶ due ──sent──▶ sent ──answered──▶ answered
       │                          │      └──not delivered──▶ unreachable
       └────────── past keep_until, or SIPAS_RESULT_FOLLOWUP_DAYS ──▶ expired

Only `waiting` and `due` hold the address; every other status has erased it. A `due`
follow-up waits while the respondent is in the middle of another survey, and is sent by the
next maintenance round.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import CursorResult

from storage.db import Database, Transaction
from storage.models import Answer, Response, ResultFollowUp, SurveySession
from storage.sessions import mark_dirty, save_answer

__all__ = [
    "ADDRESS_KEPT",
    "ANSWERED",
    "DUE",
    "EXPIRED",
    "SENT",
    "STATUSES",
    "UNREACHABLE",
    "WAITING",
    "due_follow_ups",
    "erase_address",
    "follow_up_statuses",
    "forget_addresses",
    "join_response",
    "keep_address",
    "mark_due",
    "mark_undelivered",
    "surveyed_session",
]

WAITING = "waiting"
DUE = "due"
SENT = "sent"
ANSWERED = "answered"
UNREACHABLE = "unreachable"
EXPIRED = "expired"
STATUSES = (WAITING, DUE, SENT, ANSWERED, UNREACHABLE, EXPIRED)
ADDRESS_KEPT = (WAITING, DUE)


async def keep_address(
    tx: Transaction,
    *,
    response_id: int,
    channel: str,
    address_ciphertext: str,
    now: datetime,
    keep_for: timedelta,
) -> ResultFollowUp:
    """Keep the (encrypted) chat address of a response's respondent until the result is
    returned, `keep_for` at most."""
    follow_up = ResultFollowUp(
        id=secrets.token_hex(16),
        response_id=response_id,
        channel=channel,
        address_ciphertext=address_ciphertext,
        status=WAITING,
        agreed_at=now,
        keep_until=now + keep_for,
    )
    tx.add(follow_up)
    await tx.flush()
    return follow_up


async def mark_due(tx: Transaction, invitation_ids: Sequence[str], now: datetime) -> int:
    """The results of these invitations' dossiers were returned: the follow-ups their
    respondents agreed to are owed (again: nothing changes). How many became owed."""
    answered = select(Response.id).where(Response.invitation_id.in_(list(invitation_ids)))
    result = cast(
        CursorResult[Any],
        await tx.execute(
            update(ResultFollowUp)
            .where(ResultFollowUp.response_id.in_(answered), ResultFollowUp.status == WAITING)
            .values(status=DUE, result_returned_at=now)
        ),
    )
    return result.rowcount


async def surveyed_session(tx: Transaction, follow_up: ResultFollowUp) -> SurveySession:
    """The completed session whose response the follow-up's answers join."""
    statement = (
        select(SurveySession)
        .join(Response, Response.session_id == SurveySession.id)
        .where(Response.id == follow_up.response_id)
    )
    surveyed: SurveySession = (await tx.scalars(statement)).one()
    return surveyed


async def due_follow_ups(tx: Transaction) -> list[ResultFollowUp]:
    """The follow-ups whose result was returned and which are not sent yet, oldest first."""
    statement = (
        select(ResultFollowUp)
        .where(ResultFollowUp.status == DUE)
        .order_by(ResultFollowUp.result_returned_at)
        .with_for_update(skip_locked=True)
    )
    return list((await tx.scalars(statement)).all())


def erase_address(follow_up: ResultFollowUp, now: datetime, status: str) -> None:
    """The address has served (`SENT`: the message is on its way) or cannot (`UNREACHABLE`):
    it is erased, in the caller's transaction."""
    follow_up.status = status
    follow_up.sent_at = now
    follow_up.address_ciphertext = None


async def mark_undelivered(database: Database, follow_up_id: str, now: datetime) -> None:
    """The platform would not deliver the message (out of its window, blocked, or the channel
    is off): counted as unreachable, and the session opened for the answers is closed."""
    async with database.transaction() as tx:
        await tx.execute(
            update(ResultFollowUp)
            .where(ResultFollowUp.id == follow_up_id)
            .values(status=UNREACHABLE, sent_at=now, address_ciphertext=None)
        )
        opened = select(SurveySession.id).where(
            SurveySession.result_follow_up_id == follow_up_id,
            SurveySession.completed_at.is_(None),
        )
        await tx.execute(delete(Answer).where(Answer.session_id.in_(opened)))
        await tx.execute(delete(SurveySession).where(SurveySession.id.in_(opened)))


async def join_response(
    tx: Transaction, follow_up_id: str, answers: dict[str, str | None], now: datetime
) -> bool:
    """Add `answers` (of the follow-up session) to the response the follow-up belongs to;
    False when that response is gone (withdrawn, or past the retention period).

    The response's reporting day is marked changed, and its quality facts are recorded
    again by the next aggregation (they now cover these answers too). The follow-up
    session itself is the caller's to close.
    """
    row = (
        await tx.execute(
            select(Response.id, Response.session_id, Response.reporting_day)
            .join(ResultFollowUp, ResultFollowUp.response_id == Response.id)
            .where(ResultFollowUp.id == follow_up_id)
        )
    ).first()
    if row is None:
        return False
    response_id, session_id, day = row
    for item_code, value in answers.items():
        await save_answer(tx, session_id, item_code, value, now)
    await tx.execute(
        update(Response)
        .where(Response.id == response_id)
        .values(scale_answers=None, uniform_value=None, median_gap_seconds=None)
    )
    await tx.execute(
        update(ResultFollowUp)
        .where(ResultFollowUp.id == follow_up_id)
        .values(status=ANSWERED, answered_at=now)
    )
    await mark_dirty(tx, day, now)
    return True


async def forget_addresses(database: Database, now: datetime, keep_days: int) -> int:
    """Erase the addresses kept past their `keep_until`, or longer than `keep_days` (the
    setting now, if it was lowered since): those follow-ups expire. How many."""
    async with database.transaction() as tx:
        result = cast(
            CursorResult[Any],
            await tx.execute(
                update(ResultFollowUp)
                .where(
                    ResultFollowUp.status.in_(ADDRESS_KEPT),
                    or_(
                        ResultFollowUp.keep_until <= now,
                        ResultFollowUp.agreed_at <= now - timedelta(days=keep_days),
                    ),
                )
                .values(status=EXPIRED, address_ciphertext=None)
            ),
        )
    return result.rowcount


async def follow_up_statuses(tx: Transaction, first: datetime, last: datetime) -> Counter[str]:
    """How many follow-ups agreed to from `first` up to (not including) `last` are in each status."""
    rows = await tx.execute(
        select(ResultFollowUp.status, func.count())
        .where(ResultFollowUp.agreed_at >= first, ResultFollowUp.agreed_at < last)
        .group_by(ResultFollowUp.status)
    )
    return Counter({status: int(count) for status, count in rows.tuples()})
