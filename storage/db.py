"""Database connection: one async engine per process, SQLite tuned for a single file, PostgreSQL for scale."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, Executable, Result, ScalarResult, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)

# What `Database.transaction()` and `reading()` yield: the layers above name it from here, so
# that none of them imports SQLAlchemy, not even for a type.
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession
from sqlalchemy.orm import Session

from storage.sqlite_connection import connect_args as one_trip_connect_args

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_RECYCLE_SECONDS = 1_800  # a pooled PostgreSQL connection older than this is replaced
POSTGRES_POOL_SIZE = 10  # connections each process keeps to PostgreSQL (see `create_engine`)
POSTGRES_POOL_WAIT_SECONDS = 30.0  # how long a transaction waits for one of them
# Short transactions on the loop engine between two checkpoints: a survey event writes about
# six pages, so the log stays under SQLite's own threshold of 1,000 pages.
CHECKPOINT_EVERY_COMMITS = 100
# How long the checkpoint after a deletion waits for other processes' readers and writer.
ERASE_WAIT_MS = 5_000
# The task holding this process's SQLite writer turn (a task, not a flag: a task started
# inside a transaction inherits the context, and must still queue).
_WRITER_TURN_HOLDER: ContextVar[asyncio.Task[Any] | None] = ContextVar(
    "writer_turn_holder", default=None
)


_Row = TypeVar("_Row")


class Transaction(Protocol):
    """What repositories use of a session: an `AsyncSession`, or a `LoopSession` in a short
    transaction on SQLite."""

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]: ...

    async def scalars(self, statement: Executable, params: Any = None) -> ScalarResult[Any]: ...

    async def scalar(self, statement: Executable, params: Any = None) -> Any: ...

    async def get(self, entity: type[_Row], ident: Any) -> _Row | None: ...

    async def flush(self) -> None: ...

    async def refresh(self, instance: object) -> None: ...

    def add(self, instance: object) -> None: ...

    def get_bind(self) -> Engine | Connection: ...


class Statement(Protocol):
    """What runs one statement: a `Transaction`, or a connection in autocommit."""

    async def execute(self, statement: Executable, params: Any = None, /) -> Result[Any]: ...


class LoopSession:
    """A short transaction on SQLite behind the `Transaction` methods: each call runs at once
    on the event loop's thread, on the loop engine's one kept connection.

    Core statements (every statement of a survey event) go straight to the connection; ORM
    work (a survey's first and last events) to a session joined to the connection's
    transaction. An ORM session's own begin and commit cost more than an event's SQLite
    work, so only the transactions that use one pay for it.
    """

    def __init__(self, connection: Connection, session: Session) -> None:
        self._connection = connection
        self._transaction = connection.begin()  # BEGIN IMMEDIATE (the "begin" event)
        self._session = session
        self._session_used = False

    def _orm(self) -> Session:
        self._session_used = True
        return self._session

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]:
        if statement._propagate_attrs.get("compile_state_plugin") == "orm":
            return self._orm().execute(statement, params)
        return self._connection.execute(statement, params)

    async def scalars(self, statement: Executable, params: Any = None) -> ScalarResult[Any]:
        return self._orm().scalars(statement, params)

    async def scalar(self, statement: Executable, params: Any = None) -> Any:
        return self._orm().scalar(statement, params)

    async def get(self, entity: type[_Row], ident: Any) -> _Row | None:
        return self._orm().get(entity, ident)

    async def flush(self) -> None:
        self._orm().flush()

    async def refresh(self, instance: object) -> None:
        self._orm().refresh(instance)

    def add(self, instance: object) -> None:
        self._orm().add(instance)

    def get_bind(self) -> Engine | Connection:
        return self._connection

    def commit(self) -> None:
        """Flush what the ORM session holds, then commit."""
        if self._session_used:
            self._session.commit()  # a flush: the connection's transaction is not its own
            self._session.close()
        self._transaction.commit()

    def rollback(self) -> None:
        """Roll back whatever transaction the connection is in (a statement run after a failed
        flush would have begun another); the ORM session expires and forgets what it held."""
        if self._session_used:
            self._session.rollback()
            self._session.close()
        self._connection.rollback()


def is_sqlite(url: str) -> bool:
    """Whether a database URL names the embedded SQLite backend."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, schema: str | None = None, echo: bool = False) -> AsyncEngine:
    """An async engine for `url`; `schema` pins the PostgreSQL search path (tests isolate runs so)."""
    if is_sqlite(url):
        create_private_sqlite_file(url)
        return _sqlite_engine(url, echo=echo)
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    # No ping before each use of a pooled connection: asyncpg's costs three round trips
    # (BEGIN, a query, ROLLBACK), which took a sixth of a worker's CPU under load, for every
    # transaction. A connection found dead (the server restarted) fails its transaction,
    # which the survey answers with "try again" and a webhook with 500 (delivered again),
    # and SQLAlchemy then replaces every pooled connection; connections idle for long are
    # replaced before firewalls drop them.
    # Ten kept connections per process, none beyond: a connection over the pool's size is
    # closed as soon as it is returned to a full pool, so under a burst such connections
    # were opened and closed again several times a second, each a new server process on
    # PostgreSQL's side (5% of a worker's CPU in the first seconds of 1,000 respondents);
    # a transaction waits for a kept one instead. No path holds two at once.
    return create_async_engine(
        url,
        echo=echo,
        pool_recycle=POSTGRES_RECYCLE_SECONDS,
        connect_args=connect_args,
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=0,
        pool_timeout=POSTGRES_POOL_WAIT_SECONDS,
    )


def create_private_sqlite_file(url: str) -> None:
    """Create the SQLite file of `url`, readable and writable by its owner only, if it is new.

    SQLite would create it with the process's umask (0644, usually); its -wal and -shm
    files take the database file's permissions, so they are owner-only too. An existing
    file keeps its mode: a warning says when others may read it.
    """
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = os.path.abspath(name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    except FileExistsError:
        if os.stat(path).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s is readable by others: chmod 600 it (and its -wal, -shm)", path)
        return
    except FileNotFoundError:
        return  # no such folder: SQLite says so when it opens the file
    os.close(fd)


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
        _configure_sqlite(dbapi_connection, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front so a writer from another process waits on
        # busy_timeout instead of failing (this process's writers queue in
        # `Database._writer_turn`); read-only work asks for DEFERRED.
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        # Straight to the driver's cursor: every event begins a transaction, and the
        # statement machinery of exec_driver_sql costs more than the BEGIN itself.
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute(f"BEGIN {mode}")
        finally:
            cursor.close()

    return engine


def _configure_sqlite(
    dbapi_connection: Any, *, busy_timeout_ms: int, checkpoints: bool = True
) -> str:
    """Set up a new SQLite connection (through the driver or its async adapter); the journal
    mode it got: "wal" unless the file system cannot share memory between processes.

    Without `checkpoints`, its commits leave the write-ahead log to grow until a checkpoint
    run elsewhere copies it into the database file (`Database._checkpoint`).
    """
    # The driver's own implicit BEGIN would start a deferred transaction and upgrade it to
    # a write later, which SQLite may refuse with "database is locked" under concurrency;
    # BEGIN is issued on the engines' "begin" events instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        (journal_mode,) = cursor.fetchone()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Deleted rows are overwritten with zeros, not only unlinked: a withdrawn answer must
        # not stay readable in the file's free space (see `Database.erase_deleted`).
        cursor.execute("PRAGMA secure_delete=ON")
        if not checkpoints:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
    finally:
        cursor.close()
    return str(journal_mode).lower()


def _loop_engine(url: str, *, echo: bool) -> Engine:
    """The SQLite file of `url` through the plain driver, for short transactions on the event
    loop's thread: nothing on it waits for a lock (timeout 0, also while connecting), and it
    leaves checkpoints, which write and sync the database file, to another thread."""
    # One kept connection, no more: short transactions come one at a time through the
    # writer turn, and one nested in another of the same task does not come here.
    engine = create_sync_engine(
        make_url(url).set(drivername="sqlite"),
        echo=echo,
        pool_size=1,
        max_overflow=0,
        connect_args={"timeout": 0},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if _configure_sqlite(dbapi_connection, busy_timeout_ms=0, checkpoints=False) != "wal":
            # Without WAL a COMMIT waits for readers, which the event loop must not do.
            raise _NoWal

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.connection.dbapi_connection.execute("BEGIN IMMEDIATE")

    return engine


class _NoWal(Exception):
    """The file is not in WAL mode: short transactions go to the async engine's thread."""


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused for a lock held elsewhere, in any of busy's kinds: the extended
    codes keep it in their low byte (SQLITE_BUSY_RECOVERY while another connection replays the
    WAL after a crash, SQLITE_BUSY_SNAPSHOT)."""
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


class _DryRun(Exception):
    """Raised at the end of a dry run's transaction, to roll it back."""


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
        self._loop_engine = _loop_engine(url, echo=echo) if self._sqlite else None
        # Its one connection, kept for every short transaction (one at a time), and an ORM
        # session joined to each of them: opened at the first (see `_begin_on_loop`).
        self._loop: tuple[Connection, Session] | None = None
        self._loop_commits = 0  # since the last checkpoint
        self._checkpointing: asyncio.Task[None] | None = None
        self._erasure_pending = False  # a truncating checkpoint is owed (see `erase_deleted`)

    @property
    def is_sqlite(self) -> bool:
        return self._sqlite

    @asynccontextmanager
    async def transaction(self, *, dry_run: bool = False) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error.

        With `dry_run`, rolled back on success too: what a command would write is checked
        and counted, and nothing is kept.
        """
        try:
            async with self._writer_turn(), self.sessions() as session, session.begin():
                yield session
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass

    @asynccontextmanager
    async def short_transaction(self) -> AsyncIterator[Transaction]:
        """`transaction()` for a few statements on indexes with nothing else awaited (a survey
        event). On SQLite it runs on the event loop's thread through the plain driver, when
        the write lock is free at once; else, and on PostgreSQL, it is a `transaction()`.

        SQLite's work per statement is tens of microseconds; SQLAlchemy's async layer (a
        greenlet per call, the driver's thread and its trips back to the event loop) costs
        several times that, and under load every trip is also a wait for the event loop while
        the one write lock is held.
        """
        # A transaction nested in another of the same task (its writer turn is re-entrant)
        # cannot have the lock the outer one holds: it keeps to the async engine, as before.
        nested = _WRITER_TURN_HOLDER.get() is asyncio.current_task()
        async with self._writer_turn():
            loop = None if nested else self._begin_on_loop()
            if loop is None:
                async with self.transaction() as async_session:
                    yield async_session
                return
            try:
                yield loop
            except BaseException:
                self._end_on_loop(loop.rollback)
                raise
            else:
                self._end_on_loop(loop.commit)
        self._loop_commits += 1
        if self._loop_commits >= CHECKPOINT_EVERY_COMMITS and self._checkpointing is None:
            self._loop_commits = 0
            self._checkpointing = asyncio.create_task(self._checkpoint(), name="sqlite-checkpoint")

    @asynccontextmanager
    async def single_statement(self) -> AsyncIterator[Statement]:
        """For one statement that is atomic on its own: on PostgreSQL it runs in autocommit,
        without a transaction's BEGIN and COMMIT round trips (two of three for a single
        read or upsert); on SQLite it is a short transaction."""
        if self._sqlite:
            async with self.short_transaction() as transaction:
                yield transaction
            return
        async with self.engine.connect() as connection:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")

    async def _checkpoint(self) -> None:
        """Copy the write-ahead log into the database file, in aiosqlite's thread; what the loop
        engine's commits leave. An erasure that could not finish is finished here.
        """
        try:
            if self._erasure_pending:
                await self.erase_deleted()
            else:
                await self._wal_checkpoint("PASSIVE")
        except Exception:
            log.warning("SQLite checkpoint failed; the next one will try again", exc_info=True)
        finally:
            self._checkpointing = None

    async def erase_deleted(self) -> None:
        """Make what was deleted unreadable on disk (a withdrawal): copy the write-ahead log,
        where the deleted rows' old pages still are, into the database file and truncate it.

        With secure_delete on, the pages copied hold zeros where the rows were. A checkpoint
        that must wait for other processes' readers or writer waits at most
        `ERASE_WAIT_MS`, as other events of this process queue behind it; if that is not
        enough, the next checkpoint truncates the log instead. Nothing to do on PostgreSQL,
        whose deleted rows only its VACUUM (autovacuum) reclaims.
        """
        if not self._sqlite:
            return
        self._erasure_pending = not await self._wal_checkpoint("TRUNCATE", wait_ms=ERASE_WAIT_MS)
        if self._erasure_pending:
            log.warning(
                "SQLite was busy: the write-ahead log is truncated at the next checkpoint instead"
            )

    async def _wal_checkpoint(self, mode: str, *, wait_ms: int | None = None) -> bool:
        """Run `PRAGMA wal_checkpoint(mode)`; whether it went through the whole log.

        In the writer turn, between two events: a checkpoint overtaken by new commits would
        never catch up with the log's end, and only a log copied to its end is reused from
        its start by the next commit instead of growing.
        """
        async with self._writer_turn(), self.engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None, "a connection just checked out is open"
            # Straight to the driver: through SQLAlchemy the statement would begin a
            # write transaction, inside which SQLite cannot checkpoint.
            if wait_ms is not None:
                await driver.execute_fetchall(f"PRAGMA busy_timeout={wait_ms}")
            try:
                ((busy, _pages, _copied),) = await driver.execute_fetchall(
                    f"PRAGMA wal_checkpoint({mode})"
                )
            finally:
                if wait_ms is not None:
                    await driver.execute_fetchall(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        return not busy

    def _begin_on_loop(self) -> LoopSession | None:
        """A short transaction on the loop engine with the write lock taken; None if that cannot
        be had at once (another process writes), or the file is not in WAL mode, or not SQLite."""
        if self._loop_engine is None:
            return None
        try:
            if self._loop is None:
                connection = self._loop_engine.connect()
                # "rollback_only": the session's commit flushes, and leaves the connection's
                # transaction to `LoopSession.commit`.
                session = Session(
                    connection, join_transaction_mode="rollback_only", expire_on_commit=False
                )
                self._loop = connection, session
            return LoopSession(*self._loop)  # BEGIN IMMEDIATE, without waiting
        except _NoWal:
            self._close_loop_engine()
            return None
        except (sqlite3.OperationalError, DBAPIError) as error:
            # Raised by the "begin" event as the driver raised it; wrapped, if SQLAlchemy ever does.
            cause = error.orig if isinstance(error, DBAPIError) else error
            if isinstance(cause, sqlite3.OperationalError) and is_busy(cause):
                return None
            self._drop_loop_connection(invalidate=True)  # the next event starts afresh
            raise

    def _end_on_loop(self, end: Callable[[], None]) -> None:
        """Commit or roll back a short transaction on the loop engine (`end`). If that fails, or
        the driver is still inside a transaction after it (a COMMIT refused by a deferred
        constraint leaves SQLite there, while SQLAlchemy takes it for ended), the connection
        is closed, which rolls back, and the next short transaction opens another."""
        try:
            end()
        except BaseException:
            self._drop_loop_connection(invalidate=True)
            raise
        if self._loop is not None:
            driver = self._loop[0].connection.dbapi_connection
            if driver is None or driver.in_transaction:
                self._drop_loop_connection(invalidate=True)

    def _drop_loop_connection(self, *, invalidate: bool = False) -> None:
        """Close the loop engine's kept connection (`invalidate`: for good, not back to the
        pool), and its ORM session."""
        if self._loop is None:
            return
        connection, session = self._loop
        self._loop = None
        try:
            session.close()
        finally:
            if invalidate:
                connection.invalidate()
            connection.close()

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

    @asynccontextmanager
    async def own_connection(self) -> AsyncIterator[AsyncConnection]:
        """One connection of the pool, kept for several transactions that share what it holds
        besides the database: scratch files attached to it (`scratch_on`). Begin them with
        `reading_on` and `writing_on`."""
        async with self.engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def scratch_on(
        self, connection: AsyncConnection, path: Path, name: str
    ) -> AsyncIterator[None]:
        """SQLite only: the file `path` attached to `connection` (`own_connection`) as schema
        `name` until the block ends, for tables of work in progress. Written without a journal
        or syncs and kept in a 64 MB cache rather than SQLite's 2 MB: it is thrown away after
        use, so a crash loses nothing. Attached between transactions (SQLite refuses to inside
        one); written from a `reading_on` transaction, it takes no lock on the database file.
        Several connections may each attach their own file, and one of them another's."""
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None, "a connection checked out of the pool has its driver's"

        async def run(sql: str, *parameters: str) -> None:
            cursor = await driver.execute(sql, parameters)
            await cursor.close()

        await run(f"ATTACH DATABASE ? AS {name}", str(path))
        try:
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -65536"):
                await run(f"PRAGMA {name}.{pragma}")
            yield
        finally:
            # A connection a failure invalidated (a statement cancelled) is closed, and its
            # attachment gone with it.
            if not connection.invalidated:
                try:
                    await run(f"DETACH DATABASE {name}")
                except Exception:
                    # Still attached (a transaction left open by the failure that ends the
                    # block): the next borrower of this pooled connection would find the name
                    # taken, so it is not pooled again. The failure itself goes on up.
                    log.warning("could not detach %s; dropping its connection", name, exc_info=True)
                    await connection.invalidate()

    @asynccontextmanager
    async def reading_on(self, connection: AsyncConnection) -> AsyncIterator[AsyncConnection]:
        """A transaction on `connection` (`own_connection`) that reads the database and may
        write the scratch files attached to it: on SQLite it does not take the write lock of
        the database file."""
        await connection.execution_options(sqlite_begin="DEFERRED")
        async with connection.begin():
            yield connection

    @asynccontextmanager
    async def writing_on(self, connection: AsyncConnection) -> AsyncIterator[AsyncConnection]:
        """A write transaction on `connection` (`own_connection`), queued as `transaction()`'s."""
        await connection.execution_options(sqlite_begin="IMMEDIATE")
        async with self._writer_turn(), connection.begin():
            yield connection

    async def dispose(self) -> None:
        if self._checkpointing is not None:
            await self._checkpointing
        # First: the last connection to close checkpoints the log, in aiosqlite's thread.
        self._close_loop_engine()
        await self.engine.dispose()

    def _close_loop_engine(self) -> None:
        self._drop_loop_connection()
        if self._loop_engine is not None:
            self._loop_engine.dispose()
            self._loop_engine = None
