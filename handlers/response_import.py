"""Import of responses collected on paper or kiosks: a validated CSV or XLSX file becomes completed surveys.

The file has one row per response and a header row with the columns of
`template_columns(questionnaire)`:

- `external_id`: the response's id in the system it comes from, unique; importing the
  same file again adds nothing;
- `service_point`: the code of the counter (`sipas units points`);
- `completed_at`: ISO 8601 with a UTC offset, e.g. 2026-11-20T09:15:00+07:00;
- `respondent_type`: citizen | organisation;
- optionally `procedure_code`, `authority` and `submitted_via`: what the rating is about
  (`storage.procedures`: the procedure, the competent authority, direct | online | post);
  empty or absent, the counter's authority and `direct`;
- then one column per item code holding the option value; empty means skipped or not asked.

The whole file is checked first, streaming, and every problem is reported as
`FILE:ROW: column: what is wrong (expected …)` with spreadsheet row numbers (the header is
row 1). Only a file without problems is imported, in one transaction, in batches.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from analytics.days import reporting_day
from problems import Problem, ProblemsFound, tally
from questionnaires import (
    Condition,
    Equals,
    InvalidAnswer,
    Item,
    ItemType,
    Questionnaire,
    condition_to_json,
    referenced_items,
)
from storage.db import Database
from storage.imported_responses import ImportContext, ImportedResponse, add_imported
from storage.models import ServicePoint
from storage.privacy import scrub
from storage.procedures import Attribution, AttributionRefused, Attributions, load_attributions
from storage.response_facts import IMPORT_CHANNEL
from storage.spreadsheets import spreadsheet_rows
from storage.units import load_geography

__all__ = [
    "ATTRIBUTION_COLUMNS",
    "FIXED_COLUMNS",
    "IMPORT_CHANNEL",
    "ImportProgress",
    "ImportReport",
    "ImportedResponse",
    "ResponseImportError",
    "import_responses",
    "template_columns",
]

FIXED_COLUMNS = ("external_id", "service_point", "completed_at", "respondent_type")
ATTRIBUTION_COLUMNS = ("procedure_code", "authority", "submitted_via")
RESPONDENT_TYPES = ("citizen", "organisation")
PROGRESS_EVERY = 250
MAX_EXTERNAL_ID = 128  # the width of responses.external_id
# Clocks of kiosks drift; a response a few minutes "in the future" is not a typo.
FUTURE_TOLERANCE = timedelta(minutes=10)

ImportProgress = Callable[[str, int, int | None], None]
"""Called as (phase, rows done, rows in all or None while unknown); phase is "checking" or "importing"."""


class ResponseImportError(ProblemsFound):
    """A file was refused; `problems` lists every problem found, in file order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(
            problems,
            summary=f"{tally(problems)}; nothing was imported. Fix them and run the command "
            "again (columns: `sipas responses template`).",
        )


@dataclass(frozen=True)
class ImportReport:
    """What an import did (or, with dry_run, would do)."""

    source: str
    rows: int
    added: int
    already_present: int
    days: tuple[date, ...]  # reporting days that received responses, marked for aggregation
    dry_run: bool = False


def template_columns(questionnaire: Questionnaire) -> list[str]:
    """The header of an import file: the fixed columns, what the rating is about, then every
    item code in order."""
    fixed = (*FIXED_COLUMNS, *ATTRIBUTION_COLUMNS)
    items = [item.code for item in questionnaire.items if item.code not in fixed]
    return [*fixed, *items]


# --- Checking rows ------------------------------------------------------------------------


def _describe(condition: Condition) -> str:
    if isinstance(condition, Equals):
        return f"{condition.item} = {condition.value}"
    return json.dumps(condition_to_json(condition), ensure_ascii=False)


def _expected(item: Item) -> str:
    return f"expected one of {', '.join(item.option_values())}"


