"""`sipas procedures`: load and list the procedure catalogue (thủ tục hành chính, their field and authority)."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.commands.units import run_loader
from bot.runtime import open_database, settings_or_exit

if TYPE_CHECKING:
    from storage.models import Procedure


@click.group("procedures")
def procedures_group() -> None:
    """The procedure catalogue: what each procedure's ratings are attributed to.

    A catalogue file is CSV (UTF-8, header row) with the columns code (mã TTHC,
    e.g. 1.001193), name, field (lĩnh vực), authority_level (province | commune)
    and default_authority (the code of a loaded agency or unit, may be empty).
    An invitation or imported response naming a procedure and no authority is
    attributed to its default authority; without one, a commune-level procedure
    to the counter's commune, else to the counter's agency. Once a catalogue is
    loaded, procedure codes outside it are refused. Loading is all or nothing.
    """


@procedures_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and count, but write nothing.")
def load_command(file: Path, dry_run: bool) -> None:
    """Load a catalogue FILE (see `sipas procedures --help` for its columns).

    `sipas units load --sample` loads a small sample catalogue with the Hà Nội sample.
    """
    from storage.procedures import load_procedures_csv

    source = str(file)
    run_loader(partial(load_procedures_csv, source=source, data=file.read_bytes()), source, dry_run)


def _procedure_json(row: Procedure) -> dict[str, object]:
    return {
        "code": row.code,
        "name": row.name,
        "field": row.field,
        "authority_level": row.authority_level,
        "default_authority": row.default_authority,
        "is_sample": row.is_sample,
    }


@procedures_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, for other tools.")
def list_command(as_json: bool) -> None:
    """List the catalogue's procedures, by field."""
    from storage.procedures import list_procedures

    settings = settings_or_exit()

    async def run() -> list[Procedure]:
        async with open_database(settings) as database, database.reading() as session:
            return await list_procedures(session)

    rows = asyncio.run(run())
    if as_json:
        click.echo(json.dumps([_procedure_json(row) for row in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no procedures: load a catalogue with `sipas procedures load FILE.csv`")
    for row in rows:
        default = row.default_authority or "(counter's)"
        click.echo(f"{row.code:<12} {row.field} · {row.name} · {row.authority_level} · {default}")
