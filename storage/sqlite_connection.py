"""An aiosqlite connection that runs each statement in one trip to its thread, for SQLAlchemy.

aiosqlite runs a sqlite3 connection in a thread of its own; each call is a trip there
and back (a queue, a thread wake-up, a callback into the event loop). SQLAlchemy's
aiosqlite adapter makes four trips per statement (open a cursor, execute, fetch,
close) and one more to roll back a connection it returns to the pool, even one
whose transaction has already committed. On the survey's path, seven statements
per event, those trips cost more CPU than SQLite's own work, and each one is a wait
while the writer lock is held. `OneTripConnection` opens, executes, fetches and
closes in one trip, and skips a commit or rollback with no transaction open, which
SQLite would not act on anyway. It is an `aiosqlite.Connection`, so SQLAlchemy's
adapter, pool and error translation stay as they are.

Plugged in through the adapter's `async_creator_fn` connect argument, which keeps
SQLAlchemy's reading of the URL: see `connect_args()`.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

__all__ = ["OneTripConnection", "connect_args"]

Row = tuple[Any, ...]
Description = tuple[tuple[Any, ...], ...] | None


@dataclass(frozen=True)
class _Outcome:
    """What a statement left behind, read in the connection's thread."""

    rows: list[Row]
    description: Description
    rowcount: int
    lastrowid: int | None


def _run(connection: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> _Outcome:
    """Execute `sql` and fetch all its rows; runs in the connection's thread."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return _Outcome(rows, cursor.description, cursor.rowcount, cursor.lastrowid)
    finally:
        cursor.close()


class OneTripCursor:
    """The part of aiosqlite's cursor that SQLAlchemy's adapter uses; rows come prefetched."""

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self._rows: deque[Row] = deque()
        self.description: Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def execute(self, sql: str, parameters: Any = None) -> OneTripCursor:
        self._keep(await self._connection.one_trip(sql, parameters, many=False))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> OneTripCursor:
        self._keep(await self._connection.one_trip(sql, parameters, many=True))
        return self

    def _keep(self, outcome: _Outcome) -> None:
        self._rows = deque(outcome.rows)
        self.description = outcome.description
        self.rowcount = outcome.rowcount
        self.lastrowid = outcome.lastrowid

    async def fetchone(self) -> Row | None:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Row]:
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    async def fetchall(self) -> Sequence[Row]:
        taken = list(self._rows)
        self._rows.clear()
        return taken

    async def close(self) -> None:
        """The sqlite3 cursor closed with its statement; only the rows are dropped."""
        self._rows.clear()


class OneTripConnection(aiosqlite.Connection):
    """aiosqlite's connection with one-trip statements and no trip for an idle commit or rollback."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        # Statements sent to the thread (counted here) and finished there (counted there):
        # equal when none is pending, even one whose awaiting task was cancelled.
        self._sent = 0
        self._finished = 0

    async def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    async def one_trip(self, sql: str, parameters: Any, *, many: bool) -> _Outcome:
        """One statement, executed, fetched and closed in the connection's thread."""
        self._sent += 1
        return await self._execute(self._counted, sql, parameters, many)  # type: ignore[no-untyped-call,no-any-return]

    def _counted(self, sql: str, parameters: Any, many: bool) -> _Outcome:
        try:
            return _run(self._conn, sql, parameters, many)
        finally:
            self._finished += 1

    async def commit(self) -> None:
        if self._may_be_in_transaction():
            await super().commit()

    async def rollback(self) -> None:
        if self._may_be_in_transaction():
            await super().rollback()

    def _may_be_in_transaction(self) -> bool:
        """False only when SQLite would surely have nothing to commit or roll back.

        A task cancelled while its BEGIN waits for another process's lock leaves the BEGIN
        running in the thread: the rollback SQLAlchemy then asks for must go there too,
        queued behind it, or the pool would get back a connection holding the write lock.
        """
        connection = self._connection
        if connection is None or self._finished != self._sent:
            return True
        try:
            # Read from the event loop's thread, which sqlite3 allows for this attribute;
            # no statement of this connection is running meanwhile (checked just above).
            return connection.in_transaction
        except sqlite3.ProgrammingError:  # closed: aiosqlite reports it on the real call
            return True


def _connect(database: str, **kwargs: Any) -> OneTripConnection:
    """`aiosqlite.connect`, making a `OneTripConnection`; SQLAlchemy awaits it."""
    connection = OneTripConnection(lambda: sqlite3.connect(database, **kwargs), 64)
    # A pooled connection left open at exit must not keep the process alive (SQLAlchemy
    # marks aiosqlite's own threads so too).
    connection._thread.daemon = True
    return connection


def connect_args() -> dict[str, Any]:
    """The connect arguments that make SQLAlchemy's aiosqlite dialect use `OneTripConnection`."""
    return {"async_creator_fn": _connect}
