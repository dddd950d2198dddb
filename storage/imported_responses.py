"""Responses imported from files (paper, kiosks): stored as completed sessions, in batches, at once.

The rows arrive checked (`handlers.response_import` reads and checks the file); here
they become a session, its answers and its response each, in one transaction, a batch
at a time. A row whose external id was imported before is left alone, so importing a
file twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import Answer, Response, SurveySession
from storage.privacy import keyed_hash
from storage.procedures import Attribution
from storage.response_facts import IMPORT_CHANNEL, ScaleValues
from storage.sessions import record_response

__all__ = ["BATCH_SIZE", "AddedResponses", "ImportContext", "ImportedResponse", "add_imported"]

BATCH_SIZE = 500


@dataclass(frozen=True)
class ImportedResponse:
    """One valid row: what becomes a completed session, its answers and its response."""

    row: int
    external_id: str
    service_point_code: str
    completed_at: datetime
    respondent_type: str
    answers: dict[str, str | None]  # visible items only, in questionnaire order; None = skipped
    attribution: Attribution


@dataclass(frozen=True)
class ImportContext:
    """What every response of one import shares: its questionnaire and how it is counted."""

    questionnaire_id: str
    questionnaire_version: str
    language: str
    scale_values: ScaleValues
    secret: str  # keys the pseudonym of each response (on its external id)
    reporting_day: Callable[[datetime], date]


@dataclass(frozen=True)
class AddedResponses:
    """What an import stored: how many responses, and the reporting days they fell on."""

    count: int
    days: frozenset[date]


async def add_imported(
    database: Database,
    responses: Iterable[ImportedResponse],
    context: ImportContext,
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> AddedResponses:
    """Store the responses not imported before, in one transaction; with dry_run, roll it back.

    `progress` is told how many rows are done after each batch. An error raised while
    `responses` is read (the file changed since it was checked, say) rolls everything back.
    """
    added = 0
    days: set[date] = set()
    done = 0
    async with database.transaction(dry_run=dry_run) as tx:
        batch: list[ImportedResponse] = []
        for response in responses:
            batch.append(response)
            if len(batch) == BATCH_SIZE:
                count, batch_days = await _add_batch(tx, batch, context)
                added, days, done = added + count, days | batch_days, done + len(batch)
                batch = []
                if progress is not None:
                    progress(done)
        if batch:
            count, batch_days = await _add_batch(tx, batch, context)
            added, days, done = added + count, days | batch_days, done + len(batch)
        if progress is not None:
            progress(done)
    return AddedResponses(added, frozenset(days))


async def _add_batch(
    tx: AsyncSession, batch: Sequence[ImportedResponse], context: ImportContext
) -> tuple[int, set[date]]:
    """Insert the responses of a batch not imported before; (how many, their days)."""
    present = set(
        (
            await tx.scalars(
                select(Response.external_id).where(
                    Response.external_id.in_([response.external_id for response in batch])
                )
            )
        ).all()
    )
    fresh = [response for response in batch if response.external_id not in present]
    surveys = [
        SurveySession(
            # No chat, so no platform id: the pseudonym is keyed on the external id.
            respondent_key=keyed_hash(context.secret, IMPORT_CHANNEL, response.external_id),
            channel=IMPORT_CHANNEL,
            questionnaire_id=context.questionnaire_id,
            questionnaire_version=context.questionnaire_version,
            service_point_code=response.service_point_code,
            language=context.language,
            status="active",
            started_at=response.completed_at,
            last_activity_at=response.completed_at,
            version=1,
        )
        for response in fresh
    ]
    tx.add_all(surveys)
    await tx.flush()
    rows = [
        {
            "session_id": survey.id,
            "item_code": code,
            "value": value,
            "answered_at": response.completed_at,
        }
        for survey, response in zip(surveys, fresh, strict=True)
        for code, value in response.answers.items()
    ]
    if rows:
        await tx.execute(insert(Answer), rows)
    days: set[date] = set()
    for survey, response in zip(surveys, fresh, strict=True):
        day = context.reporting_day(response.completed_at)
        record = await record_response(
            tx,
            survey,
            respondent_type=response.respondent_type,
            answers=response.answers,
            completed_at=response.completed_at,
            reporting_day=day,
            scale_values=context.scale_values,
            external_id=response.external_id,
            attribution=response.attribution,
        )
        # Paper and kiosk exports carry no timing: a duration of 0 s would be a lie.
        record.started_at = None
        record.duration_seconds = None
        days.add(day)
    await tx.flush()
    return len(fresh), days
