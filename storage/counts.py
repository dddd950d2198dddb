"""The daily counts: counting a reporting day in the database (quality flags per response,
answers per cell, item and value), and reading them back summed over a period.

Everything heavy happens in SQL, a day at a time (`INSERT … SELECT … GROUP BY`), so
millions of answers never pass through Python (except once, for responses stored before
their quality facts were recorded at completion: `record_missing_facts`). A day takes three
statements: flags from the facts recorded with each response, then one pass over the day's
answers for the counts, then the respondents per cell (and a fourth for the profile's bands).
The counts statement differs by backend (SQLite sorts to group, so it groups on numbered
cells; PostgreSQL hashes: `counts_sql`). A day, or a part of it (its service points from one
code to another), is recomputed whole inside one transaction: delete its rows, insert them
again. That makes a run idempotent and a half-finished run harmless, and lets days and parts
be counted at once.

Which days to count, the run record and the lease are the aggregation job's
(`analytics.aggregate`); indices are pandas arithmetic on the sums (`analytics.report`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import tempfile
from collections.abc import Collection, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    String,
    TextClause,
    bindparam,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from questionnaires.model import SATISFACTION_VALUES
from storage.db import Database, Statement, Transaction
from storage.models import DailyBandCount, DailyCount, DailyRespondents, DirtyDay
from storage.response_facts import ScaleValues
from storage.sessions import facts_missing, mark_dirty, record_missing_facts

log = logging.getLogger(__name__)

_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

QUALITY_FLAGS = ("straight_lining", "speeding", "repeated")
"""The quality flags of a response. The counts keep which ones a response carried as `flags`,
one bit per flag in this order (straight-lining 1, speeding 2, repeat 4), so the method read
with them decides which combinations leave a response out (`analytics.method`)."""

_FLAG_BITS = " + ".join(
    f"CASE WHEN q.{flag} THEN {1 << bit} ELSE 0 END" for bit, flag in enumerate(QUALITY_FLAGS)
)


@dataclass(frozen=True)
class QualityRules:
    """Which responses are counted, and the thresholds of their quality flags (docs/indices.md,
    "Response quality"). Simulated responses count only where asked (the demo)."""

    straight_lining_min_items: int = 10
    speeding_seconds_per_item: float = 2.0
    repeat_window_hours: float = 24.0
    count_simulated: bool = False


@dataclass(frozen=True)
class DayCount:
    """What recomputing one day found."""

    day: date
    responses: int
    flagged: int


def _sql_list(values: Sequence[str]) -> str:
    # Codes are inlined, not bound: the same list appears several times in one statement,
    # and each code is checked to be a plain token first.
    for value in values:
        if not _CODE.match(value):
            raise ValueError(f"not a plain item code or value: {value!r}")
    return ", ".join(f"'{value}'" for value in values)


@dataclass(frozen=True)
class Tables:
    """Where a day's statements write their rows, and where the counts read the flags from."""

    quality: str = "response_quality"
    counts: str = "daily_counts"
    respondents: str = "daily_respondents"
    band_counts: str = "daily_band_counts"
    cells: str = ""  # SQLite's: the day's counted responses with their cells, numbered


COUNTED_TABLES = Tables()


def scratch_tables(schema: str) -> Tables:
    """The same rows staged in a scratch file attached as `schema` (`Database.scratch_on`): on
    SQLite, writing there takes no lock on the database file, so a day (or a part of one) is
    counted on a reader connection beside others, and only the copy into COUNTED_TABLES waits
    for the one writer (`DayCounter.recount_staged`)."""
    quality, counts, respondents, band_counts = (f"{schema}.{name}" for name in _STAGED)
    return Tables(quality, counts, respondents, band_counts, cells=f"{schema}.staged_cells")


_STAGED = ("staged_quality", "staged_counts", "staged_respondents", "staged_bands")


STAGED_TABLES = scratch_tables("scratch")  # on the connection that counts them


@dataclass(frozen=True)
class DayPart:
    """The responses of a day at the service points from `low` (included) to `high`
    (excluded), None leaving that end open. A day is counted in parts to use more than one
    core for it; each part holds whole cells (a cell is at one service point), so the parts'
    rows lie side by side, never added up."""

    low: str | None = None
    high: str | None = None


WHOLE_DAY = DayPart()


def _seconds(column: str, sqlite: bool) -> str:
    if sqlite:
        return f"(julianday({column}) * 86400.0)"
    return f"EXTRACT(EPOCH FROM {column})"


