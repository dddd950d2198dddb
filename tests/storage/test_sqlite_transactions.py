"""SQLite write transactions: short ones run on the event loop's thread when they can, and any
writer waits for another process's lock without stopping the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import storage.db
from storage.db import Database, LoopSession, Transaction, is_busy
from storage.models import DirtyDay
from tests.storage.conftest import Trips

DAY = date(2026, 11, 1)
MARKED = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)

Opener = Callable[[Database], AbstractAsyncContextManager[Transaction]]
KINDS: dict[str, Opener] = {
    "transaction": lambda database: database.transaction(),
    "short transaction": lambda database: database.short_transaction(),
}


async def count_days(database: Database) -> int:
    async with database.reading() as tx:
        return int(await tx.scalar(select(func.count()).select_from(DirtyDay)) or 0)


def insert_day(database: Database, opener: Opener) -> asyncio.Task[None]:
    """A writer of DAY, started as a task."""

    async def write() -> None:
        async with opener(database) as tx:
            await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))

    return asyncio.create_task(write())


@pytest.fixture
async def other_process(tmp_path: Path) -> AsyncIterator[sqlite3.Connection]:
    """Another process's connection to the same file (its lock is what matters)."""
    connection = sqlite3.connect(tmp_path / "sipas.db", isolation_level=None)
    yield connection
    connection.close()


async def test_a_short_transaction_runs_on_the_event_loops_thread_and_commits(
    sqlite_database: Database, trips: Trips
) -> None:
    async with sqlite_database.short_transaction() as tx:
        assert isinstance(tx, LoopSession)
        await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))
        assert await tx.scalar(select(func.count()).select_from(DirtyDay)) == 1
    assert trips == []  # no trip to any connection's thread
    assert await count_days(sqlite_database) == 1  # committed: another connection sees it


@pytest.mark.parametrize("kind", KINDS)
async def test_a_failed_statement_raises_the_drivers_error_and_its_transaction_keeps_nothing(
    sqlite_database: Database, kind: str
) -> None:
    row = {"day": DAY, "marked_at": MARKED}
    with pytest.raises(IntegrityError):
        async with KINDS[kind](sqlite_database) as tx:
            await tx.execute(insert(DirtyDay).values(**row))
            await tx.execute(insert(DirtyDay).values(**row))  # the same key again
    assert await count_days(sqlite_database) == 0
    async with KINDS[kind](sqlite_database) as tx:  # the connection is usable again
        await tx.execute(insert(DirtyDay).values(**row))
    assert await count_days(sqlite_database) == 1


async def test_orm_work_in_a_short_transaction_commits_and_rolls_back_with_its_statements(
    sqlite_database: Database,
) -> None:
    with pytest.raises(IntegrityError):
        async with sqlite_database.short_transaction() as tx:
            tx.add(DirtyDay(day=DAY, marked_at=MARKED))
            await tx.flush()
            await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))  # the same key
    assert await count_days(sqlite_database) == 0
    async with sqlite_database.short_transaction() as tx:
        tx.add(DirtyDay(day=DAY, marked_at=MARKED))  # flushed by the commit
    assert await count_days(sqlite_database) == 1


async def test_a_short_transaction_that_fails_after_a_failed_flush_leaves_no_lock_behind(
    sqlite_database: Database, other_process: sqlite3.Connection
) -> None:
    next_day = DAY + timedelta(days=1)
    async with sqlite_database.short_transaction() as tx:
        await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))
    with pytest.raises(RuntimeError):
        async with sqlite_database.short_transaction() as tx:
            tx.add(DirtyDay(day=DAY, marked_at=MARKED))  # the same key again
            with pytest.raises(IntegrityError):
                await tx.flush()  # rolls the transaction back
            # A Core statement after it begins another transaction on the same connection.
            dirty_days = cast(Table, DirtyDay.__table__)
            await tx.execute(insert(dirty_days).values(day=next_day, marked_at=MARKED))
            raise RuntimeError("the event fails")
    other_process.execute("BEGIN IMMEDIATE")  # the write lock is free again
    other_process.execute("ROLLBACK")
    assert await count_days(sqlite_database) == 1
    async with sqlite_database.short_transaction() as tx:  # and the next event runs
        await tx.execute(insert(DirtyDay).values(day=next_day, marked_at=MARKED))
    assert await count_days(sqlite_database) == 2


