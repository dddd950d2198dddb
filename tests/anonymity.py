"""Test support: everything a database holds, as text, to search for identifiers."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData, select
from sqlalchemy.engine import make_url

from storage.db import Database


async def database_text(database: Database) -> str:
    """Every value of every table (reflected, so tables added later are searched too),
    and for SQLite the raw bytes of the file and its write-ahead log."""
    chunks: list[str] = []
    async with database.reading() as tx:
        metadata = MetaData()
        await tx.run_sync(lambda sync: metadata.reflect(bind=sync.connection()))
        for table in metadata.sorted_tables:
            for row in (await tx.execute(select(table))).tuples():
                chunks.append(" ".join(str(value) for value in row))
    if database.is_sqlite:
        path = Path(make_url(database.url).database or "")
        for file in (path, path.with_name(path.name + "-wal")):
            if file.exists():
                chunks.append(file.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(chunks)