# The responses of one reporting day that are counted: the quality statement flags them,
# and the counts and respondents then follow `response_quality`, which holds exactly these.
_DAY_FILTER = """r.reporting_day = :day AND r.questionnaire_id = :questionnaire_id
  AND (r.simulated = FALSE OR :count_simulated)"""
# Of one part of the day (`DayPart`): what the quality statement flags is all the other
# statements count.
_PART_FILTER = """
  AND (:low IS NULL OR r.service_point_code >= :low)
  AND (:high IS NULL OR r.service_point_code < :high)"""


def quality_sql(sqlite: bool, tables: Tables = COUNTED_TABLES) -> str:
    """The statement that flags every counted response of one reporting day (`:day`), or of
    the part of it at service points from `:low` to `:high` (`DayPart`).

    Straight-lining and speeding are read from the facts recorded with each response
    (storage/response_facts.py), so no answer is read here:
    - straight-lining: at least `:straight_min` real scale answers, all one value;
    - speeding: the median gap between consecutive answers is under `:speeding_seconds`
      (imported responses have no timing and never speed);
    - repeat: an earlier response (by completion time, then id) of the same respondent at
      the same counter within `:repeat_seconds`; imports have no key, so never match.
    """
    completed_earlier = _seconds("e.completed_at", sqlite)
    completed = _seconds("r.completed_at", sqlite)
    # The checks are materialised: flattened, PostgreSQL would run the repeat lookup twice,
    # once for `repeated` and once more inside `flagged`.
    return f"""
WITH checks AS MATERIALIZED (
    SELECT r.id, r.reporting_day,
           COALESCE(r.scale_answers >= :straight_min AND r.uniform_value IS NOT NULL, FALSE)
               AS straight_lining,
           COALESCE(r.median_gap_seconds < :speeding_seconds, FALSE) AS speeding,
           EXISTS (
               SELECT 1 FROM responses e
               WHERE e.respondent_key = r.respondent_key
                 AND e.service_point_code = r.service_point_code
                 AND e.id <> r.id
                 AND (e.completed_at < r.completed_at
                      OR (e.completed_at = r.completed_at AND e.id < r.id))
                 AND {completed_earlier} >= {completed} - :repeat_seconds
           ) AS repeated
    FROM responses r
    WHERE {_DAY_FILTER}{_PART_FILTER}
)
INSERT INTO {tables.quality} ({_QUALITY_COLUMNS})
SELECT id, reporting_day, straight_lining, speeding, repeated,
       (straight_lining OR speeding OR repeated)
FROM checks
"""  # noqa: S608


_QUALITY_COLUMNS = "response_id, reporting_day, straight_lining, speeding, repeated, flagged"


# The cell a counted response is counted in, besides its day: (column of daily_counts and
# daily_respondents, its SQL over the response `r` and its flags `q`). Both statements group by
# these, so a column added here is counted in both.
_CELL = (
    ("service_point_code", "r.service_point_code"),
    ("authority_code", "r.authority_code"),
    ("procedure_code", "r.procedure_code"),
    ("respondent_type", "r.respondent_type"),
    ("channel", "r.channel"),
    ("flagged", "q.flagged"),
    ("flags", _FLAG_BITS),
)


def _columns(cell: Sequence[tuple[str, str]], table: str = "") -> str:
    """A cell's column names, each of `table` when given."""
    return ", ".join(f"{table}.{column}" if table else column for column, _ in cell)


def _expressions(cell: Sequence[tuple[str, str]]) -> str:
    """A cell's columns as SQL over the response `r` and its flags `q`."""
    return ", ".join(expression for _, expression in cell)


_CELL_COLUMNS = _columns(_CELL)
_CELL_SQL = _expressions(_CELL)


_COUNT_COLUMNS = f"day, {_CELL_COLUMNS}, item_code, value, answers"
_RESPONDENT_COLUMNS = f"day, {_CELL_COLUMNS}, respondents"
# The bands' cell: only cleaned-or-not matters to breakdowns, so channels (and the authority
# and procedure) are summed.
_BAND_CELL = (
    ("service_point_code", "r.service_point_code"),
    ("respondent_type", "r.respondent_type"),
    ("flags", _FLAG_BITS),
)
_BAND_CELL_COLUMNS = _columns(_BAND_CELL)
_BAND_CELL_SQL = _expressions(_BAND_CELL)
BAND_VALUE_COLUMNS = tuple(f"answers_{value}" for value in SATISFACTION_VALUES)
"""The columns of a band row counting the answers of each satisfaction value, in scale order."""
_BAND_COLUMNS = (
    f"day, {_BAND_CELL_COLUMNS}, profile_item, band, item_code, {', '.join(BAND_VALUE_COLUMNS)}"
)


