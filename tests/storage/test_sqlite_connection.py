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
from storage.sqlite_connection import OneTripConnection

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
    sqlite_database: Database,
) -> None:
    row = {"day": DAY, "marked_at": MARKED}
    with pytest.raises(IntegrityError):
        async with sqlite_database.transaction(short=True) as tx:
            await tx.execute(insert(DirtyDay).values(**row))
            await tx.execute(insert(DirtyDay).values(**row))  # the same key again
    async with sqlite_database.transaction(short=True) as tx:  # usable again, and empty
        assert await tx.scalar(select(func.count()).select_from(DirtyDay)) == 0


async def test_a_short_transaction_waits_for_another_process_in_the_thread_not_the_event_loop(
    sqlite_database: Database, tmp_path: Path, trips: list[str]
) -> None:
    async with sqlite_database.transaction(short=True) as tx:  # warm, and on the loop
        await tx.execute(select(func.count()).select_from(DirtyDay))
    other = sqlite3.connect(tmp_path / "sipas.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def write(*, short: bool = True) -> None:
        async with sqlite_database.transaction(short=short) as tx:
            await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))

    ticker = asyncio.create_task(tick())
    writer = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not writer.done()  # waiting for the lock...
    assert ticks >= 5  # ...while the event loop goes on
    other.execute("COMMIT")
    await writer
    ticker.cancel()
    assert "_waiting_run" in trips  # the BEGIN that waited went to the thread
    other.execute("BEGIN IMMEDIATE")  # any later writer waits for the lock again, not fails
    late = asyncio.create_task(write(short=False))
    await asyncio.sleep(0.2)
    other.execute("ROLLBACK")
    with pytest.raises(IntegrityError):  # it waited, then wrote the same day again
        await late
    other.close()


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


async def test_a_writer_cancelled_while_another_process_holds_the_lock_leaves_no_lock_behind(
    sqlite_database: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "sipas.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing: our BEGIN waits on it

    async def write() -> None:
        async with sqlite_database.transaction() as tx:
            await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))

    waiting = asyncio.create_task(write())
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
    async with sqlite_database.transaction() as tx:  # and so can this one
        await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))
        assert await tx.scalar(select(func.count()).select_from(DirtyDay)) == 1
