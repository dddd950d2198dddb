"""Dashboard login state in the database: failed logins within the window, ended sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from storage.db import Database
from storage.models import EndedStaffSession, StaffLoginFailure
from storage.staff_logins import (
    end_staff_session,
    forget_login_failures,
    login_wait,
    record_login_failure,
    staff_session_ended,
)
from tests.conftest import TEST_SECRET

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
GUESSER = ("client:203.0.113.7", "name:lan")


async def fail(database: Database, at: datetime, subjects: tuple[str, ...] = GUESSER) -> None:
    async with database.transaction() as session:
        await record_login_failure(session, TEST_SECRET, subjects, window=WINDOW, now=at)


async def wait_at(
    database: Database, at: datetime, subjects: tuple[str, ...] = GUESSER
) -> timedelta:
    async with database.reading() as session:
        return await login_wait(session, TEST_SECRET, subjects, attempts=3, window=WINDOW, now=at)


async def test_a_login_waits_until_the_oldest_of_enough_failures_leaves_the_window(
    database: Database,
) -> None:
    for minute in (0, 1):
        await fail(database, NOW + timedelta(minutes=minute))
    assert await wait_at(database, NOW + timedelta(minutes=2)) == timedelta(0)  # two of three

    await fail(database, NOW + timedelta(minutes=2))

    assert await wait_at(database, NOW + timedelta(minutes=5)) == timedelta(minutes=10)
    # Against either subject: another name from the same address, the same name from elsewhere.
    assert await wait_at(database, NOW + timedelta(minutes=5), ("client:203.0.113.7", "name:x"))
    assert await wait_at(database, NOW + timedelta(minutes=5), ("client:198.51.100.2", "name:lan"))
    assert await wait_at(database, NOW + timedelta(minutes=15, seconds=1)) == timedelta(0)


async def test_a_successful_login_clears_its_names_failures_not_its_addresss(
    database: Database,
) -> None:
    for minute in range(3):
        await fail(database, NOW + timedelta(minutes=minute))
    async with database.transaction() as session:
        await forget_login_failures(session, TEST_SECRET, "name:lan")
    later = NOW + timedelta(minutes=3)
    assert await wait_at(database, later, ("client:198.51.100.2", "name:lan")) == timedelta(0)
    assert await wait_at(database, later, ("client:203.0.113.7", "name:other")) > timedelta(0)


async def test_failures_keep_neither_address_nor_name_and_go_once_out_of_the_window(
    database: Database,
) -> None:
    await fail(database, NOW)
    await fail(database, NOW + WINDOW + timedelta(seconds=1), ("client:198.51.100.2", "name:an"))
    async with database.reading() as session:
        stored = list(await session.scalars(select(StaffLoginFailure.subject_hash)))
    assert len(stored) == 2  # the first two are gone: only the newest failure's subjects
    assert all(len(value) == 64 and "198.51" not in value for value in stored)  # keyed hashes


async def test_an_ended_session_is_refused_and_forgotten_once_it_would_have_expired(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await end_staff_session(
            session, TEST_SECRET, "7.1700000000.sig", expires_at=NOW + timedelta(hours=1), now=NOW
        )
        # Twice (two logout forms open in two tabs) is no error.
        await end_staff_session(
            session, TEST_SECRET, "7.1700000000.sig", expires_at=NOW + timedelta(hours=1), now=NOW
        )
    async with database.reading() as session:
        assert await staff_session_ended(session, TEST_SECRET, "7.1700000000.sig")
        assert not await staff_session_ended(session, TEST_SECRET, "7.1700000001.sig")

    async with database.transaction() as session:
        await end_staff_session(
            session,
            TEST_SECRET,
            "8.1700009999.sig",
            expires_at=NOW + timedelta(hours=3),
            now=NOW + timedelta(hours=2),
        )
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(EndedStaffSession)) == 1
        assert not await staff_session_ended(session, TEST_SECRET, "7.1700000000.sig")