def _counted(tables: Tables) -> str:
    """The day's counted responses (`r`), with their flags (`q`)."""
    return f"responses r JOIN {tables.quality} q ON q.response_id = r.id"


_OF_THE_DAY = (
    "r.reporting_day = :day AND q.reporting_day = :day AND r.questionnaire_id = :questionnaire_id"
    + _PART_FILTER
)


def counts_sql(item_codes: Sequence[str], sqlite: bool, tables: Tables = COUNTED_TABLES) -> str:
    """The statement that counts one day's answers per cell, item and value: the one pass
    over the day's answers.

    SQLite groups by sorting every answer of the day, so there the day's responses are
    numbered by cell first (`cells_sql`) and the answers grouped on that number, an item and
    a value, keys about half as costly to sort as every column of the cell; the cell's columns
    are joined back to the groups (a few thousand a day), not to the answers. PostgreSQL
    groups by hashing and looks the answers up per response: there the plain grouping is
    the faster one, and the numbered cells would lead its planner to read every answer of
    every day.
    """
    items = _sql_list(item_codes)
    if not sqlite:
        return f"""
INSERT INTO {tables.counts} ({_COUNT_COLUMNS})
SELECT r.reporting_day, {_CELL_SQL}, a.item_code, a.value, COUNT(*)
FROM {_counted(tables)} JOIN answers a ON a.session_id = r.session_id
WHERE {_OF_THE_DAY} AND a.item_code IN ({items})
GROUP BY r.reporting_day, {_CELL_SQL}, a.item_code, a.value
"""  # noqa: S608
    named = _columns(_CELL, "n")
    return f"""
WITH tallies AS MATERIALIZED (
    SELECT x.cell, a.item_code, a.value, COUNT(*) AS answers
    FROM {tables.cells} x
    JOIN answers a ON a.session_id = x.session_id
    WHERE a.item_code IN ({items})
    GROUP BY x.cell, a.item_code, a.value
), named AS MATERIALIZED (
    SELECT DISTINCT cell, reporting_day, {_CELL_COLUMNS} FROM {tables.cells}
)
INSERT INTO {tables.counts} ({_COUNT_COLUMNS})
SELECT n.reporting_day, {named}, t.item_code, t.value, t.answers
FROM tallies t
JOIN named n ON n.cell = t.cell
"""  # noqa: S608


def cells_sql(tables: Tables) -> str:
    """SQLite's: the statement that writes the day's counted responses with their cells into
    `tables.cells`, each cell numbered (`cell`), for the counts, respondents and bands to read
    rather than join the responses to their flags again, each of them. From the flags to
    the responses (SQLite's CROSS JOIN keeps that order): the flags are the part's responses
    alone, where the responses' day index holds the whole day's. Written in the order of the
    sessions, as their answers lie in the file, so that the statements that read the answers
    through it walk the file forwards rather than to and fro (the counts of a day at 1M
    responses: 0.61-0.74 → 0.57 s). The bands' coarser cells (`_BAND_CELL`) are numbered
    too (`band_cell`)."""
    return f"""
CREATE TABLE {tables.cells} AS
SELECT r.session_id, r.reporting_day,
       {", ".join(f"{expression} AS {column}" for column, expression in _CELL)},
       DENSE_RANK() OVER (ORDER BY {_CELL_SQL}) AS cell,
       DENSE_RANK() OVER (ORDER BY {_BAND_CELL_SQL}) AS band_cell
FROM {tables.quality} q CROSS JOIN responses r
WHERE r.id = q.response_id AND {_OF_THE_DAY}
ORDER BY r.session_id
"""  # noqa: S608


