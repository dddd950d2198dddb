"""API keys: shown once, stored as a hash, revocable, scoped to units and what lies below them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from storage.api_keys import (
    KEY_PREFIX,
    ApiKeyError,
    RateLimiter,
    create_api_key,
    hash_api_key,
    key_scope,
    list_api_keys,
    revoke_api_key,
    service_point_in_scope,
    verify_api_key,
)
from storage.db import Database
from storage.models import ApiKey, ServicePoint
from tests import hanoi
from tests.analytics.survey_rows import Survey
from tests.survey_driver import POINT, add_counters

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


async def test_a_key_is_shown_once_and_only_its_hash_is_stored(database: Database) -> None:
    async with database.transaction() as tx:
        created = await create_api_key(tx, name="mot-cua", unit_codes=[], now=NOW)
    assert created.key.startswith(KEY_PREFIX) and len(created.key) > 40
    async with database.reading() as tx:
        stored = (await tx.scalars(select(ApiKey))).one()
    assert stored.key_hash == hash_api_key(created.key)
    assert created.key not in str([stored.key_hash, stored.name, stored.unit_codes])


async def test_a_live_key_verifies_and_notes_its_use_a_revoked_or_wrong_one_does_not(
    database: Database,
) -> None:
    async with database.transaction() as tx:
        created = await create_api_key(tx, name="mot-cua", unit_codes=[], now=NOW)
    async with database.transaction() as tx:
        found = await verify_api_key(tx, created.key, NOW)
        assert found is not None and found.last_used_at == NOW
        assert await verify_api_key(tx, created.key + "x", NOW) is None
        assert await verify_api_key(tx, "Bearer " + created.key, NOW) is None
    async with database.transaction() as tx:
        await revoke_api_key(tx, "mot-cua", NOW)
    async with database.transaction() as tx:
        assert await verify_api_key(tx, created.key, NOW) is None
        assert [key.revoked_at for key in await list_api_keys(tx)] == [NOW]


async def test_names_are_unique_units_must_exist_and_revoking_an_unknown_key_says_so(
    database: Database,
) -> None:
    await add_counters(database)
    async with database.transaction() as tx:
        await create_api_key(tx, name="a", unit_codes=["00004"], now=NOW)
    with pytest.raises(ApiKeyError, match="exists already"):
        async with database.transaction() as tx:
            await create_api_key(tx, name="a", unit_codes=[], now=NOW)
    with pytest.raises(ApiKeyError, match="unknown unit or agency code"):
        async with database.transaction() as tx:
            await create_api_key(tx, name="b", unit_codes=["99999"], now=NOW)
    with pytest.raises(ApiKeyError, match="no key named"):
        async with database.transaction() as tx:
            await revoke_api_key(tx, "nobody", NOW)


async def test_a_unit_scope_includes_everything_below_it(database: Database) -> None:
    await add_counters(database)  # Hà Nội (01) > Ba Đình (00004) > counters
    async with database.transaction() as tx:
        await hanoi.add_ward(tx, "00008", counters=["HN-00008-01"])
        city = (await create_api_key(tx, name="city", unit_codes=["01"], now=NOW)).api_key
        ward = (await create_api_key(tx, name="ward", unit_codes=["00008"], now=NOW)).api_key
        everything = (await create_api_key(tx, name="all", unit_codes=[], now=NOW)).api_key
    async with database.reading() as tx:
        ba_dinh = await tx.get(ServicePoint, POINT)
        assert ba_dinh is not None
        assert (await key_scope(tx, city)).units == {"01", "00004", "00008"}
        assert (await key_scope(tx, everything)).everything
        assert await service_point_in_scope(tx, city, ba_dinh)
        assert await service_point_in_scope(tx, everything, ba_dinh)
        assert not await service_point_in_scope(tx, ward, ba_dinh)


async def test_an_agency_scope_covers_that_agencys_counters_only(database: Database) -> None:
    survey = Survey(database)
    await survey.units()  # the Sở Tư pháp (HN-STP) has counter STP-1; wards have W1-A…
    async with database.transaction() as tx:
        department = (
            await create_api_key(tx, name="mot-cua-stp", unit_codes=["HN-STP"], now=NOW)
        ).api_key
    async with database.reading() as tx:
        points = {code: await tx.get(ServicePoint, code) for code in ("STP-1", "W1-A")}
        allowed = {
            code: await service_point_in_scope(tx, department, point)
            for code, point in points.items()
            if point is not None
        }
    assert allowed == {"STP-1": True, "W1-A": False}


async def test_last_use_is_written_at_most_once_a_minute(database: Database) -> None:
    async with database.transaction() as tx:
        created = await create_api_key(tx, name="k", unit_codes=[], now=NOW)
    for seconds, expected in ((0, NOW), (30, NOW), (61, NOW + timedelta(seconds=61))):
        async with database.transaction() as tx:
            found = await verify_api_key(tx, created.key, NOW + timedelta(seconds=seconds))
            assert found is not None and found.last_used_at == expected


def test_the_rate_limiter_allows_a_burst_then_says_how_long_to_wait() -> None:
    limiter = RateLimiter(per_minute=3)
    assert [limiter.acquire(1, 100.0) for _ in range(3)] == [None, None, None]
    assert limiter.acquire(1, 100.0) == 20  # one request every 20 s refills
    assert limiter.acquire(2, 100.0) is None  # each key has its own bucket
    assert limiter.acquire(1, 110.0) == 10
    assert limiter.acquire(1, 120.0) is None


def test_a_burst_larger_than_the_rate_and_memory_for_recent_keys_only() -> None:
    limiter = RateLimiter(per_minute=0.5, burst=3)  # 30 an hour, 3 at once
    assert [limiter.acquire("a", 0.0) for _ in range(3)] == [None, None, None]
    assert limiter.acquire("a", 0.0) == 120
    # A new address every second for almost three hours: a bucket fills up again within
    # two minutes, and is forgotten, so what is kept stays bounded.
    kept = []
    for second in range(1, 10_000):
        assert limiter.acquire(("address", second), float(second)) is None
        kept.append(len(limiter))
    assert max(kept) < 2 * RateLimiter.FORGET_FROM
    assert limiter.acquire("a", 10_000.0) is None
