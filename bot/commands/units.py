"""`sipas units`: load and list administrative units, agencies and service points (counters).

Light to import (`sipas units --help` shows the columns and choices of the unit files):
the database layer is imported by the subcommands that use it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.runtime import open_database, settings_or_exit
from storage.unit_formats import OFFICIAL_VALID_FROM, UNIT_LEVELS, UNITS_COLUMNS

if TYPE_CHECKING:
    from storage.db import AsyncSession
    from storage.models import AdminUnit
    from storage.units import Loader, LoadReport

_COLUMNS_HELP = "\b\n" + "\n".join(
    f"  {name:<12} {meaning}" for name, meaning in UNITS_COLUMNS.items()
)


def run_loader(loader: Loader, what: str, dry_run: bool) -> None:
    """Run a loader, all or nothing, and print its counts (a UnitDataError lists every problem)."""
    from storage.units import load_all_or_nothing

    settings = settings_or_exit()

    async def run() -> LoadReport:
        async with open_database(settings) as database:
            return await load_all_or_nothing(database, loader, dry_run=dry_run)

    report = asyncio.run(run())
    verb = "would load" if dry_run else "loaded"
    click.echo(f"{verb} {what}:")
    for name, counts in report.tables().items():
        if counts.added or counts.updated or counts.unchanged:
            click.echo(
                f"  {name.replace('_', ' '):<15} {counts.added} added, {counts.updated} updated, "
                f"{counts.unchanged} unchanged"
            )
    if dry_run:
        click.echo("dry run: nothing was written")


@click.group("units", epilog=f"Columns of a units file (sipas units load):\n\n{_COLUMNS_HELP}")
def units_group() -> None:
    """Administrative units, agencies and service points (counters).

    A units file is CSV (UTF-8, header row), one row per unit, agency or
    service point; rows may come in any order and may refer to rows of the same
    file or to rows already loaded. Codes are text: keep leading zeros (00004,
    not 4). Loading is all or nothing, and loading a file again changes nothing.
    Nothing is ever deleted: retire a unit with valid_to, close a counter with
    active=false.
    """


@units_group.command("load")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--sample", is_flag=True, help="Load the bundled Hà Nội sample instead of a FILE.")
@click.option("--dry-run", is_flag=True, help="Check and count, but write nothing.")
def load_command(file: Path | None, sample: bool, dry_run: bool) -> None:
    """Load a units FILE (see `sipas units --help` for its columns), or the sample.

    The sample is Hà Nội: the city, its 126 wards and communes (valid from
    2025-07-01), the 30 former districts (valid to 2025-06-30), the crosswalk
    from old communes, and sample departments, service-centre branches and
    counters, and a small catalogue of procedures (`sipas procedures`), all
    marked as sample data.
    """
    from storage.procedures import load_sample_procedures
    from storage.units import load_sample, load_units_csv

    if sample == (file is not None):
        raise click.UsageError("give either a FILE or --sample")
    if file is None:

        async def with_procedures(session: AsyncSession) -> LoadReport:
            report = await load_sample(session)
            report += await load_sample_procedures(session)
            return report

        run_loader(with_procedures, "the Hà Nội sample", dry_run)
        return
    source = str(file)
    run_loader(partial(load_units_csv, source=source, data=file.read_bytes()), source, dry_run)


@units_group.command("import-official")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--province", required=True, help="Province code, two digits, e.g. 01 (Hà Nội).")
@click.option(
    "--valid-from",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=OFFICIAL_VALID_FROM.isoformat(),
    show_default=True,
    help="First day the listed units are in force.",
)
@click.option("--dry-run", is_flag=True, help="Check and count, but write nothing.")
def import_official_command(file: Path, province: str, valid_from: datetime, dry_run: bool) -> None:
    """Load a province and its commune-level units from an official list.

    FILE has the columns of vn-units-2025.csv: level, code, name, full_name,
    full_name_en, unit_type, parent_code (unit_type_en and others are ignored).
    Only the rows of --province are read.
    """
    from storage.units import import_official

    if not (len(province) == 2 and province.isdigit()):
        raise click.BadParameter(
            f"{province!r} is not a province code (two digits, e.g. 01)", param_hint="--province"
        )
    source = str(file)
    day: date = valid_from.date()
    loader = partial(
        import_official, source=source, data=file.read_bytes(), province=province, valid_from=day
    )
    run_loader(loader, source, dry_run)


def _unit_json(unit: AdminUnit) -> dict[str, Any]:
    return {
        "code": unit.code,
        "level": unit.level,
        "name": unit.name,
        "full_name": unit.full_name,
        "full_name_en": unit.full_name_en,
        "unit_type": unit.unit_type,
        "parent_code": unit.parent_code,
        "valid_from": unit.valid_from.isoformat() if unit.valid_from else None,
        "valid_to": unit.valid_to.isoformat() if unit.valid_to else None,
        "is_sample": unit.is_sample,
    }


def _echo_json(rows: list[dict[str, Any]]) -> None:
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2))


@units_group.command("list")
@click.option("--level", type=click.Choice(UNIT_LEVELS), help="Only units of this level.")
@click.option("--parent", "parent_code", help="Only units directly under this unit code.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of objects, for other tools.")
def list_command(level: str | None, parent_code: str | None, as_json: bool) -> None:
    """List units: provinces, former districts, then commune-level units, each by code."""
    from rich.console import Console
    from rich.table import Table

    from storage.units import list_units

    settings = settings_or_exit()

    async def run() -> list[AdminUnit]:
        async with open_database(settings) as database, database.reading() as session:
            return await list_units(session, level=level, parent_code=parent_code)

    units = asyncio.run(run())
    if as_json:
        _echo_json([_unit_json(unit) for unit in units])
        return
    table = Table("code", "level", "name", "type", "parent", "valid", "sample")
    for unit in units:
        valid = f"{unit.valid_from or ''}…{unit.valid_to or ''}"
        table.add_row(
            unit.code,
            unit.level,
            unit.full_name,
            unit.unit_type,
            unit.parent_code or "",
            "" if valid == "…" else valid,
            "yes" if unit.is_sample else "",
        )
    Console().print(table)
    click.echo(f"{len(units)} unit{'s' if len(units) != 1 else ''}")


@units_group.command("points")
@click.option("--unit", "unit_code", help="Only points in this unit or any unit under it.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of objects, for other tools.")
def points_command(unit_code: str | None, as_json: bool) -> None:
    """List service points (counters) with their unit and agency."""
    from rich.console import Console
    from rich.table import Table

    from storage.units import ServicePointListing, list_service_points

    settings = settings_or_exit()

    async def run() -> list[ServicePointListing]:
        async with open_database(settings) as database, database.reading() as session:
            return await list_service_points(session, within=unit_code)

    listings = asyncio.run(run())
    if as_json:
        _echo_json(
            [
                {
                    "code": item.point.code,
                    "name": item.point.name,
                    "name_en": item.point.name_en,
                    "unit_code": item.unit.code,
                    "unit_name": item.unit.full_name,
                    "agency_code": item.agency.code if item.agency else None,
                    "agency_name": item.agency.name if item.agency else None,
                    "active": item.point.active,
                    "is_sample": item.point.is_sample,
                }
                for item in listings
            ]
        )
        return
    table = Table("code", "name", "unit", "agency", "active")
    # Codes first and whole: they are what people type and print on QR posters.
    for item in listings:
        table.add_row(
            item.point.code,
            item.point.name,
            f"{item.unit.code} {item.unit.full_name}",
            item.agency.code if item.agency else "",
            "yes" if item.point.active else "no",
        )
    Console().print(table)
    click.echo(f"{len(listings)} service point{'s' if len(listings) != 1 else ''}")
