"""The nightly schedule: next run time, catch-up on start, one run at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from analytics.aggregate import next_run_at, nightly_loop, previous_run_at, run_nightly
from storage.db import Database
from tests.analytics.survey_rows import SIPAS_LAYOUT, TYPICAL, Survey

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
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
        nightly_loop(
            database, aggregate_at=AT, zone=HCM, night=night, retry_after=timedelta(seconds=0.05)
        )
    )
    await asyncio.wait_for(succeeded.wait(), timeout=30)
    await asyncio.sleep(0.3)  # several retry periods: none, once one has succeeded
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert tries == ["failed", "succeeded"]
