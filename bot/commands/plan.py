"""`sipas plan`: responses needed per authority, counter and month for a target margin, from dossier volumes."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.table import Table

from analytics.plan import (
    DEFAULT_MARGIN_POINTS,
    Need,
    Volume,
    plan,
    read_volumes,
    stored_volumes,
)
from analytics.wording import period_name


@click.command("plan")
@click.argument(
    "volumes", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--period",
    "period_text",
    help="Without VOLUMES: the months of the stored volumes to plan (default: this month).",
)
@click.option(
    "--margin",
    type=click.FloatRange(min=0, max=50, min_open=True, max_open=True),
    default=DEFAULT_MARGIN_POINTS,
    show_default=True,
    help="Target half-width of the 95% interval, in percentage points.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the plan as CSV (authority, counter, month, dossiers, n_yamane, n_wilson).",
)
def plan_command(
    volumes: Path | None, period_text: str | None, margin: float, out: Path | None
) -> None:
    """Compute responses needed per authority, counter and month for a target margin.

    VOLUMES is a CSV of dossier volumes: authority, counter (blank for the authority as a
    whole), month (2026-11 or 11/2026), dossiers. For each row, and for each authority's
    month (its counters added up), two sample sizes at p = 0.5: the finite-population
    formula n = N/(1+N·e²), and the Wilson-based size (the smallest n whose Wilson 95%
    interval is within ±e, with the finite-population correction). Without VOLUMES, the
    volumes reported to the service (`sipas volumes load`, `POST /api/v1/volumes`) for the
    months of --period, per authority, counter and month.

    \b
    Example:
      sipas plan volumes.csv --margin 5
    """
    given = (
        read_volumes(volumes.read_bytes(), source=str(volumes))
        if volumes is not None
        else _stored(period_text)
    )
    needs = plan(given, margin)
    view = Table(
        title=f"Responses needed for ±{margin:g} percentage points at 95% (p = 0.5)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for heading in ("authority", "counter", "month", "dossiers N", "N/(1+N·e²)", "Wilson"):
        view.add_column(heading, justify="left" if heading in ("authority", "counter") else "right")
    for need in needs:
        view.add_row(
            need.authority,
            need.counter or "(all)",
            period_name(need.month, "en"),
            str(need.dossiers),
            str(need.yamane),
            str(need.wilson),
        )
    Console().print(view)
    if out is not None:
        out.write_text(plan_csv(needs), encoding="utf-8")
        click.echo(f"{out}  {len(needs)} rows")


def plan_csv(needs: list[Need]) -> str:
    """The plan as CSV text: one row per counter and per authority's month."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["authority", "counter", "month", "dossiers", "n_yamane", "n_wilson"])
    for need in needs:
        writer.writerow(
            [
                need.authority,
                need.counter,
                need.month.label,
                need.dossiers,
                need.yamane,
                need.wilson,
            ]
        )
    return buffer.getvalue()


def _stored(period_text: str | None) -> list[Volume]:
    """The stored volumes of the period's months, or a usage error when there are none."""
    import asyncio

    from bot.commands.volumes import stored_period
    from bot.runtime import open_database, settings_or_exit
    from storage.volumes import list_volumes

    period = stored_period(period_text)
    settings = settings_or_exit()

    async def run() -> list[Volume]:
        async with open_database(settings) as database, database.reading() as session:
            return stored_volumes(await list_volumes(session, period.start, period.end))

    found = asyncio.run(run())
    if not found:
        raise click.UsageError(
            f"no dossier volumes stored for {period.label}: give a VOLUMES.csv file, or load "
            "them with `sipas volumes load FILE.csv`"
        )
    return found
