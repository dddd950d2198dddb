"""Dashboard login state in the database: attempts counted within the window, ended sessions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from storage.db import Database
from storage.models import EndedStaffSession, StaffLoginFailure
from storage.staff_logins import (
    LoginAttempt,
    SignInLimits,
    begin_login_attempt,
    end_staff_session,
    login_succeeded,
    staff_session_ended,
)
from tests.conftest import TEST_SECRET

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
LIMITS = SignInLimits(attempts=3, address_attempts=5, window=WINDOW)
GUESSER = "203.0.113.7"
OWNER = "198.51.100.2"


async def attempt(
    database: Database, at: datetime, name: str = "lan", address: str = GUESSER
) -> LoginAttempt:
    async with database.transaction() as session:
        return await begin_login_attempt(
            session, TEST_SECRET, name=name, address=address, limits=LIMITS, now=at
        )


async def test_a_name_from_one_address_waits_until_its_oldest_failure_leaves_the_window(
    database: Database,
) -> None:
    for minute in range(3):  # three attempts, none of them taken back by a success
        assert (await attempt(database, NOW + timedelta(minutes=minute))).wait == timedelta(0)

    refused = await attempt(database, NOW + timedelta(minutes=5))

    assert refused.wait == timedelta(minutes=10) and refused.failure_ids == ()
    later = await attempt(database, NOW + timedelta(minutes=15, seconds=1))
    assert later.wait == timedelta(0)  # refused attempts did not count


async def test_failures_elsewhere_delay_a_name_and_never_refuse_it(database: Database) -> None:
    for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        for _ in range(LIMITS.attempts):
            await attempt(database, NOW, address=address)

    owner = await attempt(database, NOW + timedelta(minutes=1), address=OWNER)

    assert owner.wait == timedelta(0)  # the owner's address is not refused
    assert owner.delay == LIMITS.max_delay  # 9 failures: 1, 2, 4, 8, 16 s, then 30 at most
    assert (await attempt(database, NOW, name="an", address=OWNER)).delay == timedelta(0)


def test_the_delay_grows_with_each_failure_of_the_name_up_to_a_limit() -> None:
    limits = SignInLimits(attempts=5, max_delay=timedelta(seconds=30))
    assert [limits.delay(failures).total_seconds() for failures in range(4, 12)] == [
        0,
        1,
        2,
        4,
        8,
        16,
        30,
        30,
    ]
    assert limits.delay(10_000) == timedelta(seconds=30)


async def test_one_address_trying_many_names_is_refused_after_its_own_limit(
    database: Database,
) -> None:
    outcomes = [
        await attempt(database, NOW, name=f"staff{number}")
        for number in range(LIMITS.address_attempts)
    ]
    assert all(outcome.wait == timedelta(0) for outcome in outcomes)

    assert (await attempt(database, NOW, name="another")).wait == WINDOW
    assert (await attempt(database, NOW, name="another", address=OWNER)).wait == timedelta(0)


async def test_guesses_sent_at_once_are_counted_one_by_one(database: Database) -> None:
    async def guess() -> LoginAttempt:
        return await attempt(database, NOW)

    outcomes = await asyncio.gather(*(guess() for _ in range(8)))

    assert sum(outcome.wait == timedelta(0) for outcome in outcomes) == 3


async def test_a_successful_login_clears_the_names_failures_from_its_address_only(
    database: Database,
) -> None:
    for address in (GUESSER, OWNER, OWNER):
        await attempt(database, NOW, address=address)
    right = await attempt(database, NOW + timedelta(minutes=1), address=OWNER)
    async with database.transaction() as session:
        await login_succeeded(session, TEST_SECRET, right, name="lan", address=OWNER)

    later = NOW + timedelta(minutes=2)
    for _ in range(LIMITS.attempts):  # the owner's own typing no longer counts against it
        assert (await attempt(database, later, address=OWNER)).wait == timedelta(0)
    # Failures of the name itself stay (the guesser's among them): past the free ones, a delay.
    assert (await attempt(database, later, address="192.0.2.9")).delay > timedelta(0)


async def test_attempts_keep_neither_address_nor_name_and_go_once_out_of_the_window(
    database: Database,
) -> None:
    await attempt(database, NOW)
    await attempt(database, NOW + WINDOW + timedelta(seconds=1), name="an", address=OWNER)
    async with database.reading() as session:
        stored = list(await session.scalars(select(StaffLoginFailure.subject_hash)))
    assert len(stored) == 3  # the first three are gone: only the newest attempt's subjects
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
