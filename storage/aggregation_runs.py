"""The record of aggregation runs: one row per run, from its start to how it ended.

The latest successful run that covered every changed day tells when the counts were last
brought up to date (`data_as_of`, printed on every output); the nightly schedule reads it
to decide whether a night still has to run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select

from storage.counts import DayCount
from storage.db import Database
from storage.models import AggregationRun

# Runs that recount every day that changed: a run of chosen days (`sipas aggregate --date`)
# leaves others stale, so its end says nothing about the data as a whole.
_COMPLETE_MODES = ("dirty", "full")


async def start_run(
    database: Database, *, mode: str, holder: str, questionnaire_id: str, now: datetime
) -> int:
    """Record a run as running, in a transaction of its own; its id."""
    async with database.transaction() as session:
        run = AggregationRun(
            mode=mode,
            holder=holder,
            questionnaire_id=questionnaire_id,
            status="running",
            started_at=now,
            days=0,
            responses=0,
            flagged_responses=0,
        )
        session.add(run)
        await session.flush()
        return run.id


async def finish_run(
    database: Database,
    run_id: int,
    *,
    status: str,
    days: Sequence[DayCount],
    message: str | None,
    now: datetime,
) -> None:
    """Record how run `run_id` ended ("succeeded" or "failed", and why) and the days it counted."""
    async with database.transaction() as session:
        run = await session.get(AggregationRun, run_id)
        assert run is not None, "a run is recorded before it starts"
        run.status = status
        run.finished_at = now
        run.days = len(days)
        run.first_day = min((day.day for day in days), default=None)
        run.last_day = max((day.day for day in days), default=None)
        run.responses = sum(day.responses for day in days)
        run.flagged_responses = sum(day.flagged for day in days)
        run.message = message


async def last_success(database: Database) -> AggregationRun | None:
    """The most recent successful run (its finish time is the data's as-of time)."""
    async with database.reading() as session:
        run: AggregationRun | None = await session.scalar(
            select(AggregationRun)
            .where(AggregationRun.status == "succeeded")
            .order_by(AggregationRun.finished_at.desc(), AggregationRun.id.desc())
            .limit(1)
        )
    return run


async def data_as_of(database: Database) -> datetime | None:
    """When the counts were last brought up to date: the start of the latest successful run
    that covered every changed day (a dirty-days or full run, not one of chosen days)."""
    async with database.reading() as session:
        started: datetime | None = await session.scalar(
            select(func.max(AggregationRun.started_at)).where(
                AggregationRun.status == "succeeded", AggregationRun.mode.in_(_COMPLETE_MODES)
            )
        )
    return started
