"""`sipas responses`: import responses collected on paper or kiosks, and print the import file's header."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from types import TracebackType

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from bot.commands.questionnaire import asked_questionnaire
from bot.runtime import open_database, settings_or_exit
from handlers.response_import import (
    ImportReport,
    import_responses,
    template_columns,
)
from storage.spreadsheets import inert_cell

__all__ = ["responses_group"]

# Below this many rows an import takes a moment: a bar would only flicker.
PROGRESS_THRESHOLD = 3000

_QUESTIONNAIRE_OPTION = click.option(
    "--questionnaire",
    "questionnaire_name",
    metavar="ID|FILE",
    help="Bundled questionnaire id or YAML file (default: the one the bot uses).",
)


class _ProgressBar:
    """A rich progress bar on stderr that appears only once a file proves big."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if self._progress is None:
            if max(done, total or 0) < PROGRESS_THRESHOLD:
                return
            self._progress = Progress(
                TextColumn("{task.description:<10}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(stderr=True),
            )
            self._progress.start()
        if phase not in self._tasks:
            self._tasks[phase] = self._progress.add_task(phase, total=total)
        self._progress.update(self._tasks[phase], completed=done, total=total)

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


@click.group("responses")
def responses_group() -> None:
    """Responses collected outside the chat: on paper, or on a kiosk.

    \b
    An import file is CSV (UTF-8) or XLSX (first sheet), one row per response,
    with a header row (print it with `sipas responses template`):
      external_id      the response's id where it comes from, unique
      service_point    counter code, as listed by `sipas units points`
      completed_at     ISO 8601 with offset, e.g. 2026-11-20T09:15:00+07:00
      respondent_type  citizen | organisation
      <item code>…     one column per item: the option value (e.g. 1..5),
                       empty = skipped or not asked
    """


@responses_group.command("template")
@_QUESTIONNAIRE_OPTION
def template_command(questionnaire_name: str | None) -> None:
    """Print the header row of an import file for the questionnaire."""
    questionnaire = asked_questionnaire(questionnaire_name)
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow(
        inert_cell(column) for column in template_columns(questionnaire)
    )
    click.echo(line.getvalue())


@responses_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_QUESTIONNAIRE_OPTION
@click.option("--dry-run", is_flag=True, help="Check and count, but write nothing.")
def import_command(file: Path, questionnaire_name: str | None, dry_run: bool) -> None:
    """Import FILE (.csv or .xlsx): every row is checked first; one problem and nothing is imported.

    Each row becomes a completed response on channel "import", counted on the
    local day of completed_at. Rows whose external_id was imported before are
    left alone, so importing a file again adds nothing.
    """
    settings = settings_or_exit()
    questionnaire = asked_questionnaire(questionnaire_name)

    async def run() -> ImportReport:
        async with open_database(settings) as database:
            with _ProgressBar() as progress:
                return await import_responses(
                    database,
                    questionnaire,
                    file,
                    secret=settings.secret(),
                    zone=settings.zone,
                    dry_run=dry_run,
                    progress=progress,
                )

    report = asyncio.run(run())
    verb = "would import" if dry_run else "imported"
    click.echo(
        f"{verb} {file} ({questionnaire.id} {questionnaire.version}): {report.rows} rows, "
        f"{report.added} added, {report.already_present} already present"
    )
    if report.days:
        first, last = report.days[0], report.days[-1]
        span = str(first) if first == last else f"{first} … {last}"
        click.echo(f"reporting days: {span} ({len(report.days)}), marked for the next aggregation")
    if dry_run:
        click.echo("dry run: nothing was written")
