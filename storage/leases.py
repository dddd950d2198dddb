"""Database leases: a named periodic job runs in one process at a time, across processes and hosts."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import Database
from storage.models import Lease

__all__ = ["acquire_lease", "default_holder", "release_lease"]


def default_holder() -> str:
    """A holder name that tells an operator which process holds a lease."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def acquire_lease(
    database: Database,
    name: str,
    holder: str,
    ttl: timedelta,
    *,
    now: datetime | None = None,
) -> bool:
    """Take (or renew) the lease `name` for `ttl`; False when another holder has it unexpired.

    One statement: insert, or take over a row that has expired or is already ours.
    Both SQLite and PostgreSQL serialise the conflict on the primary key, so two
    processes racing for a free lease cannot both win.
    """
    moment = now or datetime.now(UTC)
    values = {"name": name, "holder": holder, "expires_at": moment + ttl}
    insert = (sqlite.insert if database.is_sqlite else postgresql.insert)(Lease).values(values)
    statement = insert.on_conflict_do_update(
        index_elements=[Lease.name],
        set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
        where=(Lease.expires_at < moment) | (Lease.holder == holder),
    ).returning(Lease.holder)
    async with database.transaction() as session:
        won = (await session.execute(statement)).scalar_one_or_none()
    return won == holder


async def release_lease(database: Database, name: str, holder: str) -> None:
    """Give the lease back, if we still hold it."""
    async with database.transaction() as session:
        await session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
