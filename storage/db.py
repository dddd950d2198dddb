"""Database connection: one async engine per process, SQLite tuned for a single file, PostgreSQL for scale."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only

from storage.sqlite_connection import connect_args as one_trip_connect_args

SQLITE_BUSY_TIMEOUT_MS = 30_000
# The task holding this process's SQLite writer turn (a task, not a flag: a task started
# inside a transaction inherits the context, and must still queue).
_WRITER_TURN_HOLDER: ContextVar[asyncio.Task[Any] | None] = ContextVar(
    "writer_turn_holder", default=None
)


def is_sqlite(url: str) -> bool:
    """Whether a database URL names the embedded SQLite backend."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, schema: str | None = None, echo: bool = False) -> AsyncEngine:
    """An async engine for `url`; `schema` pins the PostgreSQL search path (tests isolate runs so)."""
    if is_sqlite(url):
        return _sqlite_engine(url, echo=echo)
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(
        url, echo=echo, pool_pre_ping=True, connect_args=connect_args, pool_size=10, max_overflow=10
    )


def _sqlite_engine(url: str, *, echo: bool) -> AsyncEngine:
    # A small pool of kept connections: closing the last connection to a WAL database
    # checkpoints and syncs the file, which made every event pay several milliseconds. All
    # eight are kept (no overflow): an overflow connection (a thread, the file opened, four
    # pragmas: 2.8 ms of CPU against 0.2 ms for a kept one) was opened and closed again at
    # every dip of the load, several times a second under the load harness.
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=8,
        max_overflow=0,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, **one_trip_connect_args()},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit BEGIN would start a deferred transaction and
        # upgrade it to a write later, which SQLite may refuse with "database is
        # locked" under concurrency; we issue BEGIN ourselves below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front so a writer from another process waits on
        # busy_timeout instead of failing (this process's writers queue in
        # `Database._writer_turn`); read-only work asks for DEFERRED. A short transaction
        # runs on the event loop's thread (`OneTripConnection.begin`).
        options = connection.get_execution_options()
        await_only(
            connection.connection.driver_connection.begin(
                options.get("sqlite_begin", "IMMEDIATE"), inline=options.get("short", False)
            )
        )

    return engine


class Database:
    """The engine and session factory a process shares; `transaction()` is the unit of work."""

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.url = url
        self.schema = schema
        self.engine = create_engine(url, schema=schema, echo=echo)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite = is_sqlite(url)
        self._writer_loop: asyncio.AbstractEventLoop | None = None
        self._writer_lock = asyncio.Lock()

    @property
    def is_sqlite(self) -> bool:
        return self._sqlite

    @asynccontextmanager
    async def transaction(self, *, short: bool = False) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error.

        `short` promises a few statements on indexes and nothing else awaited (a survey
        event): on SQLite they run on the event loop's thread, without the trips to the
        connection's thread that would cost more than they do.
        """
        async with self._writer_turn(), self.sessions() as session, session.begin():
            if short and self._sqlite:
                await session.connection(execution_options={"short": True})
            yield session

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        """On SQLite, wait for this process's other write transactions to end first.

        SQLite lets one writer in at a time; a second BEGIN IMMEDIATE waits in SQLite's busy
        handler, which sleeps in steps of up to 100 ms however soon the lock is free. Queued
        here instead, each writer starts the moment the one before it commits. busy_timeout
        still covers other processes (a `sipas` command beside `sipas serve`), and a writer
        gives up after as long here. Re-entrant within one task, where a nested transaction
        behaves as it did without the queue.
        """
        task = asyncio.current_task()
        if not self._sqlite or _WRITER_TURN_HOLDER.get() is task:
            yield
            return
        loop = asyncio.get_running_loop()
        if self._writer_loop is not loop:  # an asyncio.Lock serves the loop it was made in
            self._writer_loop, self._writer_lock = loop, asyncio.Lock()
        try:
            async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
                await self._writer_lock.acquire()
        except TimeoutError:
            raise TimeoutError("database is locked: other writers held it too long") from None
        holder = _WRITER_TURN_HOLDER.set(task)
        try:
            yield
        finally:
            _WRITER_TURN_HOLDER.reset(holder)
            self._writer_lock.release()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only: on SQLite it does not take the write lock."""
        async with self.sessions() as session:
            if self.is_sqlite:
                await session.connection(execution_options={"sqlite_begin": "DEFERRED"})
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
