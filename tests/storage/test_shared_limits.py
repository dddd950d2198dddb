"""Shared limits: token buckets in the database that several worker processes take turns from."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from storage.db import Database
from storage.models import SharedLimit
from storage.shared_limits import FORGET_AFTER_SECONDS, SharedBuckets, SharedRateLimiter


@pytest.fixture
async def other_worker(database: Database) -> AsyncIterator[Database]:
    """The same database as another worker process sees it: its own engine and connections."""
    other = Database(database.url, schema=database.schema)
    try:
        yield other
    finally:
        await other.dispose()


async def test_two_workers_take_from_one_bucket_and_queue_once_it_is_empty(
    database: Database, other_worker: Database
) -> None:
    first, second = SharedBuckets(database), SharedBuckets(other_worker)
    limit = {"per_second": 30.0, "burst": 30.0}

    waits = [await worker.take("telegram", **limit, now=100.0) for worker in (first, second) * 15]
    assert waits == [0.0] * 30  # the burst, once for both
    # Empty: each next message has its turn a thirtieth of a second after the one before.
    assert await first.take("telegram", **limit, now=100.0) == pytest.approx(1 / 30)
    assert await second.take("telegram", **limit, now=100.0) == pytest.approx(2 / 30)
    # The promised turns are paid for as the bucket refills.
    assert await first.take("telegram", **limit, now=101.0) == 0.0
    assert await first.take("another", **limit, now=100.0) == 0.0  # a bucket of its own


async def test_a_bucket_whose_clock_went_back_starts_full(database: Database) -> None:
    buckets = SharedBuckets(database)
    for _ in range(3):
        await buckets.take("b", per_second=1.0, burst=2.0, now=5_000.0)

    # The machine restarted: its monotonic clock begins again near zero.
    assert await buckets.take("b", per_second=1.0, burst=2.0, now=3.0) == 0.0


async def test_buckets_untouched_for_a_day_are_forgotten(database: Database) -> None:
    buckets = SharedBuckets(database)
    await buckets.take("old", per_second=1.0, burst=1.0, now=0.0)
    await buckets.take("recent", per_second=1.0, burst=1.0, now=FORGET_AFTER_SECONDS)

    await buckets.forget_refilled(FORGET_AFTER_SECONDS + 1.0)

    async with database.reading() as session:
        names = (await session.scalars(select(SharedLimit.name))).all()
    assert names == ["recent"]


async def test_a_keys_rate_limit_is_one_for_all_the_workers(
    database: Database, other_worker: Database
) -> None:
    first = SharedRateLimiter(database, "api-key", per_minute=3)
    # On SQLite one process serves; on PostgreSQL, a second worker.
    second = first if database.is_sqlite else SharedRateLimiter(other_worker, "api-key", 3)

    assert [await limiter.acquire(1, 100.0) for limiter in (first, second, first)] == [None] * 3
    assert await second.acquire(1, 100.0) == 20  # one request every 20 s refills
    assert await second.acquire(2, 100.0) is None  # each key has its own bucket
    # A refused request took nothing: the wait shortens as the bucket refills.
    assert await first.acquire(1, 110.0) == 10
    assert await second.acquire(1, 120.0) is None
    assert await first.acquire(1, 120.0) == 20


async def test_on_sqlite_one_process_serves_and_keeps_its_limits_in_memory(
    database: Database,
) -> None:
    limiter = SharedRateLimiter(database, "web-start", per_minute=0.5, burst=3)

    assert [await limiter.acquire("a", 0.0) for _ in range(4)] == [None, None, None, 120]

    async with database.reading() as session:
        rows = (await session.execute(select(func.count()).select_from(SharedLimit))).scalar()
    assert rows == (0 if database.is_sqlite else 1)
