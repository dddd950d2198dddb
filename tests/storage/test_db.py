"""The SQLite database as one process shares it: writers take turns, readers never wait."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from storage.db import Database, _configure_sqlite
from storage.migrate import upgrade
from storage.models import DirtyDay


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> Database:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sipas.db'}"
    await upgrade(url)
    return Database(url)


async def test_a_second_writer_begins_only_after_the_first_commits(
    sqlite_database: Database,
) -> None:
    # Queued in the process rather than in SQLite's busy handler, which sleeps in steps of
    # up to 100 ms: the second writer must not even have begun while the first is open.
    order: list[str] = []
    first_open = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with sqlite_database.transaction() as tx:
            await tx.execute(text("INSERT INTO dirty_days VALUES ('2026-11-01', '2026-11-01')"))
            order.append("first began")
            first_open.set()
            await release_first.wait()
        order.append("first committed")

    async def second() -> None:
        async with sqlite_database.transaction() as tx:
            order.append("second began")
            await tx.execute(text("INSERT INTO dirty_days VALUES ('2026-11-02', '2026-11-02')"))

    writer = asyncio.create_task(first())
    await first_open.wait()
    waiting = asyncio.create_task(second())
    for _ in range(20):
        await asyncio.sleep(0)
    assert order == ["first began"]
    # Readers do not queue behind writers.
    async with sqlite_database.reading() as tx:
        assert await tx.scalar(select(func.count()).select_from(DirtyDay)) == 0
    release_first.set()
    await asyncio.gather(writer, waiting)
    assert order == ["first began", "first committed", "second began"]
    await sqlite_database.dispose()


async def test_a_task_started_inside_a_transaction_still_waits_its_turn(
    sqlite_database: Database,
) -> None:
    order: list[str] = []

    async def child() -> None:
        async with sqlite_database.transaction():
            order.append("child began")

    async with sqlite_database.transaction() as tx:
        await tx.execute(text("INSERT INTO dirty_days VALUES ('2026-11-04', '2026-11-04')"))
        started = asyncio.create_task(child())
        for _ in range(20):
            await asyncio.sleep(0)
        order.append("parent commits")
    await started
    assert order == ["parent commits", "child began"]
    await sqlite_database.dispose()


async def test_a_transaction_opened_inside_another_in_the_same_task_is_not_queued_behind_it(
    sqlite_database: Database,
) -> None:
    # Re-entrant: the nested transaction does not wait for its own task's turn. (It is still
    # a second SQLite connection: had the outer one written first, SQLite would make it wait.)
    async with sqlite_database.transaction(), sqlite_database.transaction() as inner:
        await inner.execute(text("INSERT INTO dirty_days VALUES ('2026-11-03', '2026-11-03')"))
    async with sqlite_database.reading() as tx:
        assert await tx.scalar(select(func.count()).select_from(DirtyDay)) == 1
    await sqlite_database.dispose()


async def test_a_dry_run_keeps_nothing_it_wrote_and_an_error_inside_it_still_surfaces(
    sqlite_database: Database,
) -> None:
    async with sqlite_database.transaction(dry_run=True) as tx:
        await tx.execute(text("INSERT INTO dirty_days VALUES ('2026-11-01', '2026-11-01')"))
        inside = await tx.scalar(select(func.count()).select_from(DirtyDay))
    assert inside == 1  # written, and seen, inside the transaction
    with pytest.raises(ZeroDivisionError):
        async with sqlite_database.transaction(dry_run=True):
            _ = 1 / 0
    async with sqlite_database.reading() as tx:
        assert await tx.scalar(select(func.count()).select_from(DirtyDay)) == 0
    await sqlite_database.dispose()


def test_every_connection_zeroes_deleted_content_even_where_sqlite_is_built_not_to(
    tmp_path: Path,
) -> None:
    # Debian builds SQLite with secure_delete on by default, other builds (python.org's,
    # macOS) do not: the connection set-up must not rely on either.
    connection = sqlite3.connect(tmp_path / "built-without.db")
    try:
        connection.execute("PRAGMA secure_delete=OFF")
        _configure_sqlite(connection, busy_timeout_ms=0)
        assert connection.execute("PRAGMA secure_delete").fetchone() == (1,)
    finally:
        connection.close()
