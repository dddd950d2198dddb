"""Schema migrations: bring a database to the newest revision (Alembic, run in a worker thread)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str, *, schema: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["schema"] = schema
    return config


def upgrade_sync(url: str, *, schema: str | None = None, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (blocking)."""
    command.upgrade(alembic_config(url, schema=schema), revision)


async def upgrade(url: str, *, schema: str | None = None, revision: str = "head") -> None:
    """Upgrade from async code: Alembic runs its own event loop, so it gets its own thread."""
    await asyncio.to_thread(upgrade_sync, url, schema=schema, revision=revision)
