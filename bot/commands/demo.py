"""`sipas demo`: the product at a glance on a throwaway embedded database."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click

from analytics.days import default_month, reporting_day
from analytics.wording import period_name
from bot.assembly import build_engine
from bot.commands.aggregate import aggregate_command
from bot.commands.chat import read_line
from bot.commands.export import export_command
from bot.commands.serve import serve
from bot.commands.simulate import simulate_command
from bot.commands.summary import summary_command
from bot.commands.units import units_group
from bot.runtime import open_database, settings_or_exit
from bot.settings import Settings
from channels.console import ConsoleSession
from storage.invitations import counter_payload
from storage.staff import add_staff, set_password
from web.survey.paths import landing_link

DEMO_COUNTER = "HN-00004-01"
DEMO_STAFF = "demo.admin"
DEMO_MIN_CELL_SIZE = 5


def _section(title: str) -> None:
    click.secho(f"\n== {title} ==", bold=True)


@click.command("demo")
@click.option("--respondents", type=click.IntRange(min=50), default=1500, show_default=True)
@click.option("--days", type=click.IntRange(min=1, max=366), default=30, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to keep the demo database and files (default: a new temporary folder).",
)
@click.option("--no-serve", is_flag=True, help="Stop after the figures instead of serving.")
@click.option("--no-chat", is_flag=True, help="Do not offer the survey in this terminal.")
@click.pass_context
def demo_command(
    context: click.Context,
    respondents: int,
    days: int,
    seed: int,
    directory: Path | None,
    no_serve: bool,
    no_chat: bool,
) -> None:
    """Show the whole product on a throwaway SQLite database.

    Loads the Hà Nội sample units, lets simulated respondents take the survey
    through the real engine for a month, runs the nightly aggregation, prints this
    month's figures (the last complete month's early in a month, and says so) and writes
    the scoring export; then serves the web app (the
    staff dashboard with a printed demo login, a counter's landing page and the web
    survey, the invitation API, Telegram too when SIPAS_TELEGRAM_TOKEN is set) and
    offers you the survey in this terminal.
    Nothing touches your configured database.
    """
    folder = directory or Path(tempfile.mkdtemp(prefix="sipas-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    # The demo's own embedded database and secret; simulated answers count here,
    # which a real deployment never does unless asked.
    os.environ["SIPAS_DATABASE_URL"] = f"sqlite+aiosqlite:///{folder / 'demo.db'}"
    os.environ["SIPAS_SECRET_KEY_FILE"] = str(folder / "sipas.secret")
    os.environ["SIPAS_EXPORT_DIR"] = str(folder / "exports")
    os.environ["SIPAS_INCLUDE_SIMULATED"] = "true"
    # Synthetic people spread over 126 xã/phường: a smaller cell than a deployment's 10 lets
    # the first picture show figures (still suppressed below it, as everywhere).
    os.environ.setdefault("SIPAS_MIN_CELL_SIZE", str(DEMO_MIN_CELL_SIZE))
    os.environ.pop("SIPAS_SECRET_KEY", None)
    os.environ.setdefault("SIPAS_LOG_LEVEL", "WARNING")
    settings = settings_or_exit()
    click.echo(f"demo folder: {folder}")

    _section("1. Units: Hà Nội after the 2025 reform, with sample counters")
    context.invoke(units_group.commands["load"], sample=True)

    _section(f"2. {respondents} simulated respondents take the survey over {days} days")
    context.invoke(simulate_command, respondents=respondents, days=days, seed=seed)

    _section("3. The nightly aggregation")
    context.invoke(aggregate_command, full=True)

    today = reporting_day(datetime.now(UTC), settings.zone)
    month, passed_over = default_month(today, today)
    click.echo(f"cells of fewer than {settings.min_cell_size} respondents are suppressed")
    if passed_over is None:
        _section(f"4. This month's satisfaction per ward and commune ({month.label})")
    else:
        _section(
            f"4. Satisfaction per ward and commune in {period_name(month, 'en')}, the last "
            f"complete month ({period_name(passed_over, 'en')} is {today.day} days old)"
        )
    context.invoke(summary_command, period_text=month.label)

    _section("5. The file the PAR Index scoring pipeline reads")
    exports = folder / "exports"
    exports.mkdir(exist_ok=True)
    context.invoke(
        export_command,
        period_text=month.label,
        level="commune",
        fmt="csv",
        out=exports / f"sipas-{month.label}-commune.csv",
    )

    if no_serve:
        return
    password = secrets.token_urlsafe(12)
    asyncio.run(_create_demo_staff(settings, password))
    _section("6. The service")
    base = f"http://{settings.http_host}:{settings.http_port}"
    click.echo(f"dashboard        {base}/dashboard   (login {DEMO_STAFF} / {password})")
    counter = counter_payload(settings.secret(), DEMO_COUNTER)
    click.echo(f"web survey       {landing_link(base, counter)}   (a counter's QR code page)")
    click.echo(f"invitation API   {base}/docs")
    click.echo(
        "  a key for it:  "
        f"SIPAS_DATABASE_URL={settings.database_url} SIPAS_SECRET_KEY_FILE={settings.secret_key_file} "
        "sipas apikey create --name demo --all-units"
    )
    if settings.telegram_token is None:
        click.echo("Telegram         off: set SIPAS_TELEGRAM_TOKEN to survey over Telegram too")
    chat = not no_chat and sys.stdin.isatty()
    if chat:
        click.echo("\nTake the survey yourself below (numbers choose, 0 skips, < goes back).")
    click.echo("Ctrl-C stops the demo.\n")
    asyncio.run(_serve_and_chat(settings, chat))


async def _create_demo_staff(settings: Settings, password: str) -> None:
    async with open_database(settings) as database, database.transaction() as session:
        issued = await add_staff(
            session,
            settings.secret(),
            name=DEMO_STAFF,
            role="admin",
            unit_codes=[],
            now=datetime.now(UTC),
        )
        set_password(issued.account, password)


async def _serve_and_chat(settings: Settings, chat: bool) -> None:
    stop = asyncio.Event()
    service = asyncio.create_task(serve(settings, stop=stop))
    if chat:
        async with open_database(settings) as database:
            session = ConsoleSession(build_engine(settings, database).handle, read_line, click.echo)
            await session.run(counter_payload(settings.secret(), DEMO_COUNTER))
        click.echo("\nThe dashboard keeps running; Ctrl-C stops the demo.")
    await service