class _RowChecker:
    """Checks the header and then each row against the questionnaire and the known counters."""

    def __init__(
        self,
        source: str,
        questionnaire: Questionnaire,
        attributions: Attributions,
        service_points: dict[str, ServicePoint],
        now: datetime,
    ) -> None:
        self.source = source
        self.questionnaire = questionnaire
        self.attributions = attributions
        self.service_points = service_points
        self.now = now
        self.problems: list[Problem] = []
        self.columns: list[str] = []
        self.item_columns: list[Item] = []
        self._seen_ids: dict[str, int] = {}
        self.has_respondent_type = any(
            item.code == "respondent_type" for item in questionnaire.items
        )

    def problem(self, row: int, column: str, message: str, hint: str | None = None) -> None:
        self.problems.append(
            Problem(file=self.source, row=row, column=column, message=message, hint=hint)
        )

    def check_header(self, cells: list[str]) -> bool:
        """Read the header; False when rows cannot be checked against it."""
        known = template_columns(self.questionnaire)
        self.columns = cells
        seen: set[str] = set()
        for position, name in enumerate(cells, start=1):
            if not name:
                continue  # an empty header cell: its values are checked per row
            if name in seen:
                self.problem(1, name, "column appears more than once", "keep one")
            elif name not in known:
                self.problem(
                    1,
                    name,
                    f"unknown column {position}",
                    f"expected {', '.join(FIXED_COLUMNS)} and item codes of "
                    f"{self.questionnaire.id}; see `sipas responses template`",
                )
            seen.add(name)
        required = [
            *FIXED_COLUMNS,
            *(item.code for item in self.questionnaire.items if item.required),
        ]
        missing = [name for name in dict.fromkeys(required) if name not in seen]
        for name in missing:
            self.problem(1, name, "required column missing from the header", "add it")
        self.item_columns = [
            self.questionnaire.item(code)
            for code in known[len(FIXED_COLUMNS) + len(ATTRIBUTION_COLUMNS) :]
            if code in seen and code not in FIXED_COLUMNS
        ]
        return not missing

    def check_row(self, row: int, cells: list[str]) -> ImportedResponse | None:
        """The response of one row, or None after noting every problem in it."""
        before = len(self.problems)
        values: dict[str, str] = {}
        for position, value in enumerate(cells):
            name = self.columns[position] if position < len(self.columns) else ""
            if name:
                values.setdefault(name, value)
            elif value:
                self.problem(
                    row, f"column {position + 1}", f"{value!r} in a column without a header"
                )
        external_id = self._external_id(row, values.get("external_id", ""))
        point = self._service_point(row, values.get("service_point", ""))
        completed_at = self._completed_at(row, values.get("completed_at", ""))
        respondent_type = self._respondent_type(row, values.get("respondent_type", ""))
        answers = self._answers(row, values, respondent_type)
        attribution = self._attribution(row, point, values)
        if len(self.problems) > before:
            return None
        assert external_id and point and completed_at and respondent_type and answers is not None
        assert attribution is not None
        return ImportedResponse(
            row, external_id, point, completed_at, respondent_type, answers, attribution
        )

    def _attribution(
        self, row: int, point: str | None, values: dict[str, str]
    ) -> Attribution | None:
        if point is None:
            return None
        try:
            return self.attributions.resolve(
                self.service_points[point],
                procedure_code=values.get("procedure_code"),
                authority=values.get("authority", "").upper() or None,
                submitted_via=values.get("submitted_via"),
            )
        except AttributionRefused as refused:
            for problem in refused.problems:
                self.problem(row, problem.column or "(row)", problem.message, problem.hint)
            return None

    def _external_id(self, row: int, value: str) -> str | None:
        if not value:
            self.problem(row, "external_id", "empty", "expected the response's id, unique")
            return None
        if len(value) > MAX_EXTERNAL_ID:
            self.problem(
                row, "external_id", f"longer than {MAX_EXTERNAL_ID} characters", "shorten it"
            )
            return None
        first = self._seen_ids.setdefault(value, row)
        if first != row:
            self.problem(
                row, "external_id", f"{value!r} already used in row {first}", "expected unique ids"
            )
            return None
        return value

    def _service_point(self, row: int, value: str) -> str | None:
        code = value.upper()
        if not code:
            self.problem(row, "service_point", "empty", "expected a service point code")
            return None
        if code not in self.service_points:
            self.problem(
                row,
                "service_point",
                f"unknown service point {value!r}",
                "expected a code listed by `sipas units points`",
            )
            return None
        return code

    def _completed_at(self, row: int, value: str) -> datetime | None:
        example = "expected ISO 8601 with offset, e.g. 2026-11-20T09:15:00+07:00"
        if not value:
            self.problem(row, "completed_at", "empty", example)
            return None
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            self.problem(row, "completed_at", f"{value!r} is not a date and time", example)
            return None
        if instant.tzinfo is None or instant.utcoffset() is None:
            self.problem(
                row,
                "completed_at",
                f"{value!r} has no UTC offset",
                f"{example}; in a spreadsheet, type it as text",
            )
            return None
        if instant > self.now + FUTURE_TOLERANCE:
            self.problem(row, "completed_at", f"{value!r} is in the future", "expected a past time")
            return None
        return instant.astimezone(UTC)

    def _respondent_type(self, row: int, value: str) -> str | None:
        if self.has_respondent_type:
            item = self.questionnaire.item("respondent_type")
            try:
                return self.questionnaire.validate_answer(item, value)
            except InvalidAnswer:
                self.problem(row, "respondent_type", f"{value!r} is not valid", _expected(item))
                return None
        if value not in RESPONDENT_TYPES:
            self.problem(
                row,
                "respondent_type",
                f"{value!r} is not valid",
                f"expected one of {', '.join(RESPONDENT_TYPES)}",
            )
            return None
        return value

    def _answers(
        self, row: int, values: dict[str, str], respondent_type: str | None
    ) -> dict[str, str | None] | None:
        questionnaire = self.questionnaire
        given: dict[str, str] = {}
        invalid: set[str] = set()
        # The respondent_type column stands for the questionnaire's item of that name.
        if self.has_respondent_type:
            if respondent_type is None:
                invalid.add("respondent_type")
            else:
                given["respondent_type"] = respondent_type
        for item in self.item_columns:
            value = values.get(item.code, "")
            if not value:
                continue
            if item.type is ItemType.TEXT:
                cleaned = scrub(value, max_length=item.max_length)
                if cleaned:
                    given[item.code] = cleaned
                continue
            try:
                given[item.code] = questionnaire.validate_answer(item, value)
            except InvalidAnswer:
                invalid.add(item.code)
                self.problem(row, item.code, f"{value!r} is not an option", _expected(item))
        visible = {item.code: item for item in questionnaire.visible_items(given)}
        for code in given:
            item = questionnaire.item(code)
            if code in visible or item.show_if is None:
                continue
            if invalid & set(referenced_items(item.show_if)):
                continue  # the screener's own problem is already reported
            self.problem(
                row,
                code,
                "answered, but the skip logic hides this item",
                f"asked only if {_describe(item.show_if)}; leave it empty",
            )
        present = {item.code for item in self.item_columns} | {"respondent_type"}
        answers: dict[str, str | None] = {}
        for code, item in visible.items():
            if code in given:
                answers[code] = given[code]
            elif item.required and code not in invalid:
                self.problem(row, code, "required, but empty", _expected(item))
            elif code in present:
                answers[code] = None  # asked, not answered: out of the item's denominator
        return answers


