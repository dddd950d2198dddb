"""`sipas export`: index results of a period and level to csv, json, xlsx or parquet, with a manifest."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from analytics.days import parse_period
from analytics.export import FORMATS
from analytics.indices import RESPONDENT_TYPES
from analytics.levels import LEVELS
from analytics.publish import export_period
from analytics.query import ReportQuery
from analytics.schemes import SchemeError, load_scheme
from bot.commands.aggregate import method_and_layout
from bot.runtime import open_database, settings_or_exit


@click.command("export")
@click.option(
    "--period", "period_text", required=True, help="2026, 2026-Q4, 2026-11, 2026-W47 or 2026-11-28."
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
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: SIPAS_EXPORT_DIR/sipas-PERIOD-LEVEL.FORMAT).",
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
def export_command(
    period_text: str,
    level: str,
    fmt: str | None,
    out: Path | None,
    respondent_types: tuple[str, ...],
    scheme: str | None,
    method_name: str | None,
    no_raw: bool,
) -> None:
    """Write index results for one period and level, and a manifest beside them.

    The main file is computed on cleaned responses (quality-flagged ones left out);
    NAME.raw.EXT holds the same table on all responses; NAME.EXT.manifest.json lists the
    method, questionnaire version, rows, SHA-256 of each file and the data's as-of time.
    Columns are documented in docs/api.md. Run `sipas aggregate` first.

    \b
    Example:
      sipas export --period 2026-Q4 --level commune --format xlsx --out q4.xlsx
    """
    try:
        period = parse_period(period_text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--period") from None
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

    async def run() -> None:
        async with open_database(settings) as database:
            published = await export_period(
                database, target, fmt, query, include_raw=not no_raw, scheme=scoring
            )
        written, manifest, as_of = published.files, published.manifest, published.data_as_of
        for item in written:
            click.echo(f"{item.path}  {item.rows} rows  {item.responses}  sha256 {item.sha256}")
        click.echo(f"{manifest}")
        if as_of is None:
            click.echo(
                "warning: no aggregation run has succeeded yet; run `sipas aggregate`", err=True
            )

    asyncio.run(run())


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
