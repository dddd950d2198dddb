"""`sipas summary`: indices of a period in a readable terminal table."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click
from rich.console import Console

from analytics.days import parse_period, period_of, reporting_day
from analytics.levels import LEVELS
from analytics.moments import MomentCounts, moment_counts, moments_table
from analytics.query import RESPONSE_SETS, ReportQuery
from analytics.report import index_table
from analytics.summary import footnote, unit_detail, units_table
from bot.commands.aggregate import method_and_layout
from bot.runtime import open_database, settings_or_exit
from storage.aggregation_runs import data_as_of
from storage.staff import unit_level


@click.command("summary")
@click.option(
    "--unit", "unit_code", help="One counter, agency, commune, former district or province code."
)
@click.option(
    "--period",
    "period_text",
    help="2026, 2026-Q4, 2026-11 (default: this month), 2026-W47, 2026-11-28.",
)
@click.option(
    "--level",
    type=click.Choice(LEVELS),
    help="Level of the table (default: commune; with --unit, the unit's own level).",
)
@click.option("--responses", type=click.Choice(RESPONSE_SETS), default="cleaned", show_default=True)
@click.option("--method", "method_name", help="Method id or .yaml path (default: SIPAS_METHOD).")
def summary_command(
    unit_code: str | None,
    period_text: str | None,
    level: str | None,
    responses: str,
    method_name: str | None,
) -> None:
    """Show satisfaction indices for a period: every unit of a level, or one unit in detail.

    Without --unit, a second table counts the period's invitations, starts and completions
    per moment of the dossier (reception, result) and the result follow-ups.

    \b
    Examples:
      sipas summary --period 2026-11
      sipas summary --unit 00004 --period 2026-Q4
    """
    settings = settings_or_exit()
    try:
        period = (
            parse_period(period_text)
            if period_text
            else period_of(reporting_day(datetime.now(UTC), settings.zone), "month")
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--period") from None
    method, layout = method_and_layout(method_name or settings.method)

    async def run() -> None:
        async with open_database(settings) as database:
            chosen = level
            if unit_code is not None and chosen is None:
                async with database.reading() as session:
                    chosen = await unit_level(session, unit_code)
                if chosen is None:
                    raise click.BadParameter(
                        f"no unit, agency or counter {unit_code!r}", param_hint="--unit"
                    )
            chosen = chosen or "commune"
            query = ReportQuery(
                period, chosen, layout, method, settings.min_cell_size, responses=responses
            )
            table = await index_table(database, query, unit_code=unit_code)
            as_of = await data_as_of(database)
            moments = None if unit_code else await moment_counts(database, period, settings.zone)
        console = Console()
        heading = (
            f"SIPAS-method satisfaction of one-stop users, {period.label} ({period.start} – "
            f"{period.end}), level {chosen}, {responses} responses"
        )
        console.print(
            f"method {method.id} v{method.version}, questionnaire {layout.questionnaire_id} "
            f"v{layout.questionnaire_version}, data as of "
            f"{as_of.astimezone(settings.zone).strftime('%Y-%m-%d %H:%M') if as_of else 'never (run sipas aggregate)'}"
        )
        if table.empty:
            console.print(f"{heading}: no responses.")
        else:
            view = (
                unit_detail(table, layout, title=heading)
                if unit_code
                else units_table(table, layout, title=heading)
            )
            console.print(view)
            console.print(footnote(table, settings.min_cell_size))
        if moments is not None:
            _print_moments(console, moments)

    asyncio.run(run())


def _print_moments(console: Console, moments: MomentCounts) -> None:
    period = moments.period
    title = (
        f"Moments of the dossier, {period.label}: invitations minted in the period, at "
        "reception and at the result, and the result follow-ups agreed to in it"
    )
    console.print(moments_table(moments, title=title))
