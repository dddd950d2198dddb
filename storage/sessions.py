"""Repository of survey state: processed events, sessions, answers, responses and withdrawals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Answer, DirtyDay, Invitation, ProcessedEvent, Response, SurveySession

OPEN_STATUSES = ("consent", "active")


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


# The statements of every event are built once per dialect, against the tables rather than
# the mapped classes: building an upsert's `excluded` alias and running the ORM's bulk path
# cost more than executing the statement itself, and a statement built once is compiled once.


@cache
def _record_event_statement(dialect: str) -> Executable:
    table = cast(Table, ProcessedEvent.__table__)
    insert = pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    return insert.on_conflict_do_nothing()


@cache
def _save_answer_statement(dialect: str) -> Executable:
    table = cast(Table, Answer.__table__)
    insert = pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    return insert.on_conflict_do_update(
        index_elements=["session_id", "item_code"],
        set_={"value": insert.excluded.value, "answered_at": insert.excluded.answered_at},
    )


@cache
def _mark_dirty_statement(dialect: str) -> Executable:
    table = cast(Table, DirtyDay.__table__)
    insert = pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    return insert.on_conflict_do_update(
        index_elements=["day"], set_={"marked_at": insert.excluded.marked_at}
    )


# The open session and its answers in one round trip: one row per answer (or one row with
# NULL answer columns), the session's columns repeated.
_OPEN_SESSION_WITH_ANSWERS = (
    select(SurveySession, Answer.item_code, Answer.value)
    .outerjoin(Answer, Answer.session_id == SurveySession.id)
    .where(
        SurveySession.id
        == select(SurveySession.id)
        .where(
            SurveySession.respondent_key == bindparam("respondent_key"),
            SurveySession.status.in_(OPEN_STATUSES),
        )
        .order_by(SurveySession.id.desc())
        .limit(1)
        .scalar_subquery()
    )
)


async def record_event(session: AsyncSession, channel: str, event_id: str, now: datetime) -> bool:
    """Record a platform event as processed; False when it already was (a redelivery)."""
    result = cast(
        CursorResult[Any],
        await session.execute(
            _record_event_statement(_dialect(session)),
            {"channel": channel, "event_id": event_id, "processed_at": now},
        ),
    )
    return bool(result.rowcount)


async def lock_respondent(session: AsyncSession, respondent_key: str) -> None:
    """Serialise the events of one respondent until the transaction ends.

    On PostgreSQL a transaction-scoped advisory lock on the key; SQLite's BEGIN
    IMMEDIATE already serialises every writer.
    """
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": respondent_key}
        )


async def find_open_session(session: AsyncSession, respondent_key: str) -> SurveySession | None:
    """The respondent's open (consent or active) session, newest first."""
    statement = (
        select(SurveySession)
        .where(
            SurveySession.respondent_key == respondent_key,
            SurveySession.status.in_(OPEN_STATUSES),
        )
        .order_by(SurveySession.id.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def load_open_session(
    session: AsyncSession, respondent_key: str
) -> tuple[SurveySession | None, dict[str, str | None]]:
    """The respondent's open session (as `find_open_session`) and its answers, in one query."""
    rows = (
        await session.execute(_OPEN_SESSION_WITH_ANSWERS, {"respondent_key": respondent_key})
    ).all()
    if not rows:
        return None, {}
    answers = {code: value for _survey, code, value in rows if code is not None}
    return rows[0][0], answers


async def load_answers(session: AsyncSession, session_id: int) -> dict[str, str | None]:
    rows = await session.execute(
        select(Answer.item_code, Answer.value).where(Answer.session_id == session_id)
    )
    return {code: value for code, value in rows.tuples()}


async def save_answer(
    session: AsyncSession, session_id: int, item_code: str, value: str | None, now: datetime
) -> None:
    """Insert or replace the answer to one item."""
    await session.execute(
        _save_answer_statement(_dialect(session)),
        {"session_id": session_id, "item_code": item_code, "value": value, "answered_at": now},
    )


async def delete_answers(session: AsyncSession, session_id: int, item_codes: list[str]) -> None:
    if item_codes:
        await session.execute(
            delete(Answer).where(Answer.session_id == session_id, Answer.item_code.in_(item_codes))
        )


async def mark_dirty(session: AsyncSession, day: date, now: datetime) -> None:
    """Tell the nightly aggregation that this reporting day changed."""
    await session.execute(_mark_dirty_statement(_dialect(session)), {"day": day, "marked_at": now})


async def answered_today(
    session: AsyncSession, respondent_key: str, service_point_code: str, day: date
) -> bool:
    """Whether this respondent already completed a survey at this counter on this day."""
    statement = select(func.count(Response.id)).where(
        Response.respondent_key == respondent_key,
        Response.service_point_code == service_point_code,
        Response.reporting_day == day,
    )
    return bool((await session.execute(statement)).scalar_one())


async def close_session(survey: SurveySession, status: str, now: datetime) -> None:
    """End a session: the chat address is erased with it, whatever the outcome."""
    survey.status = status
    survey.current_item = None
    survey.address_ciphertext = None
    survey.last_activity_at = now
    survey.version += 1


async def discard_session(
    session: AsyncSession, survey: SurveySession, status: str, now: datetime
) -> None:
    """End an unfinished session and keep only the fact that it did not complete.

    Its answers go, and so does its link to the respondent (the pseudonym) and to any
    invitation it had claimed, which may then be opened again until it expires.
    """
    await session.execute(delete(Answer).where(Answer.session_id == survey.id))
    if survey.invitation_id is not None:
        await session.execute(
            update(Invitation)
            .where(Invitation.id == survey.invitation_id, Invitation.completed_at.is_(None))
            .values(claimed_by=None, claimed_at=None)
        )
    survey.respondent_key = ""
    await close_session(survey, status, now)


async def record_response(
    session: AsyncSession,
    survey: SurveySession,
    *,
    respondent_type: str,
    answers: Mapping[str, str | None],
    completed_at: datetime,
    reporting_day: date,
    external_id: str | None = None,
) -> Response:
    """Turn a finished session into a response: only answers to visible items are kept."""
    await session.execute(
        delete(Answer).where(Answer.session_id == survey.id, Answer.item_code.not_in(list(answers)))
    )
    response = Response(
        session_id=survey.id,
        external_id=external_id,
        service_point_code=survey.service_point_code,
        respondent_type=respondent_type,
        channel=survey.channel,
        questionnaire_id=survey.questionnaire_id,
        questionnaire_version=survey.questionnaire_version,
        invitation_id=survey.invitation_id,
        respondent_key=survey.respondent_key if external_id is None else None,
        started_at=survey.started_at,
        completed_at=completed_at,
        reporting_day=reporting_day,
        duration_seconds=(completed_at - survey.started_at).total_seconds(),
        simulated=survey.simulated,
    )
    session.add(response)
    survey.completed_at = completed_at
    await close_session(survey, "completed", completed_at)
    if survey.invitation_id is not None:
        await session.execute(
            update(Invitation)
            .where(Invitation.id == survey.invitation_id)
            .values(completed_at=completed_at)
        )
    await mark_dirty(session, reporting_day, completed_at)
    return response


async def withdraw_respondent(session: AsyncSession, respondent_key: str, now: datetime) -> int:
    """Delete every session, answer and response of a respondent; the number of surveys deleted.

    The days their responses counted on are marked dirty, so the next aggregation
    drops them from every figure; invitations they used stay spent but forget who.
    """
    days = (
        (
            await session.execute(
                select(Response.reporting_day)
                .where(Response.respondent_key == respondent_key)
                .distinct()
            )
        )
        .scalars()
        .all()
    )
    sessions = (
        (
            await session.execute(
                select(SurveySession.id, SurveySession.status).where(
                    SurveySession.respondent_key == respondent_key
                )
            )
        )
        .tuples()
        .all()
    )
    ids = [session_id for session_id, _status in sessions]
    if not ids:
        return 0
    await session.execute(
        update(Invitation).where(Invitation.claimed_by == respondent_key).values(claimed_by=None)
    )
    await session.execute(delete(Response).where(Response.session_id.in_(ids)))
    await session.execute(delete(Answer).where(Answer.session_id.in_(ids)))
    await session.execute(delete(SurveySession).where(SurveySession.id.in_(ids)))
    for day in days:
        await mark_dirty(session, day, now)
    return sum(1 for _id, status in sessions if status == "completed") or len(ids)


async def expire_abandoned(session: AsyncSession, idle_before: datetime, now: datetime) -> int:
    """Expire open sessions idle since before `idle_before`: answers purged, address erased."""
    stale = (
        (
            await session.execute(
                select(SurveySession).where(
                    SurveySession.status.in_(OPEN_STATUSES),
                    SurveySession.last_activity_at < idle_before,
                )
            )
        )
        .scalars()
        .all()
    )
    for survey in stale:
        await discard_session(session, survey, "expired", now)
    return len(stale)
