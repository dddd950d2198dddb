"""Repository of survey state: processed events, sessions, answers, responses and withdrawals."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Text,
    TextClause,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.inspection import inspect
from sqlalchemy.sql.functions import FunctionElement

from storage.db import Database, Transaction
from storage.models import (
    Answer,
    DirtyDay,
    Invitation,
    ProcessedEvent,
    Response,
    RoundInvitation,
    ServicePoint,
    SurveySession,
)
from storage.procedures import Attribution, counter_authority
from storage.response_facts import IMPORT_CHANNEL, ScaleValues, response_facts

OPEN_STATUSES = ("consent", "active")


def _upsert(
    table: Table,
    columns: Sequence[str],
    *,
    conflict: Sequence[str] = (),
    refresh: Sequence[str] = (),
) -> TextClause:
    """INSERT of `columns` that does nothing, or sets `refresh` anew, when `conflict` already exists.

    Written as SQL text, which SQLite and PostgreSQL read alike, rather than with the
    dialects' `insert().on_conflict_*()`: SQLAlchemy 2.0 cannot cache those, so every
    execution compiled its statement again, and these run on every event. The bound
    parameters keep the columns' types (UTC timestamps stay normalised).
    """
    action = (
        f"({', '.join(conflict)}) DO UPDATE SET "
        + ", ".join(f"{name} = excluded.{name}" for name in refresh)
        if refresh
        else "DO NOTHING"
    )
    # Identifiers only, from the mapped tables (never from input): nothing to inject.
    statement = text(
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(':' + name for name in columns)}) ON CONFLICT {action}"
    )
    return statement.bindparams(*(bindparam(name, type_=table.c[name].type) for name in columns))


_RECORD_EVENT = _upsert(
    cast(Table, ProcessedEvent.__table__), ("channel", "event_id", "processed_at")
)
# PostgreSQL's: the event recorded and, when it is new, its respondent locked, in one round
# trip (the lock is taken once per row the INSERT returns: none for a redelivery).
_RECORD_EVENT_AND_LOCK = text(
    "WITH recorded AS (INSERT INTO processed_events (channel, event_id, processed_at) "
    "VALUES (:channel, :event_id, :processed_at) ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT pg_advisory_xact_lock(hashtextextended(:respondent_key, 0)) FROM recorded"
).bindparams(
    *(
        bindparam(name, type_=ProcessedEvent.__table__.c[name].type)
        for name in ("channel", "event_id", "processed_at")
    )
)
_SAVE_ANSWER = _upsert(
    cast(Table, Answer.__table__),
    ("session_id", "item_code", "value", "answered_at"),
    conflict=("session_id", "item_code"),
    refresh=("value", "answered_at"),
)
_MARK_DIRTY = _upsert(
    cast(Table, DirtyDay.__table__), ("day", "marked_at"), conflict=("day",), refresh=("marked_at",)
)

_SESSIONS = cast(Table, SurveySession.__table__)
_SESSION_MAPPER = inspect(SurveySession)
_ANSWERS = cast(Table, Answer.__table__)

# What an event may change on an open session; `save_session` writes these back.
_SESSION_CHANGES = (
    "respondent_key",
    "language",
    "status",
    "current_item",
    "last_activity_at",
    "completed_at",
    "address_ciphertext",
    "version",
    "consent_at",
    "notice_version",
    "result_follow_up_agreed",
)
_SAVE_SESSION = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("session_id"), _SESSIONS.c.version == bindparam("read"))
    .values({name: bindparam(name) for name in _SESSION_CHANGES})
)


class SessionChanged(Exception):
    """The session changed in the database since this event read it (maintenance expired it
    meanwhile, say): the event's transaction must roll back, and the respondent retry."""


class _AnswersObject(FunctionElement[str]):
    """A JSON object of item code to value, aggregated over the answer rows: text, or NULL
    over no rows on PostgreSQL."""

    type = Text()
    inherit_cache = True


@compiles(_AnswersObject, "sqlite")
def _answers_object_sqlite(element: _AnswersObject, compiler: Any, **kw: Any) -> str:
    return f"json_group_object({compiler.process(element.clauses, **kw)})"


@compiles(_AnswersObject, "postgresql")
def _answers_object_postgresql(element: _AnswersObject, compiler: Any, **kw: Any) -> str:
    return f"json_object_agg({compiler.process(element.clauses, **kw)})::text"


