"""The database lease: one aggregation at a time, across processes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from analytics.aggregate import AGGREGATION_LEASE, LeaseBusy, aggregate
from storage.db import Database
from storage.leases import acquire_lease, release_lease
from tests.analytics.survey_rows import SIPAS_LAYOUT, TYPICAL, Survey

HOUR = timedelta(hours=1)


async def test_a_lease_has_one_holder_until_it_expires_or_is_released(database: Database) -> None:
    now = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)
    assert await acquire_lease(database, "job", "a", HOUR, now=now)
    assert not await acquire_lease(database, "job", "b", HOUR, now=now + timedelta(minutes=59))
    assert await acquire_lease(database, "job", "a", HOUR, now=now + timedelta(minutes=30))  # renew
    assert await acquire_lease(database, "job", "b", HOUR, now=now + 2 * HOUR)  # a is gone
    await release_lease(database, "job", "a")  # not a's any more: nothing happens
    assert not await acquire_lease(database, "job", "a", HOUR, now=now + 2 * HOUR)
    await release_lease(database, "job", "b")
    assert await acquire_lease(database, "job", "a", HOUR, now=now + 2 * HOUR)


async def test_racing_holders_get_one_lease(database: Database) -> None:
    results = await asyncio.gather(
        *(acquire_lease(database, "race", f"holder-{n}", HOUR) for n in range(8))
    )
    assert sorted(results) == [False] * 7 + [True]


async def test_two_concurrent_runs_one_runs(database: Database, survey: Survey) -> None:
    await survey.many(3, TYPICAL)
    outcomes = await asyncio.gather(
        aggregate(database, SIPAS_LAYOUT, full=True, holder="one"),
        aggregate(database, SIPAS_LAYOUT, full=True, holder="two"),
        return_exceptions=True,
    )
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["LeaseBusy", "RunResult"]


async def test_a_run_refuses_while_another_process_holds_the_lease(database: Database) -> None:
    assert await acquire_lease(database, AGGREGATION_LEASE, "other-host:42", HOUR)
    with pytest.raises(LeaseBusy, match="another aggregation is running"):
        await aggregate(database, SIPAS_LAYOUT, holder="me")
