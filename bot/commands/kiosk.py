"""`sipas kiosk`: long-lived URLs for a counter's tablet running the web survey, and their revocation."""

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
from bot.settings import Settings
from storage.db import AsyncSession
from storage.kiosks import KioskError, issue_kiosk, list_kiosks, revoke_kiosk
from web.survey.paths import kiosk_link

T = TypeVar("T")


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        async with open_database(settings) as database, database.transaction() as tx:
            return await work(tx)

    try:
        return asyncio.run(run())
    except KioskError as error:
        raise click.ClickException(str(error)) from None


def _base_url(settings: Settings) -> str:
    """Where tablets reach the web app: the public URL, else where it listens."""
    return settings.public_url or f"http://{settings.http_host}:{settings.http_port}"


@click.group("kiosk", invoke_without_command=True)
@click.option("--service-point", "code", help="The counter's code, e.g. HN-00004-01.")
@click.pass_context
def kiosk_group(context: click.Context, code: str | None) -> None:
    """Print a new kiosk URL for a counter's tablet (`sipas kiosk --service-point CODE`).

    The tablet opens the URL and runs the web survey full screen, one respondent
    after another: the page goes back to the start a few seconds after the thanks
    and after a minute without use, and keeps nothing between respondents
    (responses carry channel `kiosk`). The URL is shown once; only a keyed hash of
    it is stored. Revoke a lost one with `sipas kiosk revoke ID`. Without
    SIPAS_PUBLIC_URL the URL names SIPAS_HTTP_HOST:SIPAS_HTTP_PORT.
    """
    if context.invoked_subcommand is not None:
        if code is not None:
            raise click.UsageError("--service-point goes without a subcommand")
        return
    if code is None:
        raise click.UsageError("give --service-point CODE, or a subcommand (list, revoke)")
    settings = settings_or_exit()
    secret = settings.secret()
    issued = _in_transaction(
        settings,
        lambda tx: issue_kiosk(tx, secret, service_point_code=code, now=datetime.now(UTC)),
    )
    click.echo(f"kiosk        {issued.kiosk.id} at {code}")
    click.echo(f"url          {kiosk_link(_base_url(settings), issued.token)}")
    click.echo(f"the URL is shown only now; revoke it with `sipas kiosk revoke {issued.kiosk.id}`")


@kiosk_group.command("revoke")
@click.argument("kiosk_id")
def revoke_command(kiosk_id: str) -> None:
    """Revoke kiosk KIOSK_ID: its URL shows "no longer in use" from the next tap on."""
    kiosk = _in_transaction(
        settings_or_exit(), lambda tx: revoke_kiosk(tx, kiosk_id, datetime.now(UTC))
    )
    click.echo(
        f"revoked kiosk {kiosk.id} at {kiosk.service_point_code} "
        f"({kiosk.revoked_at:%Y-%m-%d %H:%M} UTC)"
    )


@kiosk_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of objects, for other tools.")
def list_command(as_json: bool) -> None:
    """List kiosks (never their URLs: they are not stored)."""
    kiosks = _in_transaction(settings_or_exit(), list_kiosks)
    if as_json:
        rows: list[dict[str, Any]] = [
            {
                "id": kiosk.id,
                "service_point": kiosk.service_point_code,
                "created_at": kiosk.created_at.isoformat(),
                "revoked_at": kiosk.revoked_at.isoformat() if kiosk.revoked_at else None,
            }
            for kiosk in kiosks
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("id", "service point", "created", "revoked")
    for kiosk in kiosks:
        table.add_row(
            kiosk.id,
            kiosk.service_point_code,
            f"{kiosk.created_at:%Y-%m-%d %H:%M}",
            f"{kiosk.revoked_at:%Y-%m-%d %H:%M}" if kiosk.revoked_at else "",
        )
    Console().print(table)
    click.echo(f"{len(kiosks)} kiosk{'s' if len(kiosks) != 1 else ''}")