def _newest_open_session(statement: Select[Any]) -> Select[Any]:
    """`statement` narrowed to the open (consent or active) session of the respondent bound as
    `respondent_key`, the newest if there were ever more than one."""
    return (
        statement.where(
            _SESSIONS.c.respondent_key == bindparam("respondent_key"),
            # Each status its own plain parameter: a list would be an "expanding" one, which
            # SQLAlchemy rewrites into the SQL text again at every execution.
            _SESSIONS.c.status.in_([literal(status) for status in OPEN_STATUSES]),
        )
        .order_by(_SESSIONS.c.id.desc())
        .limit(1)
    )


# The open session and its answers in one round trip and one row: the answers come as one
# JSON object. (One row per answer, the session's columns repeated, made every event parse
# five timestamps a dozen times over.)
_OPEN_SESSION_WITH_ANSWERS = _newest_open_session(
    select(
        _SESSIONS,
        select(_AnswersObject(_ANSWERS.c.item_code, _ANSWERS.c.value))
        .where(_ANSWERS.c.session_id == _SESSIONS.c.id)
        .scalar_subquery(),
    )
)
_OPEN_SESSION = _newest_open_session(select(SurveySession))


async def record_event(
    session: Transaction, channel: str, event_id: str, now: datetime, respondent_key: str
) -> bool:
    """Record a platform event as processed and serialise the respondent's events until the
    transaction ends (`lock_respondent`); False when it already was processed (a redelivery),
    and then nothing is locked. On PostgreSQL one statement does both, as every event does
    both: a round trip less on every event."""
    if _is_postgresql(session):
        found = await session.execute(
            _RECORD_EVENT_AND_LOCK,
            {
                "channel": channel,
                "event_id": event_id,
                "processed_at": now,
                "respondent_key": respondent_key,
            },
        )
        return found.first() is not None
    result = cast(
        CursorResult[Any],
        await session.execute(
            _RECORD_EVENT,
            {"channel": channel, "event_id": event_id, "processed_at": now},
        ),
    )
    return bool(result.rowcount)


# How long a processed event's id is remembered. Platforms redeliver an event for hours at
# most (Telegram keeps an undelivered update 24 h); a week is well past that, and without a
# limit the table would grow by every tap forever.
EVENT_MEMORY = timedelta(days=7)
_FORGET_BATCH = 5_000


async def forget_processed_events(database: Database, before: datetime) -> int:
    """Delete the ids of events processed before `before`; how many went.

    In batches, each its own short transaction, so the first purge after a long time does
    not hold SQLite's write lock for long.
    """
    forgotten = 0
    old = (
        select(ProcessedEvent.channel, ProcessedEvent.event_id)
        .where(ProcessedEvent.processed_at < before)
        .limit(_FORGET_BATCH)
    )
    while True:
        async with database.transaction() as session:
            result = cast(
                CursorResult[Any],
                await session.execute(
                    delete(ProcessedEvent).where(
                        tuple_(ProcessedEvent.channel, ProcessedEvent.event_id).in_(old)
                    )
                ),
            )
        forgotten += result.rowcount
        if result.rowcount < _FORGET_BATCH:
            return forgotten


async def lock_respondent(session: Transaction, respondent_key: str) -> None:
    """Serialise the events of one respondent until the transaction ends.

    On PostgreSQL a transaction-scoped advisory lock on the key; SQLite's BEGIN
    IMMEDIATE already serialises every writer.
    """
    if _is_postgresql(session):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": respondent_key}
        )


def _is_postgresql(session: Transaction) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def find_open_session(session: Transaction, respondent_key: str) -> SurveySession | None:
    """The respondent's open (consent or active) session, in the ORM's unit of work."""
    result = await session.execute(_OPEN_SESSION, {"respondent_key": respondent_key})
    return result.scalar_one_or_none()


async def load_open_session(
    session: Transaction, respondent_key: str
) -> tuple[SurveySession | None, dict[str, str | None]]:
    """The respondent's open session (as `find_open_session`) and its answers, in one query.

    The session comes outside the ORM's unit of work, read and written by Core
    statements: what an event changes on it is written back by `save_session`, one
    UPDATE. On a path every tap takes, the ORM's loading and flush cost more than the
    statements themselves.
    """
    row = (
        await session.execute(_OPEN_SESSION_WITH_ANSWERS, {"respondent_key": respondent_key})
    ).first()
    if row is None:
        return None, {}
    *columns, answers = row
    # The row's values put in place as SQLAlchemy loads a row: set one by one through the
    # constructor, each would fire the attribute events.
    survey = _SESSION_MAPPER.class_manager.new_instance()
    vars(survey).update(zip(_SESSIONS.columns.keys(), columns, strict=True))
    return survey, json.loads(answers) if answers else {}


