"""`sipas db`: schema migrations."""

from __future__ import annotations

import click

from bot.runtime import settings_or_exit
from storage.migrate import upgrade_sync


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade_command(revision: str) -> None:
    """Apply migrations to SIPAS_DATABASE_URL (safe to repeat)."""
    settings = settings_or_exit()
    upgrade_sync(settings.database_url, revision=revision)
    click.echo(f"database at revision {revision}")
