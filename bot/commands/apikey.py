"""`sipas apikey`: keys of the one-stop information systems for the invitation API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from bot.runtime import open_database, settings_or_exit
from storage.api_keys import (
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from storage.db import AsyncSession
from storage.models import ApiKey

T = TypeVar("T")


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    settings = settings_or_exit()

    async def run() -> T:
        async with open_database(settings) as database, database.transaction() as tx:
            return await work(tx)

    return asyncio.run(run())


def _scope(api_key: ApiKey) -> str:
    return ", ".join(api_key.unit_codes) if api_key.unit_codes else "every unit"


@click.group("apikey")
def apikey_group() -> None:
    """API keys for the one-stop systems that mint invitations (/api/v1).

    A key is shown once, when it is created; only its hash is stored. A key
    is scoped to units (with every unit below them) or agencies (their
    counters). Requests go with the header `Authorization: Bearer <key>`.
    """


@apikey_group.command("create")
@click.option("--name", required=True, help="Who uses it, e.g. mot-cua-ba-dinh (unique).")
@click.option(
    "--units",
    "units",
    multiple=True,
    help="Unit code(s) the key may act on, with every unit below them, or agency code(s), "
    "with their counters; repeat or separate with commas, e.g. --units 00004,00008 or "
    "--units HN-STP.",
)
@click.option("--all-units", is_flag=True, help="No scope: the key acts on every unit.")
def create_command(name: str, units: tuple[str, ...], all_units: bool) -> None:
    """Create a key and print it once."""
    codes = [code.strip() for value in units for code in value.split(",") if code.strip()]
    if bool(codes) == all_units:
        raise click.UsageError("give --units CODE[,CODE…] or --all-units")
    created = _in_transaction(
        lambda tx: create_api_key(tx, name=name, unit_codes=codes, now=datetime.now(UTC))
    )
    click.echo(f"created key {created.api_key.name!r} (id {created.api_key.id})")
    below = " (units with those below them, agencies with their counters)" if codes else ""
    click.echo(f"scope: {_scope(created.api_key)}{below}")
    click.echo("the key is shown only now; store it in the one-stop system's settings:")
    click.echo(created.key)


@apikey_group.command("revoke")
@click.argument("name_or_id")
def revoke_command(name_or_id: str) -> None:
    """Revoke a key by NAME or id: requests with it get 401 from now on."""
    api_key = _in_transaction(lambda tx: revoke_api_key(tx, name_or_id, datetime.now(UTC)))
    click.echo(
        f"revoked key {api_key.name!r} (id {api_key.id}) at {api_key.revoked_at:%Y-%m-%d %H:%M} UTC"
    )


@apikey_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of objects, for other tools.")
def list_command(as_json: bool) -> None:
    """List keys (never the keys themselves: they are not stored)."""
    keys = _in_transaction(list_api_keys)

    def stamp(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    if as_json:
        rows: list[dict[str, Any]] = [
            {
                "id": key.id,
                "name": key.name,
                "unit_codes": key.unit_codes,
                "created_at": stamp(key.created_at),
                "last_used_at": stamp(key.last_used_at),
                "revoked_at": stamp(key.revoked_at),
            }
            for key in keys
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("id", "name", "scope", "created", "last used", "revoked")
    for key in keys:
        table.add_row(
            str(key.id),
            key.name,
            _scope(key),
            f"{key.created_at:%Y-%m-%d}",
            f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    Console().print(table)
    click.echo(f"{len(keys)} key{'s' if len(keys) != 1 else ''}")
