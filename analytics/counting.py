"""Counting in the database: quality flags per response and daily counts per cell, item and value.

Everything heavy happens in SQL, a day at a time (`INSERT … SELECT … GROUP BY`), so
millions of answers never pass through Python. PostgreSQL flags and counts a day in three
statements; SQLite copies the day's answers once into per-connection temporary tables and
works from those.
A day is recomputed as a whole inside one transaction: delete its rows, insert them again.
That makes a run idempotent and a half-finished run harmless.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, TextClause, bindparam, delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.layout import ItemLayout
from storage.models import DirtyDay

_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class QualityRules:
    """Which responses are counted, and the thresholds of their quality flags (README,
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


def _sql_list(values: list[str]) -> str:
    # Codes are inlined, not bound: the same list appears several times in one statement,
    # and each code is checked to be a plain token first.
    for value in values:
        if not _CODE.match(value):
            raise ValueError(f"not a plain item code or value: {value!r}")
    return ", ".join(f"'{value}'" for value in values)


def _seconds(column: str, sqlite: bool) -> str:
    if sqlite:
        return f"(julianday({column}) * 86400.0)"
    return f"EXTRACT(EPOCH FROM {column})"


def _answered(layout: ItemLayout, valid_values: list[str]) -> str:
    """The condition that an answer row is a valid answer to a satisfaction item."""
    return (
        f"a.item_code IN ({_sql_list(layout.item_codes)}) "
        f"AND a.value IN ({_sql_list(valid_values)})"
    )


# The responses of one reporting day that are counted. Every statement selects them the
# same way; daily counts and respondents then follow `response_quality`, which holds
# exactly these responses.
_DAY_FILTER = """r.reporting_day = :day AND r.questionnaire_id = :questionnaire_id
  AND (r.simulated = FALSE OR :count_simulated)"""

_DAY_RESPONSES = f"""
day_responses AS MATERIALIZED (
    SELECT r.id, r.session_id, r.reporting_day, r.respondent_key, r.service_point_code,
           r.respondent_type, r.completed_at, r.channel
    FROM responses r
    WHERE {_DAY_FILTER}
)"""  # noqa: S608


def _flags_sql(sqlite: bool) -> str:
    """The `flags` CTE: one row per response of `day_responses`, from `per_session`.

    Straight-lining: at least `:straight_min` valid scale answers, all one value.
    Speeding: more than half of the gaps between consecutive answers of the session are
    shorter than `:speeding_seconds` ("median time per item under T", without sorting the
    gaps); imported (paper) responses carry no timing and never speed.
    Repeat: an earlier response (by completion time, then id) of the same respondent at the
    same counter within `:repeat_seconds`; imports have no key, so never match.
    """
    completed_earlier = _seconds("e.completed_at", sqlite)
    completed = _seconds("d.completed_at", sqlite)
    return f"""
checks AS MATERIALIZED (
    SELECT d.id, d.session_id, d.reporting_day, d.service_point_code, d.respondent_type,
           d.channel,
           COALESCE(p.scale_answers, 0) AS scale_answers,
           COALESCE(p.scale_answers >= :straight_min AND p.lowest = p.highest, FALSE)
               AS straight_lining,
           COALESCE(d.channel <> 'import' AND p.timed_items > 0
                     AND 2 * p.fast_items > p.timed_items, FALSE) AS speeding,
           EXISTS (
               SELECT 1 FROM responses e
               WHERE e.respondent_key = d.respondent_key
                 AND e.service_point_code = d.service_point_code
                 AND e.id <> d.id
                 AND (e.completed_at < d.completed_at
                      OR (e.completed_at = d.completed_at AND e.id < d.id))
                 AND {completed_earlier} >= {completed} - :repeat_seconds
           ) AS repeated
    FROM day_responses d LEFT JOIN per_session p ON p.session_id = d.session_id
),
flags AS MATERIALIZED (
    SELECT checks.*, (straight_lining OR speeding OR repeated) AS flagged FROM checks
)"""  # noqa: S608


_QUALITY_INSERT = """
INSERT INTO response_quality
    (response_id, reporting_day, scale_answers, straight_lining, speeding, repeated, flagged)
SELECT id, reporting_day, scale_answers, straight_lining, speeding, repeated, flagged
FROM flags"""

_PER_SESSION = """
per_session AS (
    SELECT session_id,
           COUNT(scale_value) AS scale_answers,
           MIN(scale_value) AS lowest,
           MAX(scale_value) AS highest,
           COUNT(seconds) AS timed_items,
           SUM(CASE WHEN seconds < :speeding_seconds THEN 1 ELSE 0 END) AS fast_items
    FROM timed GROUP BY session_id
)"""


def postgres_quality_sql(layout: ItemLayout, valid_values: list[str]) -> str:
    """PostgreSQL: the statement that flags every response of one reporting day (`:day`).

    The day's answers are looked up response by response (a LATERAL that OFFSET 0 keeps
    from being flattened): as a plain join PostgreSQL merge-joined along the answers index
    from its start, reading every earlier day's answers too, more of them each later day.
    In session order, the window only sorts each session's answers by time.
    """
    # Only checked item codes and fixed SQL fragments are inlined (S608 below).
    return f"""
WITH {_DAY_RESPONSES},
timed AS (
    SELECT d.session_id, a.scale_value,
           a.at_seconds - LAG(a.at_seconds)
               OVER (PARTITION BY d.session_id ORDER BY a.answered_at, a.id) AS seconds
    FROM (SELECT session_id FROM day_responses ORDER BY session_id) d
    CROSS JOIN LATERAL (
        SELECT a.id, a.answered_at,
               CASE WHEN {_answered(layout, valid_values)} THEN a.value END AS scale_value,
               {_seconds("a.answered_at", False)} AS at_seconds
        FROM answers a WHERE a.session_id = d.session_id
        OFFSET 0
    ) a
),
{_PER_SESSION},
{_flags_sql(False)}
{_QUALITY_INSERT}
"""  # noqa: S608


def postgres_counts_sql(layout: ItemLayout) -> str:
    """PostgreSQL: the statement that counts one day's answers per cell, item and value.

    (Reading the answers again costs less than keeping the quality statement's copy: a
    single statement with data-modifying CTEs measured slower.)
    """
    return f"""
INSERT INTO daily_counts
    (day, service_point_code, respondent_type, channel, flagged, item_code, value, answers)
SELECT r.reporting_day, r.service_point_code, r.respondent_type, r.channel, q.flagged,
       a.item_code, a.value, COUNT(*)
FROM responses r
JOIN response_quality q ON q.response_id = r.id
JOIN answers a ON a.session_id = r.session_id
WHERE r.reporting_day = :day AND r.questionnaire_id = :questionnaire_id
  AND a.item_code IN ({_sql_list(layout.item_codes)})
GROUP BY r.reporting_day, r.service_point_code, r.respondent_type, r.channel, q.flagged,
         a.item_code, a.value
"""  # noqa: S608


POSTGRES_RESPONDENTS_SQL = """
INSERT INTO daily_respondents
    (day, service_point_code, respondent_type, channel, flagged, respondents)
SELECT r.reporting_day, r.service_point_code, r.respondent_type, r.channel, q.flagged, COUNT(*)
FROM responses r JOIN response_quality q ON q.response_id = r.id
WHERE r.reporting_day = :day AND r.questionnaire_id = :questionnaire_id
GROUP BY r.reporting_day, r.service_point_code, r.respondent_type, r.channel, q.flagged
"""


# SQLite (window functions evaluated partition by partition at several times the cost of a
# sort, and one sort per GROUP BY) works through per-connection temporary tables:
# `agg_timeline` holds the day's answers sorted by session and time, so the previous answer
# of a session is the row before (`seq - 1`); `agg_cells` numbers the day's
# (counter, type, channel, flagged) cells and `agg_sessions` gives each session its cell,
# so the counts group by a small integer instead of four text columns.
SQLITE_TABLES = (
    """CREATE TEMP TABLE IF NOT EXISTS agg_timeline (
    seq INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL,
    at_seconds REAL NOT NULL,
    scale_value TEXT,
    item_code TEXT,
    value TEXT
)""",
    """CREATE TEMP TABLE IF NOT EXISTS agg_cells (
    id INTEGER PRIMARY KEY,
    reporting_day DATE NOT NULL,
    service_point_code TEXT NOT NULL,
    respondent_type TEXT NOT NULL,
    channel TEXT NOT NULL,
    flagged BOOLEAN NOT NULL,
    UNIQUE (service_point_code, respondent_type, channel, flagged, reporting_day)
)""",
    """CREATE TEMP TABLE IF NOT EXISTS agg_sessions (
    session_id INTEGER PRIMARY KEY,
    cell INTEGER NOT NULL
)""",
)
SQLITE_EMPTY = (
    "DELETE FROM temp.agg_timeline",
    "DELETE FROM temp.agg_cells",
    "DELETE FROM temp.agg_sessions",
)


def sqlite_timeline_sql(layout: ItemLayout, valid_values: list[str]) -> str:
    """SQLite: the day's answers into `temp.agg_timeline`, in session and time order.

    The day's responses come from the (reporting_day, service_point_code) index in
    (counter, id) order, so SQLite only sorts each response's answers by time. `item_code`
    is kept for satisfaction items only (what the counts count).
    """
    return f"""
INSERT INTO temp.agg_timeline (session_id, at_seconds, scale_value, item_code, value)
SELECT r.session_id, {_seconds("a.answered_at", True)},
       CASE WHEN {_answered(layout, valid_values)} THEN a.value END,
       CASE WHEN a.item_code IN ({_sql_list(layout.item_codes)}) THEN a.item_code END,
       a.value
FROM responses r CROSS JOIN answers a
WHERE {_DAY_FILTER}
  AND a.session_id = r.session_id
ORDER BY r.service_point_code, r.id, a.answered_at, a.id
"""  # noqa: S608


SQLITE_QUALITY_SQL = f"""
WITH {_DAY_RESPONSES},
per_session AS (
    SELECT t.session_id,
           COUNT(t.scale_value) AS scale_answers,
           MIN(t.scale_value) AS lowest,
           MAX(t.scale_value) AS highest,
           COUNT(p.seq) AS timed_items,
           SUM(CASE WHEN t.at_seconds - p.at_seconds < :speeding_seconds THEN 1 ELSE 0 END)
               AS fast_items
    FROM temp.agg_timeline t
    LEFT JOIN temp.agg_timeline p ON p.seq = t.seq - 1 AND p.session_id = t.session_id
    GROUP BY t.session_id
),
{_flags_sql(True)}
{_QUALITY_INSERT}
"""  # noqa: S608

SQLITE_CELLS_SQL = """
INSERT INTO temp.agg_cells
    (reporting_day, service_point_code, respondent_type, channel, flagged)
SELECT DISTINCT r.reporting_day, r.service_point_code, r.respondent_type, r.channel, q.flagged
FROM responses r JOIN response_quality q ON q.response_id = r.id
WHERE r.reporting_day = :day AND r.questionnaire_id = :questionnaire_id
"""

SQLITE_SESSIONS_SQL = """
INSERT INTO temp.agg_sessions (session_id, cell)
SELECT r.session_id, c.id
FROM responses r JOIN response_quality q ON q.response_id = r.id
JOIN temp.agg_cells c
    ON c.service_point_code = r.service_point_code AND c.respondent_type = r.respondent_type
   AND c.channel = r.channel AND c.flagged = q.flagged AND c.reporting_day = r.reporting_day
WHERE r.reporting_day = :day AND r.questionnaire_id = :questionnaire_id
"""

SQLITE_COUNTS_SQL = """
INSERT INTO daily_counts
    (day, service_point_code, respondent_type, channel, flagged, item_code, value, answers)
SELECT c.reporting_day, c.service_point_code, c.respondent_type, c.channel, c.flagged,
       g.item_code, g.value, g.answers
FROM (
    SELECT s.cell, t.item_code, t.value, COUNT(*) AS answers
    FROM temp.agg_timeline t CROSS JOIN temp.agg_sessions s
    WHERE t.item_code IS NOT NULL AND s.session_id = t.session_id
    GROUP BY s.cell, t.item_code, t.value
) g JOIN temp.agg_cells c ON c.id = g.cell
"""

SQLITE_RESPONDENTS_SQL = """
INSERT INTO daily_respondents
    (day, service_point_code, respondent_type, channel, flagged, respondents)
SELECT c.reporting_day, c.service_point_code, c.respondent_type, c.channel, c.flagged, g.n
FROM (SELECT cell, COUNT(*) AS n FROM temp.agg_sessions GROUP BY cell) g
JOIN temp.agg_cells c ON c.id = g.cell
"""


class DayCounter:
    """Recomputes the quality flags and daily counts of one reporting day at a time."""

    def __init__(
        self, layout: ItemLayout, valid_values: list[str], rules: QualityRules, *, sqlite: bool
    ) -> None:
        self.layout = layout
        self.rules = rules
        day = bindparam("day", type_=Date())
        typed = (
            day,
            bindparam("speeding_seconds", type_=Float()),
            bindparam("repeat_seconds", type_=Float()),
            bindparam("count_simulated", type_=Boolean()),
        )

        def statement(sql: str) -> TextClause:
            return text(sql).bindparams(*(p for p in typed if f":{p.key}" in sql))

        self._clear = [
            text(f"DELETE FROM {table} WHERE {column} = :day").bindparams(day)  # noqa: S608
            for table, column in (
                ("daily_counts", "day"),
                ("daily_respondents", "day"),
                ("response_quality", "reporting_day"),
            )
        ]
        self._work: list[TextClause]
        self._after: list[TextClause]
        if sqlite:
            self._before = [text(sql) for sql in SQLITE_TABLES + SQLITE_EMPTY]
            self._work = [
                statement(sqlite_timeline_sql(layout, valid_values)),
                statement(SQLITE_QUALITY_SQL),
                statement(SQLITE_CELLS_SQL),
                statement(SQLITE_SESSIONS_SQL),
                statement(SQLITE_COUNTS_SQL),
                statement(SQLITE_RESPONDENTS_SQL),
            ]
            # Emptied again at once: the temporary tables are memory of a pooled connection.
            self._after = [text(sql) for sql in SQLITE_EMPTY]
        else:
            # PostgreSQL's planner over-estimates these statements and JIT-compiles them, which
            # costs more than the work itself; they are plain scans and sorts, so JIT stays off.
            # work_mem keeps the day's sorts and hashes in memory.
            self._before = [text("SET LOCAL jit = off"), text("SET LOCAL work_mem = '256MB'")]
            self._work = [
                statement(postgres_quality_sql(layout, valid_values)),
                statement(postgres_counts_sql(layout)),
                statement(POSTGRES_RESPONDENTS_SQL),
            ]
            self._after = []
        self._tally = text(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN flagged THEN 1 ELSE 0 END), 0) "
            "FROM response_quality WHERE reporting_day = :day"
        ).bindparams(day)

    async def recount(self, session: AsyncSession, day: date) -> DayCount:
        """Replace one day's flags and counts; clear its dirty mark if nobody re-marked it meanwhile."""
        seen: datetime | None = await session.scalar(
            select(DirtyDay.marked_at).where(DirtyDay.day == day)
        )
        for setting in self._before:
            await session.execute(setting)
        for clear in self._clear:
            await session.execute(clear, {"day": day})
        parameters = {
            "day": day,
            "questionnaire_id": self.layout.questionnaire_id,
            "speeding_seconds": self.rules.speeding_seconds_per_item,
            "straight_min": self.rules.straight_lining_min_items,
            "repeat_seconds": self.rules.repeat_window_hours * 3600.0,
            "count_simulated": self.rules.count_simulated,
        }
        for work in self._work:
            await session.execute(work, parameters)
        for tidy in self._after:
            await session.execute(tidy)
        responses, flagged = (await session.execute(self._tally, {"day": day})).one()
        if seen is not None:
            # A mark made after we read it (a response committed meanwhile) must survive.
            await session.execute(
                delete(DirtyDay).where(DirtyDay.day == day, DirtyDay.marked_at <= seen)
            )
        return DayCount(day, int(responses), int(flagged))


async def dirty_days(session: AsyncSession) -> list[date]:
    """The reporting days marked changed since they were last counted."""
    return list((await session.scalars(select(DirtyDay.day).order_by(DirtyDay.day))).all())


async def counted_days(session: AsyncSession) -> list[date]:
    """Every day that has responses or counts (what a full run recomputes)."""
    rows = await session.execute(
        text(
            "SELECT reporting_day FROM responses UNION SELECT day FROM daily_respondents "
            "UNION SELECT day FROM daily_counts"
        ).columns(reporting_day=Date())
    )
    return sorted({row[0] for row in rows})