async def save_session(session: Transaction, survey: SurveySession, read: int) -> None:
    """Write back what an event changed on a session `load_open_session` returned at version
    `read`; SessionChanged if the row is no longer at that version.

    Until then the row in the database is the one read: write back before anything in the
    same transaction must see the change.
    """
    result = cast(
        CursorResult[Any],
        await session.execute(
            _SAVE_SESSION,
            {
                "session_id": survey.id,
                "read": read,
                **{name: getattr(survey, name) for name in _SESSION_CHANGES},
            },
        ),
    )
    if result.rowcount != 1:
        raise SessionChanged(f"survey session {survey.id} changed since version {read}")


async def add_session(session: Transaction, survey: SurveySession) -> None:
    """Store a new session; its id is set on return."""
    session.add(survey)
    await session.flush()


async def load_answers(session: Transaction, session_id: int) -> dict[str, str | None]:
    rows = await session.execute(
        select(Answer.item_code, Answer.value).where(Answer.session_id == session_id)
    )
    return {code: value for code, value in rows.tuples()}


async def save_answer(
    session: Transaction, session_id: int, item_code: str, value: str | None, now: datetime
) -> None:
    """Insert or replace the answer to one item."""
    await session.execute(
        _SAVE_ANSWER,
        {"session_id": session_id, "item_code": item_code, "value": value, "answered_at": now},
    )


async def delete_answers(session: Transaction, session_id: int, item_codes: list[str]) -> None:
    if item_codes:
        await session.execute(
            delete(Answer).where(Answer.session_id == session_id, Answer.item_code.in_(item_codes))
        )


async def mark_dirty(session: Transaction, day: date, now: datetime) -> None:
    """Tell the nightly aggregation that this reporting day changed."""
    await session.execute(_MARK_DIRTY, {"day": day, "marked_at": now})


async def answered_today(
    session: Transaction, respondent_key: str, service_point_code: str, day: date
) -> bool:
    """Whether this respondent already completed a survey at this counter on this day."""
    statement = select(func.count(Response.id)).where(
        Response.respondent_key == respondent_key,
        Response.service_point_code == service_point_code,
        Response.reporting_day == day,
    )
    return bool((await session.execute(statement)).scalar_one())


async def completed_since(session: Transaction, respondent_key: str, since: datetime) -> bool:
    """Whether this respondent completed a survey at `since` or later."""
    statement = (
        select(Response.id)
        .where(Response.respondent_key == respondent_key, Response.completed_at >= since)
        .limit(1)
    )
    return (await session.execute(statement)).first() is not None


async def close_session(survey: SurveySession, status: str, now: datetime) -> None:
    """End a session: the chat address is erased with it, whatever the outcome."""
    survey.status = status
    survey.current_item = None
    survey.address_ciphertext = None
    survey.last_activity_at = now
    survey.version += 1


