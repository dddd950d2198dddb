"""`sipas summary`: indices of a period in a readable terminal table."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click
from rich.console import Console

from analytics.days import period_of, reporting_day
from analytics.levels import LEVELS
from analytics.moments import MomentCounts, moment_counts, moments_table
from analytics.query import RESPONSE_SETS, ReportQuery
from analytics.report import index_table
from analytics.summary import element_legend, footnote, unit_detail, units_table
from analytics.wording import CAVEAT, LEVEL_NAMES, local_time, period_span
from bot.commands.aggregate import method_and_layout, period_or_window, window_options
from bot.runtime import open_database, settings_or_exit
from storage.aggregation_runs import data_as_of
from storage.staff import unit_level

HEADING = {
    "vi": "Mức độ hài lòng theo phương pháp SIPAS · {period} · cấp {level} · {responses}",
    "en": "SIPAS-method satisfaction of one-stop users · {period} · level {level} · {responses}",
}
RESPONSE_NAMES = {
    "vi": {"cleaned": "phản hồi đã làm sạch", "raw": "mọi phản hồi"},
    "en": {"cleaned": "cleaned responses", "raw": "all responses"},
}
AS_OF = {"vi": "số liệu tính đến", "en": "data as of"}
NEVER = {"vi": "chưa tổng hợp (chạy sipas aggregate)", "en": "never (run sipas aggregate)"}
NO_RESPONSES = {"vi": "không có phản hồi.", "en": "no responses."}


@click.command("summary")
@click.option(
    "--unit", "unit_code", help="One counter, agency, commune, former district or province code."
)
@click.option(
    "--period",
    "period_text",
    help="2026, 2026-Q4 or Q4/2026, 2026-11 or 11/2026 (default: this month), 2026-W47, "
    "2026-11-28 or 28/11/2026 (or --from, --to).",
)
@window_options
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
    first_day: datetime | None,
    last_day: datetime | None,
    level: str | None,
    responses: str,
    method_name: str | None,
) -> None:
    """Show satisfaction indices for a period: every unit of a level, or one unit in detail.

    Vietnamese or English by SIPAS_DEFAULT_LANGUAGE; the tables fit an 80-column terminal.
    Without --unit, a further table counts the period's invitations, starts and completions
    per moment of the dossier (reception, result) and the result follow-ups.

    \b
    Examples:
      sipas summary --period 2026-11
      sipas summary --unit 00004 --period 2026-Q4
      sipas summary --level agency --from 2025-03-01 --to 2026-11-30
    """
    settings = settings_or_exit()
    period = period_or_window(period_text, first_day, last_day) or period_of(
        reporting_day(datetime.now(UTC), settings.zone), "month"
    )
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
        language = settings.default_language
        console = Console()
        heading = HEADING[language].format(
            period=period_span(period, language),
            level=LEVEL_NAMES[language][chosen],
            responses=RESPONSE_NAMES[language][responses],
        )
        as_of_text = local_time(as_of, settings.zone, language) if as_of else NEVER[language]
        console.print(
            f"{method.id} v{method.version}, {layout.questionnaire_id} "
            f"v{layout.questionnaire_version}, {AS_OF[language]} {as_of_text}",
            soft_wrap=False,
        )
        if table.empty:
            console.print(f"{heading}: {NO_RESPONSES[language]}")
        elif unit_code:
            console.print(heading)
            console.print(unit_detail(table, layout, language=language))
            console.print(footnote(table, settings.min_cell_size, language, detail=True))
        else:
            console.print(heading)
            for view in units_table(table, layout, language=language):
                console.print(view)
            console.print(element_legend(layout, language))
            console.print(footnote(table, settings.min_cell_size, language))
        console.print(CAVEAT[language])
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