# --- Importing ------------------------------------------------------------------------------


def _checked_rows(
    path: Path, checker: _RowChecker, progress: ImportProgress | None, phase: str, total: int | None
) -> Iterator[ImportedResponse]:
    """The valid responses of the file, in order; problems accumulate on `checker`."""
    rows = spreadsheet_rows(path, checker.problems)
    header = next(rows, None)
    if checker.problems:
        return  # not a file that can be read
    if header is None or not any(header[1]):
        checker.problem(
            1, "(header)", "empty file", f"expected a header row: {', '.join(FIXED_COLUMNS)}, …"
        )
        return
    if not checker.check_header(header[1]):
        return
    done = 0
    for number, cells in rows:
        if not any(cells):
            continue  # blank rows are harmless
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(phase, done, total)
        response = checker.check_row(number, cells)
        if response is not None:
            yield response
    if progress is not None:
        progress(phase, done, total)


async def import_responses(
    database: Database,
    questionnaire: Questionnaire,
    path: Path,
    *,
    secret: str,
    zone: ZoneInfo,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: ImportProgress | None = None,
) -> ImportReport:
    """Check the whole file, then import it in one transaction; ResponseImportError lists every problem.

    Rows whose external_id is already in the database are counted as already present
    and left alone, so importing a file twice adds nothing.
    """
    now = now or datetime.now(UTC)
    source = str(path)
    async with database.reading() as session:
        attributions = await load_attributions(session)
        service_points = {
            point.code: point for point in (await load_geography(session)).service_points
        }

    checker = _RowChecker(source, questionnaire, attributions, service_points, now)
    rows = sum(1 for _ in _checked_rows(path, checker, progress, "checking", None))
    if checker.problems:
        raise ResponseImportError(checker.problems)

    def rechecked() -> Iterator[ImportedResponse]:
        # Second pass over the file: nothing but ids is held in memory, whatever its size.
        writer = _RowChecker(source, questionnaire, attributions, service_points, now)
        yield from _checked_rows(path, writer, None, "importing", rows)
        if writer.problems:  # the file changed between the two passes: nothing is kept
            raise ResponseImportError(writer.problems)

    added = await add_imported(
        database,
        rechecked(),
        ImportContext(
            questionnaire_id=questionnaire.id,
            questionnaire_version=questionnaire.version,
            language=questionnaire.default_language,
            scale_values=questionnaire.scale_values(),
            secret=secret,
            reporting_day=lambda instant: reporting_day(instant, zone),
        ),
        dry_run=dry_run,
        progress=None if progress is None else lambda done: progress("importing", done, rows),
    )
    return ImportReport(
        source, rows, added.count, rows - added.count, tuple(sorted(added.days)), dry_run
    )