def band_counts_sql(
    item_codes: Sequence[str],
    profile_codes: Sequence[str],
    sqlite: bool,
    tables: Tables = COUNTED_TABLES,
) -> str:
    """The statement that counts one day's answers per cell, profile band and item, one column
    per satisfaction value: the answers of the respondents who gave each band to each profile
    item (breakdowns). Only cleaned-or-not matters here, so channels are summed.

    Each answer is counted once per band its respondent gave (five or six), which makes this
    the night's largest grouping: about 60 pairs per response. A row holds an item's five
    values: a third of the rows one per value made, to hash into groups on PostgreSQL, copy
    on SQLite and read back. SQLite groups by sorting, so there the pairs are
    grouped on the numbered cell (`band_cell`), not on its three columns, which are joined
    back to the groups (as `counts_sql` does): at 35,000 responses a day, 7.3 → 4.3 s of one
    core."""
    bands = f"p.item_code IN ({_sql_list(profile_codes)}) AND p.value IS NOT NULL"
    # A skipped answer is out of every denominator: a band's figures never need it.
    scale = _sql_list(SATISFACTION_VALUES)
    items = f"a.item_code IN ({_sql_list(item_codes)}) AND a.value IN ({scale})"
    if sqlite:
        tallied = ", ".join(
            f"SUM(a.value = '{value}') AS {column}"
            for value, column in zip(SATISFACTION_VALUES, BAND_VALUE_COLUMNS, strict=True)
        )
        return f"""
WITH tallies AS MATERIALIZED (
    SELECT x.band_cell, p.item_code AS profile_item, p.value AS band, a.item_code, {tallied}
    FROM {tables.cells} x
    JOIN answers p ON p.session_id = x.session_id
    JOIN answers a ON a.session_id = x.session_id
    WHERE {bands} AND {items}
    GROUP BY x.band_cell, p.item_code, p.value, a.item_code
), named AS MATERIALIZED (
    SELECT DISTINCT band_cell, reporting_day, {_BAND_CELL_COLUMNS} FROM {tables.cells}
)
INSERT INTO {tables.band_counts} ({_BAND_COLUMNS})
SELECT n.reporting_day, {_columns(_BAND_CELL, "n")},
       t.profile_item, t.band, t.item_code, {", ".join(f"t.{c}" for c in BAND_VALUE_COLUMNS)}
FROM tallies t
JOIN named n ON n.band_cell = t.band_cell
"""  # noqa: S608
    tallied = ", ".join(
        f"COUNT(*) FILTER (WHERE w.value = '{value}')" for value in SATISFACTION_VALUES
    )
    # PostgreSQL: a response's bands and answers each read once, as two arrays, and paired in
    # memory; joined, its answers were read again for every band it gave (a 35,000-response
    # day at 1M: 7.3 → 5.1-5.5 s).
    return f"""
INSERT INTO {tables.band_counts} ({_BAND_COLUMNS})
SELECT r.reporting_day, {_BAND_CELL_SQL}, g.profile_item, g.band, w.item_code, {tallied}
FROM {_counted(tables)}
CROSS JOIN LATERAL (
    SELECT array_agg(p.item_code) AS codes, array_agg(p.value) AS bands
    FROM answers p WHERE p.session_id = r.session_id AND {bands}
) given
CROSS JOIN LATERAL (
    SELECT array_agg(a.item_code) AS codes, array_agg(a.value) AS answers
    FROM answers a WHERE a.session_id = r.session_id AND {items}
) answered
CROSS JOIN LATERAL unnest(given.codes, given.bands) AS g(profile_item, band)
CROSS JOIN LATERAL unnest(answered.codes, answered.answers) AS w(item_code, value)
WHERE {_OF_THE_DAY}
GROUP BY r.reporting_day, {_BAND_CELL_SQL}, g.profile_item, g.band, w.item_code
"""  # noqa: S608


def respondents_sql(sqlite: bool, tables: Tables = COUNTED_TABLES) -> str:
    """The statement that counts one day's respondents per cell: on SQLite from the numbered
    cells `cells_sql` wrote, on PostgreSQL from the responses joined to their flags."""
    if sqlite:
        cell = _columns(_CELL, "r")
        source, of_the_day = f"{tables.cells} r", "TRUE"
    else:
        cell, source, of_the_day = _CELL_SQL, _counted(tables), _OF_THE_DAY
    return f"""
INSERT INTO {tables.respondents} ({_RESPONDENT_COLUMNS})
SELECT r.reporting_day, {cell}, COUNT(*)
FROM {source}
WHERE {of_the_day}
GROUP BY r.reporting_day, {cell}
"""  # noqa: S608


