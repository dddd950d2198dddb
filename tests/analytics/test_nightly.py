"""The nightly schedule: next run time, catch-up on start, one run at a time."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from analytics.aggregate import (
    NIGHT_RETRY,
    next_run_at,
    nightly_loop,
    previous_run_at,
    run_nightly,
)
from storage.aggregation_runs import data_as_of
from storage.db import Database
from storage.models import AggregationRun, Lease
from tests.analytics.survey_rows import SIPAS_LAYOUT, TYPICAL, Survey

# The module, not the `aggregate` function the package re-exports under the same name.
job = importlib.import_module("analytics.aggregate")
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
RETRY = timedelta(seconds=0.05)
AT = time(1, 30)
# The loop's clock stops at noon, Hà Nội time: the next night, at 01:30, is 13½ hours away.
UNTIL_THE_NEXT_NIGHT = timedelta(hours=13, minutes=30).total_seconds()


def at_the_last_local_noon() -> Callable[[], datetime]:
    """A clock stopped at the last noon in Hà Nội, so that the runs a test makes start after
    that day's scheduled time (as if the night had been missed) and the next night is far off."""
    now = datetime.now(HCM)
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon > now:
        noon -= timedelta(days=1)
    return lambda: noon


@dataclass
class Waits:
    """The loop's sleep: records each wait it chooses; a short one (a test's retry) passes, a
    longer one (until the next night, or a real retry) sets `held` and lasts until the test
    cancels the loop, which is then where the loop decided to stay."""

    seconds: list[float] = field(default_factory=list)
    held: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        if seconds <= RETRY.total_seconds():
            await asyncio.sleep(seconds)
            return
        self.held.set()
        await asyncio.Event().wait()


async def loop_until_it_waits(
    database: Database, night: Callable[[], Awaitable[object]], **options: timedelta
) -> Waits:
    """Run the nightly loop until it settles into a long wait; stop it there."""
    waits = Waits()
    task = asyncio.create_task(
        nightly_loop(
            database,
            aggregate_at=AT,
            zone=HCM,
            night=night,
            clock=at_the_last_local_noon(),
            sleep=waits,
            **options,
        )
    )
    held = asyncio.create_task(waits.held.wait())
    await asyncio.wait([task, held], timeout=30, return_when=asyncio.FIRST_COMPLETED)
    assert not task.done(), "the loop ended"  # it raised, or returned: it must go on
    assert held.done(), f"the loop never settled into a long wait: {waits.seconds}"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return waits


def test_next_and_previous_run_times_are_local() -> None:
    # 18:00 UTC on the 27th is 01:00 on the 28th in Hà Nội: the next run is 01:30 local.
    now = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    assert next_run_at(now, AT, HCM) == datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
    assert previous_run_at(now, AT, HCM) == datetime(2026, 11, 26, 18, 30, tzinfo=UTC)
    exactly = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
    assert next_run_at(exactly, AT, HCM) == datetime(2026, 11, 28, 18, 30, tzinfo=UTC)


async def test_run_nightly_counts_dirty_days(database: Database, survey: Survey) -> None:
    await survey.many(2, TYPICAL)
    result = await run_nightly(database, layout=SIPAS_LAYOUT, holder="night")
    assert result is not None and result.responses == 2


async def test_the_loop_catches_up_on_start_then_waits(database: Database, survey: Survey) -> None:
    await survey.many(2, TYPICAL)
    runs: list[str] = []

    async def night() -> None:
        runs.append("run")
        await run_nightly(database, layout=SIPAS_LAYOUT, holder="night")

    waits = await loop_until_it_waits(database, night)
    assert runs == ["run"]  # nothing had run since the last 01:30: caught up at once
    assert waits.seconds == [UNTIL_THE_NEXT_NIGHT]
    waits = await loop_until_it_waits(database, night)
    assert runs == ["run"]  # a run already happened since the last scheduled time
    assert waits.seconds == [UNTIL_THE_NEXT_NIGHT]


async def test_a_failed_night_is_logged_and_the_loop_goes_on(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    async def night() -> None:
        raise OSError("disk full")

    waits = await loop_until_it_waits(database, night)
    assert waits.seconds == [NIGHT_RETRY.total_seconds()]  # to try again, not the next night
    assert "nightly aggregation failed" in caplog.text and "disk full" in caplog.text


async def test_a_night_that_did_not_succeed_is_tried_again_until_one_does(
    database: Database, survey: Survey
) -> None:
    await survey.many(2, TYPICAL)
    tries: list[str] = []

    async def night() -> None:
        if not tries:
            tries.append("failed")
            raise OSError("disk full")
        tries.append("succeeded")
        await run_nightly(database, layout=SIPAS_LAYOUT, holder="night")

    waits = await loop_until_it_waits(database, night, retry_after=RETRY)
    assert tries == ["failed", "succeeded"]  # then none, once one has succeeded
    assert waits.seconds == [RETRY.total_seconds(), UNTIL_THE_NEXT_NIGHT]


async def test_a_night_whose_files_failed_is_tried_again_though_its_counts_are_up_to_date(
    database: Database, survey: Survey
) -> None:
    await survey.many(2, TYPICAL)
    nights: list[str] = []

    async def night() -> None:
        await run_nightly(database, layout=SIPAS_LAYOUT, holder="night")
        if not nights:
            nights.append("counted, files failed")
            raise OSError("disk full")
        nights.append("counted, files written")

    waits = await loop_until_it_waits(database, night, retry_after=RETRY)
    assert nights == ["counted, files failed", "counted, files written"]
    assert waits.seconds == [RETRY.total_seconds(), UNTIL_THE_NEXT_NIGHT]


async def test_the_loop_outlives_a_database_it_cannot_read_at_night(
    database: Database, survey: Survey, monkeypatch: pytest.MonkeyPatch
) -> None:
    await survey.many(2, TYPICAL)
    read = data_as_of
    refusals = [OSError("connection refused")] * 3

    async def down_at_first(database: Database) -> datetime | None:
        if refusals:
            raise refusals.pop()
        return await read(database)

    monkeypatch.setattr(job, "data_as_of", down_at_first)
    nights: list[str] = []

    async def night() -> None:
        await run_nightly(database, layout=SIPAS_LAYOUT, holder="night")
        nights.append("ran")

    waits = await loop_until_it_waits(database, night, retry_after=RETRY)
    assert not refusals
    assert nights == ["ran", "ran"]  # until it could see the first had counted everything
    assert waits.seconds == [RETRY.total_seconds(), UNTIL_THE_NEXT_NIGHT]


async def test_a_run_stopped_midway_is_recorded_as_stopped_and_frees_the_lease(
    database: Database, survey: Survey
) -> None:
    await survey.many(2, TYPICAL)

    def stop_once_the_days_are_known(total: int, counted: object) -> None:
        if counted is None:
            run.cancel()

    run = asyncio.create_task(
        job.aggregate(database, SIPAS_LAYOUT, progress=stop_once_the_days_are_known)
    )
    with pytest.raises(asyncio.CancelledError):
        await run

    async with database.reading() as session:
        record = (await session.scalars(select(AggregationRun))).one()
        assert await session.scalar(select(func.count()).select_from(Lease)) == 0
    assert (record.status, record.message) == ("failed", "stopped before its end")
