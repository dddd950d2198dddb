"""`sipas par`: the PAR Index scoring pipeline — check criteria files, open a year, hand units
their templates, import self-assessments, record the appraisal, show and export the results."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click
from rich.console import Console
from rich.table import Table

from analytics.method import DEFAULT_METHOD_ID
from bot.commands.aggregate import method_and_layout
from bot.runtime import open_database, settings_or_exit
from bot.settings import Settings
from par.appraisal import appraise, appraise_file, appraiser
from par.assessment import EntryProblem, open_assessment
from par.criteria import TREES, CriteriaScheme, load_criteria
from par.export import FORMATS, write_par_export
from par.publish import ParResults, par_results
from par.report import TREE_NAMES, figure_text, state_text
from par.results import ScorecardResult
from par.self_assessment import import_self_assessment, unit_template
from storage.db import Database

__all__ = ["par_group"]

_T = TypeVar("_T")
_YEAR = click.option("--year", type=int, help="The assessment year (default: the newest open).")
# What the one-at-a-time appraisal's fields are called on the command line.
_OPTIONS = {
    "unit": "--unit",
    "criterion": "--criterion",
    "appraised": "--points",
    "reason": "--reason",
}


def _now() -> datetime:
    return datetime.now(UTC)


def _run(settings: Settings, work: Callable[[Database], Awaitable[_T]]) -> _T:
    """Run `work` on the configured database."""

    async def run() -> _T:
        async with open_database(settings) as database:
            return await work(database)

    return asyncio.run(run())


def _criteria(name: str, year: int | None, method_name: str) -> CriteriaScheme:
    _method, layout = method_and_layout(method_name)
    return load_criteria(name, year=year, elements=[code for code, _ in layout.elements])


@click.group("par")
def par_group() -> None:
    """The PAR Index scorecard: criteria, self-assessment, appraisal, results.

    \b
    A year's steps:
      sipas par check my-scheme-2026.yaml          (optional: your own criteria)
      sipas par open --year 2026 --scheme hn-qd5666
      sipas par template --unit 00004 --out 00004.xlsx   (one per unit)
      sipas par import 00004.xlsx                  (each unit's filled file)
      sipas par appraise council.xlsx --by NAME    (or --unit/--criterion/--points/--reason)
      sipas par show; sipas par export --format xlsx
    """


@par_group.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--method",
    "method_name",
    default=DEFAULT_METHOD_ID,
    show_default=True,
    help="Method id or .yaml path whose questionnaire's elements survey criteria may name.",
)
def check_command(file: Path, method_name: str) -> None:
    """Check a criteria FILE: every problem, one per line, or what it holds."""
    scheme = _criteria(str(file), None, method_name)
    note = " (EXAMPLE point values)" if scheme.example else ""
    click.echo(f"OK: {scheme.id}{note}, {scheme.max_points:g} points")
    for kind, tree in scheme.trees.items():
        leaves = list(tree.leaves())
        survey = sum(leaf.scoring == "survey" for leaf in leaves)
        click.echo(
            f"  {kind} ({tree.title}): {len(tree.contents)} content areas, {len(leaves)} "
            f"criteria ({survey} from the survey), {tree.max_points:g} points"
        )


@par_group.command("open")
@click.option("--year", type=int, required=True, help="The assessment year, e.g. 2026.")
@click.option(
    "--scheme", "scheme_name", required=True, help="Bundled scheme name (e.g. hn-qd5666) or .yaml."
)
def open_command(year: int, scheme_name: str) -> None:
    """Open an assessment year: a scorecard for every Sở and every xã/phường loaded.

    Sở are the agencies of kind department; xã/phường the commune-level units in force
    during the year. The year keeps its criteria: opening it again changes nothing (units
    loaded since get a scorecard).
    """
    settings = settings_or_exit()
    scheme = _criteria(scheme_name, year, settings.method)
    opened = _run(settings, lambda database: open_assessment(database, scheme, _now()))
    note = " (EXAMPLE point values)" if scheme.example else ""
    click.echo(
        f"{opened.year} open with {opened.scheme_id}{note}: {opened.added} scorecards added "
        f"({', '.join(f'{tree} {count}' for tree, count in opened.added_by_tree.items())}), "
        f"{opened.already_open} already open"
    )


@par_group.command("template")
@click.option("--unit", "unit_code", required=True, help="The unit's code (agency or commune).")
@_YEAR
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write, .xlsx or .csv (default: par-YEAR-UNIT.xlsx here).",
)
@click.option(
    "--appraisal", is_flag=True, help="The council's file: scores so far, and its own columns."
)
def template_command(unit_code: str, year: int | None, out: Path | None, appraisal: bool) -> None:
    """Write a unit's self-assessment file in Vietnamese, with its criteria (and its scores so far)."""
    fmt = (out.suffix.lstrip(".").lower() if out else "") or "xlsx"
    if fmt not in ("xlsx", "csv"):
        raise click.BadParameter("write .xlsx or .csv", param_hint="--out")
    settings = settings_or_exit()
    assessment, data = _run(
        settings,
        lambda database: unit_template(database, unit_code, fmt, year=year, appraisal=appraisal),
    )
    target = out or Path(f"par-{assessment.year}-{unit_code}.xlsx")
    target.write_bytes(data)
    click.echo(f"{target}: {unit_code}, {assessment.scheme.id}")


@par_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_YEAR
def import_command(file: Path, year: int | None) -> None:
    """Import a filled self-assessment FILE (.xlsx or .csv): checked whole, stored all or nothing."""
    settings = settings_or_exit()
    report = _run(
        settings, lambda database: import_self_assessment(database, file, now=_now(), year=year)
    )
    saved = report.saved
    click.echo(
        f"imported {file} into {report.year}: {report.rows} scores of {', '.join(report.units)} "
        f"({saved.added} added, {saved.changed} changed, {saved.unchanged} unchanged)"
    )


@par_group.command("appraise")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--by", "by_name", required=True, help="The staff admin recording the appraisal.")
@click.option("--unit", "unit_code", help="One adjustment: the unit's code.")
@click.option("--criterion", "criterion_code", help="One adjustment: the criterion's code.")
@click.option("--points", help="One adjustment: the points the council sets.")
@click.option("--reason", help="One adjustment: why.")
@_YEAR
def appraise_command(
    file: Path | None,
    by_name: str,
    unit_code: str | None,
    criterion_code: str | None,
    points: str | None,
    reason: str | None,
    year: int | None,
) -> None:
    """Record the appraisal council's adjustments, from FILE or one at a time.

    FILE is a unit's file with «Điểm thẩm định» and «Lý do điều chỉnh» filled in (`sipas
    par template --unit CODE --appraisal`). Adjustments are only ever added: the newest
    counts and the history stays.
    """
    single = (unit_code, criterion_code, points, reason)
    if (file is None) == all(value is None for value in single):
        raise click.UsageError("give a FILE, or --unit, --criterion, --points and --reason")
    settings = settings_or_exit()

    async def work(database: Database) -> tuple[int, int, int]:
        by = await appraiser(database, by_name)
        if file is not None:
            result = await appraise_file(database, file, by=by, now=_now(), year=year)
        else:
            result = await appraise(
                database,
                unit_code=unit_code or "",
                criterion_code=criterion_code or "",
                points=points or "",
                reason=reason or "",
                by=by,
                now=_now(),
                year=year,
            )
        return result.year, result.recorded, result.unchanged

    try:
        done_year, recorded, unchanged = _run(settings, work)
    except EntryProblem as problem:
        raise click.BadParameter(problem.message, param_hint=_OPTIONS[problem.column]) from None
    click.echo(
        f"{done_year}: {recorded} adjustment{'s' if recorded != 1 else ''} recorded by "
        f"{by_name}" + (f", {unchanged} as recorded already" if unchanged else "")
    )


async def _results(database: Database, settings: Settings, year: int | None) -> ParResults:
    method, layout = method_and_layout(settings.method)
    return await par_results(
        database, layout=layout, method=method, min_cell_size=settings.min_cell_size, year=year
    )


def _ranking(console: Console, published: ParResults, tree: str) -> None:
    results = [result for result in published.results if result.tree == tree]
    if not results:
        return
    table = Table(title=f"{TREE_NAMES[tree]} · {published.assessment.year}")
    for label in ("#", "code", "unit", "points", "index %", "class", "unscored"):
        table.add_column(label, justify="right" if label in ("#", "points", "index %") else "left")
    for result in results:
        table.add_row(
            str(result.rank),
            result.unit_code,
            result.unit_name,
            f"{result.points:g}/{result.max_points:g}",
            f"{result.index:.2f}",
            result.classification or "",
            str(result.unscored or ""),
        )
    console.print(table)


def _scorecard(console: Console, result: ScorecardResult, published: ParResults) -> None:
    console.print(
        f"{result.unit_name} ({result.unit_code}), {result.year}: {result.points:g}/"
        f"{result.max_points:g} points, index {result.index:.2f}%, place {result.rank} of "
        f"{result.ranked}, {result.classification or 'unclassified'}"
    )
    table = Table()
    for label in ("code", "criterion", "max", "self", "appraised", "survey", "points", "state"):
        table.add_column(label)
    for line in result.lines:
        table.add_row(
            line.code,
            "  " * line.depth + line.title,
            f"{line.max_points:g}",
            "" if line.self_points is None else f"{line.self_points:g}",
            "" if line.appraised_points is None else f"{line.appraised_points:g}",
            figure_text(line, published.min_cell_size),
            "–" if line.points is None else f"{line.points:g}",
            state_text(line),
        )
    console.print(table)
    history = [entry for entry in published.history if entry.unit_code == result.unit_code]
    if history:
        console.print("appraisal history:")
        for entry in history:
            console.print(
                f"  {entry.recorded_at:%Y-%m-%d %H:%M} UTC {entry.criterion_code} → "
                f"{entry.points:g} by {entry.staff_name} ({entry.channel}): {entry.reason}"
            )


@par_group.command("show")
@_YEAR
@click.option("--unit", "unit_code", help="One unit's scorecard, with its appraisal history.")
def show_command(year: int | None, unit_code: str | None) -> None:
    """Show a year's ranking (per tree), or one unit's scorecard."""
    settings = settings_or_exit()
    published = _run(settings, lambda database: _results(database, settings, year))
    console = Console()
    scheme = published.assessment.scheme
    as_of = published.data_as_of
    console.print(
        f"{scheme.title} ({scheme.id}{', EXAMPLE point values' if scheme.example else ''}); "
        "survey figures as of "
        + (f"{as_of:%Y-%m-%d %H:%M} UTC" if as_of else "never (run sipas aggregate)")
    )
    if unit_code is None:
        for tree in TREES:
            _ranking(console, published, tree)
        return
    result = next((item for item in published.results if item.unit_code == unit_code), None)
    if result is None:
        raise click.BadParameter(
            f"no scorecard for {unit_code!r} in {published.assessment.year}", param_hint="--unit"
        )
    _scorecard(console, result, published)


@par_group.command("export")
@_YEAR
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="csv",
    show_default=True,
    help="csv or json (results and criteria tables), or xlsx (the report in Vietnamese).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write to (default: SIPAS_EXPORT_DIR).",
)
def export_command(year: int | None, fmt: str, out_dir: Path | None) -> None:
    """Write a year's results, with a manifest (scheme, method, files and their SHA-256)."""
    settings = settings_or_exit()
    published = _run(settings, lambda database: _results(database, settings, year))
    files, manifest = write_par_export(published, out_dir or settings.export_dir, fmt)
    for path in files:
        click.echo(str(path))
    click.echo(str(manifest))
