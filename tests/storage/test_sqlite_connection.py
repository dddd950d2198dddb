"""SQLite statements through SQLAlchemy take one trip each to the connection's thread."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.migrate import upgrade
from storage.models import DirtyDay
from storage.sqlite_connection import OneTripConnection, connect, is_busy

DAY = date(2026, 11, 1)
MARKED = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sipas.db'}"
    await upgrade(url)
    database = Database(url)
    yield database
    await database.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function sent to a connection's thread, in order."""
    sent: list[str] = []
    original = OneTripConnection._execute

    async def counted(self: OneTripConnection, function: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(function.__name__)
        return await original(self, function, *args, **kwargs)

    monkeypatch.setattr(OneTripConnection, "_execute", counted)
    return sent


async def test_the_service_connects_to_sqlite_with_one_trip_connections(
    sqlite_database: Database,
) -> None:
    async with sqlite_database.reading() as tx:
        raw = await (await tx.connection()).get_raw_connection()
        assert isinstance(raw.driver_connection, OneTripConnection)


async def test_a_transaction_of_two_statements_takes_four_trips_and_none_to_return(
    sqlite_database: Database, trips: list[str]
) -> None:
    async with sqlite_database.transaction() as tx:  # warm: the pool opens its connection
        await tx.execute(select(func.count()).select_from(DirtyDay))
    trips.clear()
    async with sqlite_database.transaction() as tx:
        await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))
        count = await tx.scalar(select(func.count()).select_from(DirtyDay))
    # BEGIN, the INSERT, the SELECT with its rows, the COMMIT; the pool's reset of the
    # returned connection finds no transaction open and stays in the event loop.
    assert trips == ["_waiting_run", "_waiting_run", "_waiting_run", "commit"]
    assert count == 1


async def test_a_short_transaction_runs_on_the_event_loops_thread_without_a_trip(
    sqlite_database: Database, trips: list[str]
) -> None:
    async with sqlite_database.transaction() as tx:  # warm: the pool opens its connection
        await tx.execute(select(func.count()).select_from(DirtyDay))
    trips.clear()
    async with sqlite_database.transaction(short=True) as tx:
        await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))
        count = await tx.scalar(select(func.count()).select_from(DirtyDay))
    assert trips == []
    assert count == 1
    async with sqlite_database.reading() as tx:  # committed: another transaction sees it
        assert await tx.scalar(select(func.count()).select_from(DirtyDay)) == 1


async def test_a_failed_statement_in_a_short_transaction_keeps_nothing(
    sqlite_database: Database, trips: list[str]
) -> None:
    row = {"day": DAY, "marked_at": MARKED}
    with pytest.raises(IntegrityError):
        async with sqlite_database.transaction(short=True) as tx:
            await tx.execute(insert(DirtyDay).values(**row))
            await tx.execute(insert(DirtyDay).values(**row))  # the same key again
    trips.clear()
    async with sqlite_database.transaction() as tx:  # usable again, empty, and in the thread
        assert await tx.scalar(select(func.count()).select_from(DirtyDay)) == 0
    assert trips == ["_waiting_run", "_waiting_run", "commit"]


def _insert_day(database: Database, *, short: bool) -> asyncio.Task[None]:
    """A writer of DAY, started as a task."""

    async def write() -> None:
        async with database.transaction(short=short) as tx:
            await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))

    return asyncio.create_task(write())


