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

A short transaction (`begin(..., inline=True)`: a survey event's few indexed
statements) skips the thread altogether: its BEGIN, statements and COMMIT run on the
caller's thread, the event loop's. Each takes tens of microseconds in SQLite, less than
a trip; and as a trip is a wait for the event loop to come back to the writer, who holds
SQLite's one write lock all the while, the trips made every writer's turn several times
longer than its work. The BEGIN runs there only if it can have the lock at once: when
another process holds it, the BEGIN waits in the thread, as any other, and the event
loop does not.

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

__all__ = ["OneTripConnection", "connect", "connect_args", "is_busy"]

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
    """Execute `sql` and fetch all its rows, on whichever thread may use the connection now."""
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


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused for a lock held elsewhere, in any of busy's kinds: the extended
    codes keep it in their low byte (SQLITE_BUSY_RECOVERY while another connection replays the
    WAL after a crash, SQLITE_BUSY_SNAPSHOT)."""
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


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
    """aiosqlite's connection with one-trip statements, no trip for an idle commit or rollback,
    and short transactions run on the caller's thread."""

    def __init__(
        self,
        connector: Callable[[], sqlite3.Connection],
        iter_chunk_size: int,
        busy_timeout_ms: int,
    ) -> None:
        super().__init__(connector, iter_chunk_size)
        # Calls sent to the thread (counted here) and finished there (counted there): equal
        # when none is pending, even one whose awaiting task was cancelled.
        self._sent = 0
        self._finished = 0
        self._inline = False  # a short transaction is open: its statements skip the thread
        self._busy_timeout_ms = busy_timeout_ms
        # Whether SQLite waits busy_timeout for a lock, or gives up at once as a BEGIN on the
        # caller's thread must; set back before anything else runs in the thread.
        self._waits_for_locks = True
        self._wal: bool | None = None  # the journal mode, read once: WAL or not

    async def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    async def begin(self, mode: str, *, inline: bool) -> None:
        """BEGIN a transaction (`mode`: DEFERRED, IMMEDIATE or EXCLUSIVE); with `inline`, a short
        one whose statements and end run on the caller's thread, as its BEGIN does if the write
        lock is free at once.

        Only a writer's BEGIN, which takes the lock, may be inline: in WAL mode nothing in its
        transaction waits for a lock after that, so nothing on the caller's thread ever does.
        Without WAL (a file system without shared memory) a COMMIT may wait for readers, and
        the transaction keeps to the thread.
        """
        if inline and mode == "DEFERRED":
            raise ValueError("a short transaction must take the write lock: IMMEDIATE or EXCLUSIVE")
        self._inline = False
        if inline and self._idle():
            if self._wal is None:  # read once, on the caller's thread: the connection is idle
                (journal_mode,) = self._conn.execute("PRAGMA journal_mode").fetchone()
                self._wal = journal_mode == "wal"
            if self._wal and self._begin_at_once(mode):
                self._inline = True
                return
        await self.one_trip(f"BEGIN {mode}", None, many=False)
        self._inline = inline and self._wal is True

    def _begin_at_once(self, mode: str) -> bool:
        """BEGIN on the caller's thread; False, with nothing begun, if the lock is not free now."""
        connection = self._conn
        if self._waits_for_locks:
            connection.execute("PRAGMA busy_timeout = 0")
            self._waits_for_locks = False
        try:
            connection.execute(f"BEGIN {mode}")
        except sqlite3.OperationalError as error:
            if is_busy(error):
                return False
            raise
        return True

    async def one_trip(self, sql: str, parameters: Any, *, many: bool) -> _Outcome:
        """One statement, executed, fetched and closed: in the connection's thread, or on the
        caller's in a short transaction."""
        if self._inline and self._idle():
            return _run(self._conn, sql, parameters, many)
        return await self._execute(self._waiting_run, sql, parameters, many)  # type: ignore[no-any-return]

    def _waiting_run(self, sql: str, parameters: Any, many: bool) -> _Outcome:
        """`_run` in the thread, where a statement may wait for another process's lock."""
        if not self._waits_for_locks:
            self._conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            self._waits_for_locks = True
        return _run(self._conn, sql, parameters, many)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """aiosqlite's trip to the thread, counted both ways."""
        self._sent += 1
        return await super()._execute(self._counted, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    def _counted(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            self._finished += 1

    def _idle(self) -> bool:
        """No call of this connection is pending in its thread (one is if a task awaiting it
        was cancelled), so the caller's thread may use the connection."""
        return self._finished == self._sent

    async def commit(self) -> None:
        if self._inline and self._idle():
            self._inline = False
            self._conn.commit()
        elif self._may_be_in_transaction():
            self._inline = False
            await super().commit()

    async def rollback(self) -> None:
        if self._inline and self._idle():
            self._inline = False
            self._conn.rollback()
        elif self._may_be_in_transaction():
            self._inline = False
            await super().rollback()

    def _may_be_in_transaction(self) -> bool:
        """False only when SQLite would surely have nothing to commit or roll back.

        A task cancelled while its BEGIN waits for another process's lock leaves the BEGIN
        running in the thread: the rollback SQLAlchemy then asks for must go there too,
        queued behind it, or the pool would get back a connection holding the write lock.
        """
        connection = self._connection
        if connection is None or not self._idle():
            return True
        try:
            # Read from the event loop's thread, which sqlite3 allows for this attribute;
            # no statement of this connection is running meanwhile (checked just above).
            return connection.in_transaction
        except sqlite3.ProgrammingError:  # closed: aiosqlite reports it on the real call
            return True


def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """`aiosqlite.connect`, making a `OneTripConnection`; SQLAlchemy awaits it."""
    # Short transactions use the sqlite3 connection from the event loop's thread, never
    # while a call of its own thread is pending (`OneTripConnection._idle`).
    kwargs["check_same_thread"] = False
    busy_timeout_ms = int(kwargs.get("timeout", 5.0) * 1000)  # sqlite3's default: 5 s
    connection = OneTripConnection(lambda: sqlite3.connect(database, **kwargs), 64, busy_timeout_ms)
    # A pooled connection left open at exit must not keep the process alive (SQLAlchemy
    # marks aiosqlite's own threads so too).
    connection._thread.daemon = True
    return connection


def connect_args() -> dict[str, Any]:
    """The connect arguments that make SQLAlchemy's aiosqlite dialect use `OneTripConnection`."""
    return {"async_creator_fn": connect}