async def discard_session(
    session: Transaction, survey: SurveySession, status: str, now: datetime
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


async def _attribution_of(session: Transaction, survey: SurveySession) -> Attribution:
    """What a survey rates when it completes: its invitation's attribution, else the counter's
    authority."""
    if survey.invitation_id is not None:
        row = (
            await session.execute(
                select(
                    Invitation.procedure_code, Invitation.authority_code, Invitation.submitted_via
                ).where(Invitation.id == survey.invitation_id)
            )
        ).one_or_none()
        if row is not None and row.authority_code is not None:
            return Attribution(row.procedure_code, row.authority_code, row.submitted_via)
    point = await session.get(ServicePoint, survey.service_point_code)
    return Attribution(None, counter_authority(point) if point is not None else None)


async def record_response(
    session: Transaction,
    survey: SurveySession,
    *,
    respondent_type: str,
    answers: Mapping[str, str | None],
    completed_at: datetime,
    reporting_day: date,
    scale_values: ScaleValues,
    external_id: str | None = None,
    attribution: Attribution | None = None,
) -> Response:
    """Turn a finished session into a response: only answers to visible items are kept, and
    the facts its quality flags will be judged on are recorded with it.

    What it rates is `attribution` (an import's), else its invitation's, else its counter's
    authority (`storage.procedures`)."""
    await session.execute(
        delete(Answer).where(Answer.session_id == survey.id, Answer.item_code.not_in(list(answers)))
    )
    answered_at = None
    if survey.channel != IMPORT_CHANNEL:
        answered_at = (
            await session.scalars(select(Answer.answered_at).where(Answer.session_id == survey.id))
        ).all()
    facts = response_facts(scale_values, answers, answered_at)
    assert survey.service_point_code is not None, "a round's session is recorded by its round"
    about = attribution or await _attribution_of(session, survey)
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
        scale_answers=facts.scale_answers,
        uniform_value=facts.uniform_value,
        median_gap_seconds=facts.median_gap_seconds,
        consent_at=survey.consent_at,
        notice_version=survey.notice_version,
        procedure_code=about.procedure_code,
        authority_code=about.authority_code,
        submitted_via=about.submitted_via,
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


async def withdraw_respondent(session: Transaction, respondent_key: str, now: datetime) -> int:
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
    await session.execute(
        update(RoundInvitation)
        .where(RoundInvitation.claimed_by == respondent_key)
        .values(claimed_by=None)
    )
    await session.execute(delete(Response).where(Response.session_id.in_(ids)))
    await session.execute(delete(Answer).where(Answer.session_id.in_(ids)))
    await session.execute(delete(SurveySession).where(SurveySession.id.in_(ids)))
    for day in days:
        await mark_dirty(session, day, now)
    return sum(1 for _id, status in sessions if status == "completed") or len(ids)


async def sessions_to_remind(
    session: Transaction, idle_since: datetime, resumable_after: datetime, now: datetime
) -> list[SurveySession]:
    """Active sessions owed their one reminder: they keep the chat address, were never reminded,
    and were last active at or before `idle_since` but after `resumable_after` (so they can
    still be resumed). Each is marked as reminded at `now`, in the caller's transaction."""
    due = (
        (
            await session.execute(
                select(SurveySession).where(
                    SurveySession.status == "active",
                    SurveySession.address_ciphertext.is_not(None),
                    SurveySession.reminder_sent_at.is_(None),
                    SurveySession.last_activity_at <= idle_since,
                    SurveySession.last_activity_at > resumable_after,
                )
            )
        )
        .scalars()
        .all()
    )
    for survey in due:
        survey.reminder_sent_at = now
    return list(due)


async def count_open_sessions(session: Transaction) -> int:
    """How many sessions are open now (consent or active), anyone's."""
    count: int = (
        await session.execute(
            select(func.count())
            .select_from(SurveySession)
            .where(SurveySession.status.in_(OPEN_STATUSES))
        )
    ).scalar_one()
    return count


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


# Responses whose answers are read per query when facts are filled in: bounds the IN list
# (SQLite allows 32,766 parameters) and the answers held in memory at once.
_FACTS_BATCH = 2_000


def _without_facts(day: date, questionnaire_id: str) -> ColumnElement[bool]:
    return and_(
        Response.reporting_day == day,
        Response.questionnaire_id == questionnaire_id,
        Response.scale_answers.is_(None),
    )


async def facts_missing(session: Transaction, day: date, questionnaire_id: str) -> bool:
    """Whether any response of the day has no quality facts (`record_missing_facts`): a look
    into an index that holds only those, so none to find costs nothing."""
    found = await session.scalar(select(exists().where(_without_facts(day, questionnaire_id))))
    return bool(found)


async def record_missing_facts(
    session: Transaction, day: date, questionnaire_id: str, scale_values: ScaleValues
) -> int:
    """Record the quality facts of a day's responses that have none (responses stored before
    facts were recorded at completion); how many were filled in."""
    missing = (
        await session.execute(
            select(Response.id, Response.session_id, Response.channel).where(
                _without_facts(day, questionnaire_id)
            )
        )
    ).all()
    for start in range(0, len(missing), _FACTS_BATCH):
        batch = missing[start : start + _FACTS_BATCH]
        answers: dict[int, dict[str, str | None]] = {}
        times: dict[int, list[datetime]] = {}
        rows = await session.execute(
            select(Answer.session_id, Answer.item_code, Answer.value, Answer.answered_at).where(
                Answer.session_id.in_([row.session_id for row in batch])
            )
        )
        for session_id, item_code, value, answered_at in rows:
            answers.setdefault(session_id, {})[item_code] = value
            times.setdefault(session_id, []).append(answered_at)
        facts = {
            row.id: response_facts(
                scale_values,
                answers.get(row.session_id, {}),
                None if row.channel == IMPORT_CHANNEL else times.get(row.session_id, []),
            )
            for row in batch
        }
        await session.execute(
            update(Response),
            [
                {
                    "id": response_id,
                    "scale_answers": fact.scale_answers,
                    "uniform_value": fact.uniform_value,
                    "median_gap_seconds": fact.median_gap_seconds,
                }
                for response_id, fact in facts.items()
            ],
        )
    return len(missing)