class DayCounter:
    """Recomputes the quality flags and daily counts of one reporting day at a time, for the
    responses to one questionnaire: the answers to its `item_codes` are counted, those to its
    `band_item_codes` also per band of each of its `profile_codes` (breakdowns), and
    `scale_values` are what its quality facts are judged on.

    `count` counts a day. On PostgreSQL, in one write transaction, or one per part (several
    run at once). On SQLite one connection writes at a time, so the day is counted into scratch files under
    read transactions, which do not hold the write lock and let other days, or other parts
    of the day, be counted on other connections (and cores) meanwhile; only the copy into
    the real tables takes the writer's turn.
    """

    def __init__(
        self,
        questionnaire_id: str,
        item_codes: Sequence[str],
        scale_values: ScaleValues,
        rules: QualityRules,
        *,
        sqlite: bool,
        profile_codes: Sequence[str] = (),
        band_item_codes: Sequence[str] = (),
    ) -> None:
        self.questionnaire_id = questionnaire_id
        self.scale_values = scale_values
        self.rules = rules
        self.sqlite = sqlite
        day = bindparam("day", type_=Date())
        typed = (
            day,
            bindparam("low", type_=String()),
            bindparam("high", type_=String()),
            bindparam("speeding_seconds", type_=Float()),
            bindparam("repeat_seconds", type_=Float()),
            bindparam("count_simulated", type_=Boolean()),
        )

        def statement(sql: str) -> TextClause:
            return text(sql).bindparams(*(p for p in typed if f":{p.key}" in sql))

        def work(tables: Tables) -> list[TextClause]:
            # In this order: the flags first, as the other statements read them (on SQLite
            # through the numbered cells).
            statements = [
                statement(quality_sql(sqlite, tables)),
                *([statement(cells_sql(tables))] if sqlite else []),
                # A band's respondents are the counts of its profile item's answers.
                statement(counts_sql([*item_codes, *profile_codes], sqlite, tables)),
                statement(respondents_sql(sqlite, tables)),
            ]
            if profile_codes and band_item_codes:
                statements.append(
                    statement(band_counts_sql(band_item_codes, profile_codes, sqlite, tables))
                )
            return statements

        def tally(tables: Tables) -> TextClause:
            # The flags of the part alone: SQLite's scratch holds no other's, but on
            # PostgreSQL another part's, committed meanwhile, are in the same table.
            points = "" if sqlite else " JOIN responses r ON r.id = q.response_id"
            return statement(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN q.flagged THEN 1 ELSE 0 END), 0) "  # noqa: S608
                f"FROM {tables.quality} q{points} "
                f"WHERE q.reporting_day = :day{'' if sqlite else _PART_FILTER}"
            )

        real = COUNTED_TABLES
        # A part's rows are those of its service points (every count row has one); its flags
        # are those of its points' responses.
        points = _PART_FILTER.replace("r.service_point_code", "service_point_code")
        self._clear = [
            *(
                statement(f"DELETE FROM {table} WHERE day = :day{points}")  # noqa: S608
                for table in (real.counts, real.respondents, real.band_counts)
            ),
            statement(
                f"DELETE FROM {real.quality} q USING responses r "  # noqa: S608
                f"WHERE q.response_id = r.id AND q.reporting_day = :day{_PART_FILTER}"
                if not sqlite
                else f"DELETE FROM {real.quality} WHERE reporting_day = :day"  # noqa: S608
            ),
        ]
        self._before: list[TextClause] = []
        if not sqlite:
            # PostgreSQL's planner over-estimates these statements and JIT-compiles them, which
            # costs more than the work itself; they are plain scans and sorts, so JIT stays off.
            # work_mem keeps the day's sorts and hashes in memory. And the day's groups are
            # hashed, never sorted: the flags table's statistics predate the rows the day's
            # transaction has just written (a first run found it empty), so the planner took
            # 33,000 flags for a few hundred and sorted the day's 540,000 answers to group
            # them, 2.1 s a day at 1M responses instead of 0.9.
            self._before = [
                text("SET LOCAL jit = off"),
                text("SET LOCAL work_mem = '256MB'"),
                text("SET LOCAL enable_sort = off"),
            ]
        self._work = work(STAGED_TABLES if sqlite else real)
        self._tally = tally(STAGED_TABLES if sqlite else real)
        # SQLite's staging: empty scratch tables shaped as the real ones (the flags keyed by
        # response, as the counts look them up so), the day's statements into them, then one
        # copy each into the real tables.
        self._staging = tuple(
            zip(
                _STAGED,
                (real.quality, real.counts, real.respondents, real.band_counts),
                (_QUALITY_COLUMNS, _COUNT_COLUMNS, _RESPONDENT_COLUMNS, _BAND_COLUMNS),
                strict=True,
            )
        )
        self._stage = [
            *(
                text(f"CREATE TABLE scratch.{name} AS SELECT {columns} FROM {table} WHERE 0")  # noqa: S608
                for name, table, columns in self._staging
            ),
            text("CREATE UNIQUE INDEX scratch.staged_quality_key ON staged_quality (response_id)"),
        ]

    def _copies(self, schema: str) -> list[TextClause]:
        """The statements that copy the rows staged in the scratch file attached as `schema`
        into the real tables."""
        copies = [
            text(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {schema}.{name}")  # noqa: S608
            for name, table, columns in self._staging
        ]
        # A response withdrawn after the day was counted has no flags to keep (their key is
        # its id); its day was marked again, so the next run counts the day without it.
        # Looked up one by one: written `response_id IN (SELECT id FROM responses)`, SQLite
        # walked every response of every day and searched the staged flags for each (160 ms
        # a day at 1M responses, under the write lock, against 34 ms).
        copies[0] = text(
            f"INSERT INTO {COUNTED_TABLES.quality} ({_QUALITY_COLUMNS}) "  # noqa: S608
            f"SELECT {_QUALITY_COLUMNS} FROM {schema}.staged_quality s "
            "WHERE EXISTS (SELECT 1 FROM responses r WHERE r.id = s.response_id)"
        )
        return copies

    def _parameters(self, day: date, part: DayPart = WHOLE_DAY) -> dict[str, object]:
        return {
            "day": day,
            "questionnaire_id": self.questionnaire_id,
            "speeding_seconds": self.rules.speeding_seconds_per_item,
            "straight_min": self.rules.straight_lining_min_items,
            "repeat_seconds": self.rules.repeat_window_hours * 3600.0,
            "count_simulated": self.rules.count_simulated,
            "low": part.low,
            "high": part.high,
        }

    async def count(self, database: Database, day: date, *, parts: int = 1) -> DayCount:
        """Replace one day's flags and counts; clear its dirty mark if nobody re-marked it
        meanwhile. With `parts` above 1, the day is split into that many parts by service
        point (fewer when a few points hold most of it), each counted on its own connection
        and core. On SQLite all parts are copied in by one write, so no reader sees part of
        a day; on PostgreSQL each part is its own transaction (`_count_in_parts`).

        A day whose counting fails or is stopped is marked, so that the next run counts it
        whole again (on PostgreSQL a part may have been written, and a run of named days
        may count a day nobody marked)."""
        try:
            return await self._count(database, day, parts)
        except BaseException:
            await asyncio.shield(_mark_again(database, day))
            raise

    async def _count(self, database: Database, day: date, parts: int) -> DayCount:
        if self.sqlite:
            return await self._count_staged(database, day, parts)
        if parts > 1:
            return await self._count_in_parts(database, day, parts)
        async with database.transaction() as session:
            seen: datetime | None = await session.scalar(_MARKED, {"day": day})
            # Facts are the questionnaire's (its scale values), as the engine records them.
            await record_missing_facts(session, day, self.questionnaire_id, self.scale_values)
            counted = await self._recount(session, day, WHOLE_DAY)
            await _unmark(session, day, seen)
        return counted

    async def _count_in_parts(self, database: Database, day: date, parts: int) -> DayCount:
        """PostgreSQL's `count` of a day in parts, each in a write transaction of its own, at
        once. A part replaces every row of its service points, so a reader sees each point's
        rows whole, from before or after, as it would between two responses."""
        async with database.reading() as session:
            seen: datetime | None = await session.scalar(_MARKED, {"day": day})
            missing = await facts_missing(session, day, self.questionnaire_id)
            day_parts = await split_day(session, day, parts)
        if missing:
            # Once, before the parts: each would otherwise write the same responses' facts.
            async with database.transaction() as session:
                await record_missing_facts(session, day, self.questionnaire_id, self.scale_values)

        async def count_part(part: DayPart) -> DayCount:
            async with database.transaction() as session:
                return await self._recount(session, day, part)

        try:
            async with asyncio.TaskGroup() as group:
                counting = [group.create_task(count_part(part)) for part in day_parts]
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the first part that failed
        async with database.transaction() as session:
            await _unmark(session, day, seen)
        counted = [task.result() for task in counting]
        return DayCount(
            day, sum(part.responses for part in counted), sum(part.flagged for part in counted)
        )

    async def _recount(self, session: Transaction, day: date, part: DayPart) -> DayCount:
        """PostgreSQL's counting of a day, or of a part of it, in the caller's write
        transaction."""
        for setting in self._before:
            await session.execute(setting)
        parameters = self._parameters(day, part)
        for clear in self._clear:
            await session.execute(clear, parameters)
        for work in self._work:
            await session.execute(work, parameters)
        responses, flagged = (await session.execute(self._tally, parameters)).one()
        return DayCount(day, int(responses), int(flagged))

    async def _count_staged(self, database: Database, day: date, parts: int) -> DayCount:
        """SQLite's `count`, in three steps: the missing facts recorded (a write, rarely
        anything to write), the day's parts counted into scratch files (under read
        transactions), and the rows copied over the day's (a short write)."""
        # Looked for first, and written only when there are any (never, for the responses the
        # engine stores): a write transaction at every day's start queued behind the other
        # days' copies, so a day waited while another was copied in (a quarter of a full
        # run's time was one day copying alone).
        async with database.reading() as session:
            missing = await facts_missing(session, day, self.questionnaire_id)
        if missing:
            async with database.transaction() as session:
                await record_missing_facts(session, day, self.questionnaire_id, self.scale_values)
        with tempfile.TemporaryDirectory(prefix="sipas-day-") as folder:
            files = Path(folder)
            async with (
                database.own_connection() as connection,
                database.scratch_on(connection, files / "0.db", "scratch"),
            ):
                async with database.reading_on(connection):
                    # The snapshot every part sees at least: a response committed after it
                    # re-marks the day, so the mark below survives and the day is counted again.
                    seen: datetime | None = await connection.scalar(_MARKED, {"day": day})
                    day_parts = await split_day(connection, day, parts)
                    try:
                        async with asyncio.TaskGroup() as group:
                            others = [
                                group.create_task(
                                    self._count_apart(database, day, part, files / f"{n}.db")
                                )
                                for n, part in enumerate(day_parts[1:], start=1)
                            ]
                            tallies = [await self._count_part(connection, day, day_parts[0])]
                    except ExceptionGroup as failed:
                        raise failed.exceptions[0] from None  # the first part that failed
                    tallies += [task.result() for task in others]
                async with AsyncExitStack() as attached:
                    sources = ["scratch"]
                    for number in range(1, len(day_parts)):
                        sources.append(f"scratch{number}")
                        await attached.enter_async_context(
                            database.scratch_on(connection, files / f"{number}.db", sources[-1])
                        )
                    async with database.writing_on(connection):
                        for clear in self._clear:
                            await connection.execute(clear, self._parameters(day))
                        for source in sources:
                            for copy in self._copies(source):
                                await connection.execute(copy)
                        await _unmark(connection, day, seen)
        return DayCount(day, sum(count for count, _ in tallies), sum(f for _, f in tallies))

    async def _count_part(
        self, connection: AsyncConnection, day: date, part: DayPart
    ) -> tuple[int, int]:
        """Count one part of `day` into the scratch tables of `connection` (in a read
        transaction with a scratch file attached); its responses and how many are flagged."""
        for stage in self._stage:
            await connection.execute(stage)
        for work in self._work:
            await connection.execute(work, self._parameters(day, part))
        responses, flagged = (
            await connection.execute(self._tally, self._parameters(day, part))
        ).one()
        return int(responses), int(flagged)

    async def _count_apart(
        self, database: Database, day: date, part: DayPart, path: Path
    ) -> tuple[int, int]:
        """`_count_part` on a connection of its own, into the scratch file `path`."""
        async with (
            database.own_connection() as connection,
            database.scratch_on(connection, path, "scratch"),
            database.reading_on(connection),
        ):
            return await self._count_part(connection, day, part)


_MARKED = select(DirtyDay.marked_at).where(DirtyDay.day == bindparam("day", type_=Date()))


async def _mark_again(database: Database, day: date) -> None:
    """Mark a day whose counting failed for the next run; when even that fails (the database
    gone), say so in the log and leave the counting's own error to be raised."""
    try:
        async with database.transaction() as session:
            await mark_dirty(session, day, datetime.now(UTC))
    except Exception:
        log.exception("could not mark %s for the next aggregation run", day)


async def _unmark(session: Statement, day: date, seen: datetime | None) -> None:
    """Clear the day's dirty mark as read (`seen`) before it was counted. A mark changed since
    (a response committed meanwhile, whatever its clock said) must survive, so the day is
    counted again."""
    if seen is not None:
        await session.execute(
            delete(DirtyDay).where(DirtyDay.day == day, DirtyDay.marked_at == seen)
        )


_RESPONSES_OF_DAY = text("SELECT COUNT(*) FROM responses WHERE reporting_day = :day").bindparams(
    bindparam("day", type_=Date())
)
_POINT_AT = text(
    "SELECT service_point_code FROM responses WHERE reporting_day = :day "
    "ORDER BY service_point_code LIMIT 1 OFFSET :skip"
).bindparams(bindparam("day", type_=Date()))


async def split_day(
    connection: AsyncConnection | Transaction, day: date, parts: int
) -> list[DayPart]:
    """`day` in up to `parts` parts of about as many responses, cut between service points
    (fewer parts when a few points hold most of the day). Read through the index of the
    responses' day and point; the responses of every questionnaire are weighed, since only
    the balance matters."""
    if parts <= 1:
        return [WHOLE_DAY]
    responses = int(await connection.scalar(_RESPONSES_OF_DAY, {"day": day}) or 0)
    lowest = await connection.scalar(_POINT_AT, {"day": day, "skip": 0})
    cuts: list[str] = []
    for number in range(1, parts):
        point = await connection.scalar(
            _POINT_AT, {"day": day, "skip": responses * number // parts}
        )
        # A cut at the day's first point, or at the last cut again, would leave a part empty.
        if point is not None and lowest is not None and point > (cuts[-1] if cuts else lowest):
            cuts.append(point)
    bounds: list[str | None] = [None, *cuts, None]
    return [DayPart(low, high) for low, high in itertools.pairwise(bounds)]


async def dirty_days(session: Transaction) -> list[date]:
    """The reporting days marked changed since they were last counted."""
    return list((await session.scalars(select(DirtyDay.day).order_by(DirtyDay.day))).all())


async def counted_days(session: Transaction) -> list[date]:
    """Every day that has responses or counts (what a full run recomputes)."""
    rows = await session.execute(
        text(
            "SELECT reporting_day FROM responses UNION SELECT day FROM daily_respondents "
            "UNION SELECT day FROM daily_counts UNION SELECT day FROM daily_band_counts"
        ).columns(reporting_day=Date())
    )
    return sorted({row[0] for row in rows})


# --- Reading the counts back -------------------------------------------------------------------

AnswerCountRow = tuple[str, str, str, str | None, int]
"""(cell, respondent type, item code, value, answers) summed over a period."""
RespondentCountRow = tuple[str, str, int]
"""(cell, respondent type, respondents) summed over a period."""
CELLS = ("service_point_code", "authority_code", "procedure_code")
"""What counts can be summed by: the counter, the competent authority, or the procedure."""


async def summed_counts(
    session: Transaction,
    first: date,
    last: date,
    *,
    excluded: Collection[int] = (),
    cell: str = "service_point_code",
) -> tuple[list[AnswerCountRow], list[RespondentCountRow]]:
    """The answer counts and respondent counts of the days `first` to `last` (both included),
    summed over days and channels per `cell` (one of CELLS; rows without one are left out);
    without the responses whose `flags` (QUALITY_FLAGS bits) are one of `excluded` (none left
    out when it is empty: the raw responses)."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, not {cell!r}")
    count_cell = getattr(DailyCount, cell)
    people_cell = getattr(DailyRespondents, cell)
    count_query = (
        select(
            count_cell,
            DailyCount.respondent_type,
            DailyCount.item_code,
            DailyCount.value,
            func.sum(DailyCount.answers),
        )
        .where(DailyCount.day >= first, DailyCount.day <= last, count_cell.is_not(None))
        .group_by(count_cell, DailyCount.respondent_type, DailyCount.item_code, DailyCount.value)
    )
    people_query = (
        select(
            people_cell, DailyRespondents.respondent_type, func.sum(DailyRespondents.respondents)
        )
        .where(
            DailyRespondents.day >= first, DailyRespondents.day <= last, people_cell.is_not(None)
        )
        .group_by(people_cell, DailyRespondents.respondent_type)
    )
    if excluded:
        count_query = count_query.where(DailyCount.flags.not_in(sorted(excluded)))
        people_query = people_query.where(DailyRespondents.flags.not_in(sorted(excluded)))
    counts = list((await session.execute(count_query)).tuples().all())
    people = list((await session.execute(people_query)).tuples().all())
    return counts, people


BandCountRow = tuple[str, str, str, str, str, int, int, int, int, int]
"""(service point, respondent type, profile item, band, item code, then the answers of each
satisfaction value in scale order) summed over a period."""


async def summed_band_counts(
    session: Transaction, first: date, last: date, *, excluded: Collection[int] = ()
) -> list[BandCountRow]:
    """The answer counts per profile band of the days `first` to `last` (both included),
    without the responses whose `flags` are one of `excluded` (as `summed_counts`)."""
    keys = (
        DailyBandCount.service_point_code,
        DailyBandCount.respondent_type,
        DailyBandCount.profile_item,
        DailyBandCount.band,
        DailyBandCount.item_code,
    )
    query = (
        select(
            *keys,
            *(func.sum(getattr(DailyBandCount, column)) for column in BAND_VALUE_COLUMNS),
        )
        .where(DailyBandCount.day >= first, DailyBandCount.day <= last)
        .group_by(*keys)
    )
    if excluded:
        query = query.where(DailyBandCount.flags.not_in(sorted(excluded)))
    return list((await session.execute(query)).tuples().all())


async def latest_counted_day(session: Transaction) -> date | None:
    """The last reporting day with counted responses."""
    day: date | None = await session.scalar(select(func.max(DailyRespondents.day)))
    return day
