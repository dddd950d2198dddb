"""`sipas export`: index results of a period and level to csv, json, xlsx or parquet, with a manifest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import click

from analytics.export import FORMATS, ExportedFile
from analytics.indices import RESPONDENT_TYPES
from analytics.levels import LEVELS
from analytics.publish import export_period
from analytics.query import ReportQuery
from analytics.rounds import export_round
from analytics.schemes import SchemeError, load_scheme
from analytics.xlsx_report import ReportTables, report_tables, xlsx_report
from bot.commands.aggregate import method_and_layout, period_or_window, window_options
from bot.runtime import open_database, settings_or_exit
from questionnaires.loader import parse_questionnaire
from questionnaires.rounds import RoundPlan
from storage.rounds import completed_round_sessions, get_round, group_progress


@click.command("export")
@click.option(
    "--period",
    "period_text",
    help="2026, 2026-Q4, 2026-11, 2026-W47 or 2026-11-28 (or a window: --from, --to).",
)
@window_options
@click.option(
    "--round",
    "round_code",
    help="A survey round's results per rated unit instead (--out: a folder; no --period).",
)
@click.option("--level", type=click.Choice(LEVELS), default="commune", show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="csv, json, xlsx or parquet (default: the --out file's extension, else csv).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="File to write (default: SIPAS_EXPORT_DIR/sipas-PERIOD-LEVEL.FORMAT); with --round, "
    "the folder to write in.",
)
@click.option(
    "--respondent-type",
    "respondent_types",
    type=click.Choice(RESPONDENT_TYPES),
    multiple=True,
    help="Only these respondent types (repeatable; default: all, citizen, organisation).",
)
@click.option("--scheme", help="Scoring scheme id or .yaml path: adds a points column.")
@click.option(
    "--method",
    "method_name",
    help="Method id or .yaml path (default: SIPAS_METHOD).",
)
@click.option("--no-raw", is_flag=True, help="Do not write the raw-responses twin file.")
@click.option(
    "--report",
    "report_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the XLSX report (the dashboard's, in SIPAS_DEFAULT_LANGUAGE) to this file.",
)
def export_command(
    period_text: str | None,
    first_day: datetime | None,
    last_day: datetime | None,
    level: str,
    fmt: str | None,
    out: Path | None,
    respondent_types: tuple[str, ...],
    scheme: str | None,
    method_name: str | None,
    no_raw: bool,
    round_code: str | None,
    report_out: Path | None,
) -> None:
    """Write index results for one period and level, and a manifest beside them.

    The main file is computed on cleaned responses (the method's cleaning rule applied);
    NAME.raw.EXT holds the same table on all responses; NAME.EXT.manifest.json lists the
    method, questionnaire version, rows, SHA-256 of each file and the data's as-of time.
    Columns are documented in docs/api.md. Run `sipas aggregate` first.

    \b
    With --report FILE.xlsx, the readable report of the same period and level too: summary,
    a sheet per unit with charts, notes (as the dashboard's download).

    \b
    Example:
      sipas export --period 2026-Q4 --level commune --format xlsx --out q4.xlsx
      sipas export --period Q4/2026 --format xlsx --report q4-report.xlsx
      sipas export --from 2025-03-01 --to 2026-11-30 --level agency

    With --round, the round's results per rated unit, content area and group (CSV), its
    comments and progress, and round-CODE.manifest.json, in the folder --out (default
    SIPAS_EXPORT_DIR); see docs/indices.md#survey-rounds.
    """
    if round_code is not None:
        if period_text is not None or first_day or last_day:
            raise click.UsageError("--round exports the whole round: no --period")
        export_round_command(round_code, out)
        return
    if out is not None and out.is_dir():
        raise click.BadParameter(f"{out} is a folder: name the file to write", param_hint="--out")
    period = period_or_window(period_text, first_day, last_day)
    if period is None:
        raise click.UsageError("give --period, or a window with --from and --to (or --round)")
    fmt = _format_for(fmt, out)
    settings = settings_or_exit()
    method, layout = method_and_layout(method_name or settings.method)
    try:
        scoring = load_scheme(scheme) if scheme else None
    except SchemeError as error:
        raise click.BadParameter(str(error), param_hint="--scheme") from None
    target = out or settings.export_dir / f"sipas-{period.label}-{level}.{fmt}"
    query = ReportQuery(
        period,
        level,
        layout,
        method,
        settings.min_cell_size,
        respondent_types=respondent_types or RESPONDENT_TYPES,
    )

    async def run() -> ReportTables | None:
        async with open_database(settings) as database:
            published = await export_period(
                database, target, fmt, query, include_raw=not no_raw, scheme=scoring
            )
            tables = (
                await report_tables(database, query, data_as_of=published.data_as_of)
                if report_out is not None
                else None
            )
        written, manifest, as_of = published.files, published.manifest, published.data_as_of
        for item in written:
            click.echo(f"{item.path}  {item.rows} rows  {item.responses}  sha256 {item.sha256}")
        click.echo(f"{manifest}")
        if as_of is None:
            click.echo(
                "warning: no aggregation run has succeeded yet; run `sipas aggregate`", err=True
            )
        return tables

    tables = asyncio.run(run())
    if report_out is not None and tables is not None:
        report_out.write_bytes(
            xlsx_report(tables, language=settings.default_language, zone=settings.zone)
        )
        click.echo(f"{report_out}  report")


def _format_for(fmt: str | None, out: Path | None) -> str:
    """The format asked for, agreeing with the --out file's extension when it names one."""
    suffix = out.suffix.lstrip(".").lower() if out is not None else ""
    if fmt is None:
        return suffix if suffix in FORMATS else "csv"
    if suffix in FORMATS and suffix != fmt:
        raise click.BadParameter(
            f"--out {out} ends in .{suffix} but --format is {fmt}: make them agree",
            param_hint="--out",
        )
    return fmt


def export_round_command(code: str, out: Path | None) -> None:
    """Write a round's results, comments, progress and manifest into `out`."""
    settings = settings_or_exit()

    async def run() -> tuple[list[ExportedFile], Path]:
        async with open_database(settings) as database, database.reading() as tx:
            survey_round = await get_round(tx, code)
            if survey_round is None:
                raise click.ClickException(
                    f"no round {code!r} (list them with `sipas rounds list`)"
                )
            plan = RoundPlan.from_json(survey_round.plan)
            return export_round(
                out or settings.export_dir,
                plan,
                parse_questionnaire(survey_round.questionnaire_source, source=f"round {code}"),
                await completed_round_sessions(tx, code),
                await group_progress(tx, code),
                minimum_cell=plan.minimum_cell or settings.min_cell_size,
                now=datetime.now(UTC),
            )

    written, manifest = asyncio.run(run())
    for item in written:
        click.echo(f"{item.path}  {item.rows} rows  sha256 {item.sha256}")
    click.echo(f"{manifest}")