async def test_a_failed_commit_leaves_nothing_behind_for_the_next_short_transaction(
    sqlite_database: Database,
) -> None:
    # A deferred foreign key is checked at COMMIT, which fails and leaves SQLite inside the
    # transaction: the next short transaction must not carry its rows along.
    async with sqlite_database.short_transaction() as tx:
        await tx.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        await tx.execute(
            text(
                "CREATE TABLE child (parent_id INTEGER "
                "REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    with pytest.raises(IntegrityError):
        async with sqlite_database.short_transaction() as tx:
            await tx.execute(text("INSERT INTO child (parent_id) VALUES (1)"))
    async with sqlite_database.short_transaction() as tx:
        await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))
    async with sqlite_database.reading() as reader:
        assert await reader.scalar(text("SELECT count(*) FROM child")) == 0
    assert await count_days(sqlite_database) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_a_writer_waits_for_another_process_in_a_thread_while_the_event_loop_goes_on(
    sqlite_database: Database, other_process: sqlite3.Connection, kind: str, trips: Trips
) -> None:
    async with sqlite_database.short_transaction():  # the loop's connection is open and idle
        pass
    other_process.execute("BEGIN IMMEDIATE")
    writer = insert_day(sqlite_database, KINDS[kind])
    await trips.until_sent("BEGIN")
    # Its BEGIN waits for the other process's lock in the connection's thread, and this task
    # runs meanwhile. A writer waiting in SQLite's busy handler on the loop's thread would hold
    # the loop for busy_timeout (5 s) and then fail with "database is locked".
    assert not writer.done()
    other_process.execute("COMMIT")
    await writer
    assert await count_days(sqlite_database) == 1


async def test_a_short_transaction_that_found_the_lock_taken_runs_as_a_transaction(
    sqlite_database: Database, other_process: sqlite3.Connection
) -> None:
    other_process.execute("BEGIN IMMEDIATE")
    opened: list[type[Any]] = []
    chosen = asyncio.Event()

    async def write() -> None:
        async with sqlite_database.short_transaction() as tx:
            opened.append(type(tx))
            chosen.set()  # its kind is settled before it takes the lock (or waits for it)
            await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))

    writer = asyncio.create_task(write())
    await chosen.wait()
    other_process.execute("COMMIT")
    await writer
    assert opened == [AsyncSession]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_writer_cancelled_while_another_process_holds_the_lock_leaves_no_lock_behind(
    sqlite_database: Database, other_process: sqlite3.Connection, kind: str, trips: Trips
) -> None:
    other_process.execute("BEGIN IMMEDIATE")  # another process writing: our BEGIN waits on it
    waiting = insert_day(sqlite_database, KINDS[kind])
    await trips.until_sent("BEGIN")
    waiting.cancel()  # its BEGIN is still waiting in the connection's thread
    await trips.until_sent("rollback")  # queued behind that BEGIN
    other_process.execute("COMMIT")  # the BEGIN gets the lock; the rollback must follow it
    with pytest.raises(asyncio.CancelledError):
        await waiting
    other_process.execute("PRAGMA busy_timeout=2000")
    other_process.execute("BEGIN IMMEDIATE")  # the other process can write again
    other_process.execute("COMMIT")
    await insert_day(sqlite_database, KINDS[kind])  # and so can this one
    assert await count_days(sqlite_database) == 1


async def test_without_wal_short_transactions_keep_to_the_thread(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch, trips: Trips
) -> None:
    configure = storage.db._configure_sqlite

    def no_wal(connection: Any, **settings: Any) -> str:
        configure(connection, **settings)
        return "delete"  # what a file system without shared memory leaves

    monkeypatch.setattr(storage.db, "_configure_sqlite", no_wal)
    async with sqlite_database.short_transaction() as tx:
        assert isinstance(tx, AsyncSession)
        await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))
    trips.clear()
    async with sqlite_database.short_transaction() as tx:  # and so do the next ones
        assert isinstance(tx, AsyncSession)
        await tx.execute(select(func.count()).select_from(DirtyDay))
    assert trips  # BEGIN, the SELECT and the COMMIT went to the thread
    assert await count_days(sqlite_database) == 1


async def test_the_log_of_short_transactions_is_checkpointed_beside_the_event_loop(
    sqlite_database: Database, tmp_path: Path
) -> None:
    async with sqlite_database.short_transaction() as tx:
        # The event loop's connection never checkpoints (that writes and syncs the file)...
        assert (await tx.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
    for day in range(3_000):
        async with sqlite_database.short_transaction() as tx:
            await tx.execute(
                insert(DirtyDay).values(day=date.fromordinal(700_000 + day), marked_at=MARKED)
            )
        await asyncio.sleep(0)  # the event loop's other work between two events
    # ...checkpoints run in aiosqlite's thread instead, so the log is reused from its start
    # rather than growing by every commit (3,000 commits of two pages or more: over 24 MB).
    assert (tmp_path / "sipas.db-wal").stat().st_size < 4 * 2**20
    assert await count_days(sqlite_database) == 3_000


@pytest.mark.parametrize(
    ("code", "busy"),
    [(5, True), (261, True), (517, True), (1, False), (6, False)],
    ids=["BUSY", "BUSY_RECOVERY", "BUSY_SNAPSHOT", "ERROR", "LOCKED"],
)
def test_any_kind_of_busy_sends_a_short_transaction_to_the_thread(code: int, busy: bool) -> None:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = code
    assert is_busy(error) is busy
