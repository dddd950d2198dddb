"""SQLite statements through SQLAlchemy take one trip each to the connection's thread."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import CursorResult, func, insert, select, text

from storage.db import Database
from storage.models import DirtyDay
from storage.sqlite_connection import OneTripConnection
from tests.storage.conftest import Trips

DAY = date(2026, 11, 1)
MARKED = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


async def test_the_service_connects_to_sqlite_with_one_trip_connections(
    sqlite_database: Database,
) -> None:
    async with sqlite_database.reading() as tx:
        raw = await (await tx.connection()).get_raw_connection()
        assert isinstance(raw.driver_connection, OneTripConnection)


async def test_a_transaction_of_two_statements_takes_four_trips_and_none_to_return(
    sqlite_database: Database, trips: Trips
) -> None:
    async with sqlite_database.transaction() as tx:  # warm: the pool opens its connection
        await tx.execute(select(func.count()).select_from(DirtyDay))
    trips.clear()
    async with sqlite_database.transaction() as tx:
        await tx.execute(insert(DirtyDay).values(day=DAY, marked_at=MARKED))
        count = await tx.scalar(select(func.count()).select_from(DirtyDay))
    # BEGIN, the INSERT, the SELECT with its rows, the COMMIT; the pool's reset of the
    # returned connection finds no transaction open and stays in the event loop.
    assert trips == ["BEGIN", "INSERT", "SELECT", "commit"]
    assert count == 1


async def test_statements_report_rows_rowcounts_and_new_ids_as_the_driver_does(
    sqlite_database: Database,
) -> None:
    async with sqlite_database.transaction() as tx:
        inserted = await tx.execute(
            text("INSERT INTO dirty_days (day, marked_at) VALUES (:day, :at)"),
            [{"day": f"2026-11-0{n}", "at": "2026-11-01"} for n in range(1, 4)],
        )
        assert isinstance(inserted, CursorResult) and inserted.rowcount == 3
        updated = await tx.execute(
            text("UPDATE dirty_days SET marked_at = 'x' WHERE day >= '2026-11-02'")
        )
        assert isinstance(updated, CursorResult) and updated.rowcount == 2
        rows = (await tx.execute(text("SELECT day, marked_at FROM dirty_days ORDER BY day"))).all()
        assert [tuple(row) for row in rows] == [
            ("2026-11-01", "2026-11-01"),
            ("2026-11-02", "x"),
            ("2026-11-03", "x"),
        ]
        await tx.execute(text("CREATE TEMP TABLE numbered (id INTEGER PRIMARY KEY, x TEXT)"))
        created = await tx.execute(text("INSERT INTO numbered (x) VALUES ('a'), ('b')"))
        assert isinstance(created, CursorResult) and created.lastrowid == 2
