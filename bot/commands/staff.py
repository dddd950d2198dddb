"""`sipas staff`: staff accounts for the dashboard and the staff chat commands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import click
from rich.console import Console
from rich.table import Table

from bot.runtime import open_database, settings_or_exit
from bot.settings import Settings
from storage.db import AsyncSession
from storage.models import StaffAccount
from storage.staff import (
    ROLES,
    NewStaff,
    StaffError,
    add_staff,
    disable_staff,
    find_staff,
    issue_codes,
    list_staff,
)
from web.dashboard.paths import password_link

T = TypeVar("T")


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        async with open_database(settings) as database, database.transaction() as tx:
            return await work(tx)

    return asyncio.run(run())


def _base_url(settings: Settings) -> str:
    return settings.public_url or f"http://{settings.http_host}:{settings.http_port}"


def _scope(account: StaffAccount) -> str:
    if account.role == "admin":
        return "everything"
    return ", ".join(account.unit_codes) + " and below"


def _print_codes(settings: Settings, issued: NewStaff) -> None:
    local = issued.expires_at.astimezone(settings.zone)
    click.echo(f"one-time codes for {issued.account.name}, valid until {local:%Y-%m-%d %H:%M %Z}:")
    click.echo(f"  dashboard password: {password_link(_base_url(settings), issued.password_code)}")
    click.echo(f"    (or code {issued.password_code} on the dashboard's password page)")
    click.echo(
        f"  Telegram: send  /staff {issued.enrolment_code}  to @{settings.telegram_bot_username}"
    )
    click.echo("hand them over in person or by a trusted channel; they are not shown again.")


@click.group("staff")
def staff_group() -> None:
    """Staff accounts: the web dashboard and the staff commands in Telegram.

    A viewer sees their units and every unit below them (or their agency and its
    counters); an admin sees everything. The staff member sets their own dashboard
    password with a one-time link, and enrols their Telegram account by sending
    `/staff CODE` to the bot.
    """


@staff_group.command("add")
@click.option("--name", required=True, help="Login name, e.g. nguyen.van.a (unique).")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option(
    "--units",
    "units",
    multiple=True,
    help="Unit or agency code(s) a viewer may see, with every unit below; repeat or "
    "separate with commas, e.g. --units 00004,00008.",
)
def add_command(name: str, role: str, units: tuple[str, ...]) -> None:
    """Add a staff account and print its one-time password link and enrolment code."""
    settings = settings_or_exit()
    codes = [code.strip() for value in units for code in value.split(",") if code.strip()]
    secret = settings.secret()
    issued = _in_transaction(
        settings,
        lambda tx: add_staff(
            tx, secret, name=name, role=role, unit_codes=codes, now=datetime.now(UTC)
        ),
    )
    click.echo(
        f"added {issued.account.role} {issued.account.name!r} (id {issued.account.id}), "
        f"sees {_scope(issued.account)}"
    )
    _print_codes(settings, issued)


@staff_group.command("codes")
@click.argument("name_or_id")
def codes_command(name_or_id: str) -> None:
    """New one-time codes for NAME (a forgotten password, a new phone); older codes stop working."""
    settings = settings_or_exit()
    secret = settings.secret()

    async def work(tx: AsyncSession) -> NewStaff:
        account = await find_staff(tx, name_or_id)
        if account is None:
            raise StaffError(f"no staff account {name_or_id!r}: see `sipas staff list`")
        return await issue_codes(tx, secret, account, datetime.now(UTC))

    issued = _in_transaction(settings, work)
    _print_codes(settings, issued)
    click.echo(f"codes issued for {issued.account.name} before these no longer work")


@staff_group.command("list")
def list_command() -> None:
    """List staff accounts (never passwords or codes: only their hashes are kept)."""
    settings = settings_or_exit()
    accounts = _in_transaction(settings, list_staff)
    table = Table("id", "name", "role", "sees", "password", "telegram", "disabled")
    for account in accounts:
        table.add_row(
            str(account.id),
            account.name,
            account.role,
            _scope(account),
            "set" if account.password_hash else "not yet",
            "enrolled" if account.telegram_user_id else "",
            f"{account.disabled_at:%Y-%m-%d}" if account.disabled_at else "",
        )
    Console().print(table)
    click.echo(f"{len(accounts)} account{'s' if len(accounts) != 1 else ''}")


@staff_group.command("disable")
@click.argument("name_or_id")
def disable_command(name_or_id: str) -> None:
    """Disable NAME: dashboard sessions, codes and the Telegram binding stop working now."""
    settings = settings_or_exit()
    account = _in_transaction(settings, lambda tx: disable_staff(tx, name_or_id, datetime.now(UTC)))
    click.echo(f"disabled {account.name!r} (id {account.id})")