async def test_a_short_transaction_waits_for_another_process_in_the_thread_not_the_event_loop(
    sqlite_database: Database, tmp_path: Path, trips: list[str]
) -> None:
    async with sqlite_database.transaction(short=True) as tx:  # warm, and on the loop
        await tx.execute(select(func.count()).select_from(DirtyDay))
    trips.clear()
    other = sqlite3.connect(tmp_path / "sipas.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    writer = _insert_day(sqlite_database, short=True)
    await asyncio.sleep(0.3)
    assert not writer.done()  # waiting for the lock...
    assert ticks >= 5  # ...while the event loop goes on
    other.execute("COMMIT")
    await writer
    ticker.cancel()
    other.close()
    # Only the BEGIN that waited went to the thread; the INSERT and COMMIT stayed on the loop.
    assert trips == ["_waiting_run"]
    async with sqlite_database.reading() as tx:
        assert await tx.scalar(select(func.count()).select_from(DirtyDay)) == 1


async def test_after_a_short_transaction_any_writer_still_waits_for_another_process(
    sqlite_database: Database, tmp_path: Path
) -> None:
    async with sqlite_database.transaction(short=True) as tx:  # on the loop, lock free
        await tx.execute(select(func.count()).select_from(DirtyDay))
    other = sqlite3.connect(tmp_path / "sipas.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    writer = _insert_day(sqlite_database, short=False)
    await asyncio.sleep(0.3)
    assert not writer.done()  # waits: does not fail with "database is locked"
    other.execute("COMMIT")
    await writer
    other.close()


@pytest.mark.parametrize(
    ("code", "busy"),
    [(5, True), (261, True), (517, True), (1, False), (6, False)],
    ids=["BUSY", "BUSY_RECOVERY", "BUSY_SNAPSHOT", "ERROR", "LOCKED"],
)
def test_any_kind_of_busy_sends_a_short_transactions_begin_to_the_thread(
    code: int, busy: bool
) -> None:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = code
    assert is_busy(error) is busy


async def test_without_wal_a_short_transaction_keeps_to_the_thread(tmp_path: Path) -> None:
    connection = await connect(str(tmp_path / "rollback-journal.db"))
    try:
        await connection.one_trip("PRAGMA journal_mode=DELETE", None, many=False)
        await connection.one_trip("CREATE TABLE t (x)", None, many=False)
        sent = connection._sent
        await connection.begin("IMMEDIATE", inline=True)
        await connection.one_trip("INSERT INTO t VALUES (1)", None, many=False)
        await connection.commit()
        assert connection._sent == sent + 3  # BEGIN, INSERT and COMMIT: each a trip
    finally:
        await connection.close()


async def test_only_a_writer_may_run_a_short_transaction(tmp_path: Path) -> None:
    connection = await connect(str(tmp_path / "sipas.db"))
    try:
        with pytest.raises(ValueError, match="write lock"):
            await connection.begin("DEFERRED", inline=True)
    finally:
        await connection.close()


async def test_statements_report_rows_rowcounts_and_new_ids_as_the_driver_does(
    sqlite_database: Database,
) -> None:
    async with sqlite_database.transaction() as tx:
        inserted = await tx.execute(
            text("INSERT INTO dirty_days (day, marked_at) VALUES (:day, :at)"),
            [{"day": f"2026-11-0{n}", "at": "2026-11-01"} for n in range(1, 4)],
        )
        assert inserted.rowcount == 3
        updated = await tx.execute(
            text("UPDATE dirty_days SET marked_at = 'x' WHERE day >= '2026-11-02'")
        )
        assert updated.rowcount == 2
        rows = (await tx.execute(text("SELECT day, marked_at FROM dirty_days ORDER BY day"))).all()
        assert [tuple(row) for row in rows] == [
            ("2026-11-01", "2026-11-01"),
            ("2026-11-02", "x"),
            ("2026-11-03", "x"),
        ]
        await tx.execute(text("CREATE TEMP TABLE numbered (id INTEGER PRIMARY KEY, x TEXT)"))
        created = await tx.execute(text("INSERT INTO numbered (x) VALUES ('a'), ('b')"))
        assert created.lastrowid == 2


async def test_a_failed_statement_raises_the_drivers_error_and_its_transaction_keeps_nothing(
    sqlite_database: Database,
) -> None:
    row = {"day": DAY, "marked_at": MARKED}
    with pytest.raises(IntegrityError):
        async with sqlite_database.transaction() as tx:
            await tx.execute(insert(DirtyDay).values(**row))
            await tx.execute(insert(DirtyDay).values(**row))  # the same key again
    async with sqlite_database.transaction() as tx:  # the connection is usable again
        assert await tx.scalar(select(func.count()).select_from(DirtyDay)) == 0


@pytest.mark.parametrize("short", [False, True], ids=["transaction", "short transaction"])
async def test_a_writer_cancelled_while_another_process_holds_the_lock_leaves_no_lock_behind(
    sqlite_database: Database, tmp_path: Path, short: bool
) -> None:
    other = sqlite3.connect(tmp_path / "sipas.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing: our BEGIN waits on it
    waiting = _insert_day(sqlite_database, short=short)
    await asyncio.sleep(0.2)
    waiting.cancel()  # its BEGIN is still waiting in the connection's thread
    await asyncio.sleep(0.1)
    other.execute("COMMIT")  # the BEGIN gets the lock; the rollback must follow it
    with pytest.raises(asyncio.CancelledError):
        await waiting
    other.execute("PRAGMA busy_timeout=2000")
    other.execute("BEGIN IMMEDIATE")  # the other process can write again
    other.execute("COMMIT")
    other.close()
    await _insert_day(sqlite_database, short=short)  # and so can this one
    async with sqlite_database.reading() as tx:
        assert await tx.scalar(select(func.count()).select_from(DirtyDay)) == 1
