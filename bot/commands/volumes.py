"""`sipas volumes` (load and list the dossier volumes the one-stop system reports) and
`sipas coverage` (completed responses ÷ dossiers per authority and counter)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.commands.units import run_loader
from bot.runtime import open_database, settings_or_exit

if TYPE_CHECKING:
    from analytics.days import Period
    from storage.models import DossierVolume
    from storage.volumes import CounterVolume

PERIOD_HELP = "2026, 2026-Q4, 2026-11 (default: this month), 2026-W47, 2026-11-28."


def stored_period(text: str | None) -> Period:
    """The period --period names (default: this month), or a usage error."""
    from analytics.days import parse_period, period_of, reporting_day

    settings = settings_or_exit()
    try:
        if text:
            return parse_period(text)
        return period_of(reporting_day(datetime.now(UTC), settings.zone), "month")
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--period") from None


@click.group("volumes")
def volumes_group() -> None:
    """Dossier volumes: how many dossiers each counter received per day and authority.

    A volumes file is CSV (UTF-8, header row) with the columns service_point (a
    counter code), day (YYYY-MM-DD), authority (the code of a loaded agency or
    unit; empty: the counter's agency, else its unit) and dossiers (a whole
    number from 0). A figure for a counter, day and authority loaded before is
    replaced. Loading is all or nothing. The one-stop system may report the same
    through `POST /api/v1/volumes`.
    """


@volumes_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and count, but write nothing.")
def load_command(file: Path, dry_run: bool) -> None:
    """Load a volumes FILE (see `sipas volumes --help` for its columns)."""
    from storage.volumes import load_volumes_csv

    source = str(file)
    loader = partial(load_volumes_csv, source=source, data=file.read_bytes(), now=datetime.now(UTC))
    run_loader(loader, source, dry_run)


@volumes_group.command("list")
@click.option("--period", "period_text", help=PERIOD_HELP)
@click.option("--json", "as_json", is_flag=True, help="A JSON array, for other tools.")
def list_command(period_text: str | None, as_json: bool) -> None:
    """List the volumes of a period's days, by day, counter and authority."""
    from storage.volumes import list_volumes

    period = stored_period(period_text)
    settings = settings_or_exit()

    async def run() -> list[DossierVolume]:
        async with open_database(settings) as database, database.reading() as session:
            return await list_volumes(session, period.start, period.end)

    rows = asyncio.run(run())
    if as_json:
        listed = [
            {
                "service_point": row.service_point_code,
                "day": row.day.isoformat(),
                "authority": row.authority_code,
                "dossiers": row.dossiers,
            }
            for row in rows
        ]
        click.echo(json.dumps(listed, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(f"no volumes for {period.label}: load some with `sipas volumes load FILE.csv`")
    for row in rows:
        click.echo(
            f"{row.day} {row.service_point_code:<14} {row.authority_code:<12} {row.dossiers}"
        )


@click.command("coverage")
@click.option("--period", "period_text", help=PERIOD_HELP)
@click.option("--json", "as_json", is_flag=True, help="JSON, for other tools.")
def coverage_command(period_text: str | None, as_json: bool) -> None:
    """Coverage: completed responses ÷ reported dossiers, per authority and per counter.

    A coverage below SIPAS_COVERAGE_TARGET_PCT (default 60) is marked `below`; a
    counter or authority with no reported dossiers shows none.

    \b
    Examples:
      sipas coverage --period 2026-11
    """
    from rich.console import Console

    from analytics.coverage import COVERAGE_LEVELS, coverage_of, coverage_rows, coverage_table

    period = stored_period(period_text)
    settings = settings_or_exit()

    async def run() -> list[CounterVolume]:
        async with open_database(settings) as database:
            return await coverage_of(database, period, include_simulated=settings.include_simulated)

    cells = asyncio.run(run())
    target = settings.coverage_target_pct
    tables = {level: coverage_rows(cells, level) for level in COVERAGE_LEVELS}
    if as_json:
        shown = {
            level: [
                {
                    "code": row.code,
                    "dossiers": row.dossiers,
                    "responses": row.responses,
                    "coverage_pct": None if row.pct is None else round(row.pct, 1),
                    "below_target": row.below(target),
                }
                for row in rows
            ]
            for level, rows in tables.items()
        }
        click.echo(json.dumps({"period": period.label, "target_pct": target, **shown}, indent=2))
        return
    console = Console()
    for level, rows in tables.items():
        title = f"Coverage by {level}, {period.label} ({period.start} – {period.end})"
        console.print(coverage_table(rows, title=title, target_pct=target))
