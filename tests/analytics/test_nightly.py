"""The nightly schedule: next run time, catch-up on start, one run at a time."""

from __future__ import annotations

import asyncio
import importlib
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from analytics.aggregate import next_run_at, nightly_loop, previous_run_at, run_nightly
from storage.db import Database
from storage.models import AggregationRun, Lease
from tests.analytics.survey_rows import SIPAS_LAYOUT, TYPICAL, Survey

# The module, not the `aggregate` function the package re-exports under the same name.
job = importlib.import_module("analytics.aggregate")
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
RETRY = timedelta(seconds=0.05)
AT = time(1, 30)


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
    finished = asyncio.Event()

    async def night() -> None:
        runs.append("run")
        await run_nightly(database, layout=SIPAS_LAYOUT, holder="night")
        finished.set()

    task = asyncio.create_task(nightly_loop(database, aggregate_at=AT, zone=HCM, night=night))
    await asyncio.wait_for(finished.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runs == ["run"]  # nothing had run since the last 01:30: caught up at once
    task = asyncio.create_task(nightly_loop(database, aggregate_at=AT, zone=HCM, night=night))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runs == ["run"]  # a run already happened since the last scheduled time


async def test_a_failed_night_is_logged_and_the_loop_goes_on(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    failed = asyncio.Event()

    async def night() -> None:
        failed.set()
        raise OSError("disk full")

    task = asyncio.create_task(nightly_loop(database, aggregate_at=AT, zone=HCM, night=night))
    await asyncio.wait_for(failed.wait(), timeout=30)
    await asyncio.sleep(0)  # the loop logs it, then sleeps until it tries again
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "nightly aggregation failed" in caplog.text and "disk full" in caplog.text


async def test_a_night_that_did_not_succeed_is_tried_again_until_one_does(
    database: Database, survey: Survey
) -> None:
    await survey.many(2, TYPICAL)
    tries: list[str] = []
    succeeded = asyncio.Event()

    async def night() -> None:
        if not tries:
            tries.append("failed")
            raise OSError("disk full")
        tries.append("succeeded")
        await run_nightly(database, layout=SIPAS_LAYOUT, holder="night")
        succeeded.set()

    task = asyncio.create_task(
        nightly_loop(database, aggregate_at=AT, zone=HCM, night=night, retry_after=RETRY)
    )
    await asyncio.wait_for(succeeded.wait(), timeout=30)
    await asyncio.sleep(0.3)  # several retry periods: none, once one has succeeded
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tries == ["failed", "succeeded"]


async def test_a_night_whose_files_failed_is_tried_again_though_its_counts_are_up_to_date(
    database: Database, survey: Survey
) -> None:
    await survey.many(2, TYPICAL)
    nights: list[str] = []
    done = asyncio.Event()

    async def night() -> None:
        await run_nightly(database, layout=SIPAS_LAYOUT, holder="night")
        if not nights:
            nights.append("counted, files failed")
            raise OSError("disk full")
        nights.append("counted, files written")
        done.set()

    task = asyncio.create_task(
        nightly_loop(database, aggregate_at=AT, zone=HCM, night=night, retry_after=RETRY)
    )
    await asyncio.wait_for(done.wait(), timeout=30)
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert nights == ["counted, files failed", "counted, files written"]


async def test_the_loop_outlives_a_database_it_cannot_read_at_night(
    database: Database, survey: Survey, monkeypatch: pytest.MonkeyPatch
) -> None:
    await survey.many(2, TYPICAL)
    read = job.data_as_of
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

    task = asyncio.create_task(
        nightly_loop(database, aggregate_at=AT, zone=HCM, night=night, retry_after=RETRY)
    )
    for _ in range(300):
        if not refusals and len(nights) == 2:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    assert not task.done()  # still scheduling
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert nights == ["ran", "ran"]  # until it could see the first had counted everything


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
