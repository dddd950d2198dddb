"""Rate limits the worker processes share: token buckets kept in the database, one row each.

Several workers (`sipas serve --workers N`, PostgreSQL) send for one Telegram bot, whose
flood limit Telegram counts together, and answer one API key, whose rate limit is the
key's: each worker takes its turns from the same row, in one statement, so N workers stay
within one limit, not N. A bucket is taken from even when empty: the token then goes below
zero and the taker waits until its turn (a queue); a taker that would rather refuse gives
it back. On SQLite one process serves, and keeps its buckets in memory
(`storage.api_keys.RateLimiter`).

The clock is the caller's, in seconds (`time.monotonic()`: one clock for the processes of
one machine); a bucket whose clock went back (a restart of the machine) starts full.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

from sqlalchemy import Float, String, bindparam, delete, text, update

from storage.api_keys import RateLimiter
from storage.db import Database
from storage.models import SharedLimit

__all__ = ["SharedBuckets", "SharedRateLimiter"]

FORGET_AFTER_SECONDS = 86_400.0  # a bucket untouched for a day has refilled: its row goes
FORGET_EVERY_TAKES = 1_000  # how often a process looks for such rows


# One statement takes a token, refilling the bucket first by the time since it was last taken
# from. SQL text, which SQLite and PostgreSQL read alike, rather than the dialects'
# `insert().on_conflict_do_update()`: SQLAlchemy cannot cache those, and compiling it again
# at every message cost a worker more CPU than PostgreSQL's work.
_TAKE = text(
    """
    INSERT INTO shared_limits (name, tokens, at) VALUES (:name, :burst - 1.0, :now)
    ON CONFLICT (name) DO UPDATE SET
        tokens = CASE
            WHEN excluded.at < shared_limits.at THEN :burst
            WHEN shared_limits.tokens + (excluded.at - shared_limits.at) * :per_second > :burst
                THEN :burst
            ELSE shared_limits.tokens + (excluded.at - shared_limits.at) * :per_second
        END - 1.0,
        at = excluded.at
    RETURNING tokens
    """
).bindparams(
    bindparam("name", type_=String()),
    bindparam("burst", type_=Float()),
    bindparam("per_second", type_=Float()),
    bindparam("now", type_=Float()),
)


class SharedBuckets:
    """The buckets of one database, taken from by this process."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._takes = 0

    async def take(self, name: str, *, per_second: float, burst: float, now: float) -> float:
        """Take one token from the bucket `name` (refilled at `per_second`, holding at most
        `burst`): the seconds to wait before using it, 0 when the bucket had one."""
        parameters = {"name": name, "per_second": per_second, "burst": burst, "now": now}
        # Every message a worker sends takes a token: one statement, no transaction around it.
        async with self.database.single_statement() as statement:
            tokens: float = (await statement.execute(_TAKE, parameters)).scalar_one()
        self._takes += 1
        if self._takes % FORGET_EVERY_TAKES == 0:
            await self.forget_refilled(now)
        return max(0.0, -tokens / per_second)

    async def give_back(self, name: str) -> None:
        """Return the token last taken from `name`, which was not used."""
        async with self.database.transaction() as session:
            await session.execute(
                update(SharedLimit)
                .where(SharedLimit.name == name)
                .values(tokens=SharedLimit.tokens + 1.0)
            )

    async def forget_refilled(self, now: float) -> None:
        """Delete the buckets untouched for a day: full again, they equal a new one."""
        async with self.database.transaction() as session:
            await session.execute(
                delete(SharedLimit).where(SharedLimit.at < now - FORGET_AFTER_SECONDS)
            )


class SharedRateLimiter:
    """`RateLimiter`'s limit per key (an API key's id, a keyed hash of a client address), one
    for all the workers on PostgreSQL; in this process's memory on SQLite.

    `scope` names what is limited (the keys of two limiters never meet). Refused requests
    take nothing: a client that keeps asking waits no longer than one that waits.
    """

    def __init__(
        self, database: Database, scope: str, per_minute: float, *, burst: int | None = None
    ) -> None:
        self.scope = scope
        self._local = RateLimiter(per_minute, burst=burst)  # checks the arguments, too
        self._buckets = None if database.is_sqlite else SharedBuckets(database)

    async def acquire(self, key: Hashable, now: float) -> int | None:
        """Take one request from the key's bucket: None if allowed, else seconds to wait."""
        if self._buckets is None:
            return self._local.acquire(key, now)
        name = f"{self.scope}:{key}"
        per_second = self._local.refill_per_second
        wait = await self._buckets.take(
            name, per_second=per_second, burst=self._local.capacity, now=now
        )
        if wait <= 0:
            return None
        await self._buckets.give_back(name)
        return max(1, math.ceil(wait))
