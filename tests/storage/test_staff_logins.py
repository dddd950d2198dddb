"""Dashboard login state in the database: attempts counted within the window, ended sessions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from storage.db import Database
from storage.models import EndedStaffSession, StaffLoginFailure
from storage.staff_logins import (
    LoginAttempt,
    begin_login_attempt,
    end_staff_session,
    login_succeeded,
    staff_session_ended,
)
from tests.conftest import TEST_SECRET

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
GUESSER = ("client:203.0.113.7", "name:lan")


async def attempt(
    database: Database, at: datetime, subjects: tuple[str, ...] = GUESSER
) -> LoginAttempt:
    async with database.transaction() as session:
        return await begin_login_attempt(
            session, TEST_SECRET, subjects, attempts=3, window=WINDOW, now=at
        )


async def test_after_enough_failures_a_login_waits_until_the_oldest_leaves_the_window(
    database: Database,
) -> None:
    for minute in range(3):  # three attempts, none of them taken back by a success
        assert (await attempt(database, NOW + timedelta(minutes=minute))).wait == timedelta(0)

    refused = await attempt(database, NOW + timedelta(minutes=5))

    assert refused.wait == timedelta(minutes=10) and refused.failure_ids == ()
    # Against either subject: another name from the same address, the same name from elsewhere.
    assert (
        await attempt(database, NOW + timedelta(minutes=5), ("client:203.0.113.7", "name:x"))
    ).wait
    assert (
        await attempt(database, NOW + timedelta(minutes=5), ("client:198.51.100.2", "name:lan"))
    ).wait
    later = await attempt(database, NOW + timedelta(minutes=15, seconds=1))
    assert later.wait == timedelta(0)  # refused attempts did not count


async def test_guesses_sent_at_once_are_counted_one_by_one(database: Database) -> None:
    async def guess() -> LoginAttempt:
        return await attempt(database, NOW)

    outcomes = await asyncio.gather(*(guess() for _ in range(8)))

    assert sum(outcome.wait == timedelta(0) for outcome in outcomes) == 3


async def test_a_successful_login_clears_its_names_failures_not_its_addresss(
    database: Database,
) -> None:
    await attempt(database, NOW)
    await attempt(database, NOW + timedelta(minutes=1))
    right = await attempt(database, NOW + timedelta(minutes=2))
    async with database.transaction() as session:
        await login_succeeded(session, TEST_SECRET, right, "name:lan")

    later = NOW + timedelta(minutes=3)
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(StaffLoginFailure)) == 2
    assert (await attempt(database, later, ("client:198.51.100.2", "name:lan"))).wait == timedelta(
        0
    )
    await attempt(database, later)  # the address's third
    assert (await attempt(database, later, ("client:203.0.113.7", "name:other"))).wait


async def test_attempts_keep_neither_address_nor_name_and_go_once_out_of_the_window(
    database: Database,
) -> None:
    await attempt(database, NOW)
    await attempt(database, NOW + WINDOW + timedelta(seconds=1), ("client:198.51.100.2", "name:an"))
    async with database.reading() as session:
        stored = list(await session.scalars(select(StaffLoginFailure.subject_hash)))
    assert len(stored) == 2  # the first two are gone: only the newest attempt's subjects
    assert all(len(value) == 64 and "198.51" not in value for value in stored)  # keyed hashes


async def test_an_ended_session_is_refused_and_forgotten_once_it_would_have_expired(
    database: Database,
) -> None:
    async def end(token: str, expires_at: datetime, now: datetime) -> None:
        async with database.transaction() as session:
            await end_staff_session(session, TEST_SECRET, token, expires_at=expires_at, now=now)

    ended = "7.1700000000.ab.sig"
    # Twice at once (two logout forms open in two tabs) is no error.
    await asyncio.gather(*(end(ended, NOW + timedelta(hours=1), NOW) for _ in range(2)))
    async with database.reading() as session:
        assert await staff_session_ended(session, TEST_SECRET, ended)
        assert not await staff_session_ended(session, TEST_SECRET, "7.1700000000.cd.sig")

    await end("8.1700009999.ef.sig", NOW + timedelta(hours=3), NOW + timedelta(hours=2))
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(EndedStaffSession)) == 1
        assert not await staff_session_ended(session, TEST_SECRET, ended)
