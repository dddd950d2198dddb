"""Counting in the database: quality flags per response and daily counts per cell, item and value.

Everything heavy here is one SQL statement per day (`INSERT … SELECT … GROUP BY`), so
millions of answers never pass through Python. A day is recomputed as a whole inside
one transaction: delete its rows, insert them again. That makes a run idempotent and a
half-finished run harmless.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, bindparam, delete, select, text
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


def quality_sql(layout: ItemLayout, valid_values: list[str], sqlite: bool) -> str:
    """The statement that flags every response of one reporting day (`:day`)."""
    scale = _sql_list(layout.item_codes)
    valid = _sql_list(valid_values)
    answered = f"a.item_code IN ({scale}) AND a.value IN ({valid})"
    at = _seconds("a.answered_at", sqlite)
    completed_earlier = _seconds("e.completed_at", sqlite)
    completed = _seconds("d.completed_at", sqlite)
    # CROSS JOIN makes SQLite start from the day's responses and look their answers up,
    # instead of scanning every answer ever given (PostgreSQL plans it as a plain join).
    # Per-item time is the gap since the previous answer of the session. "Median under T"
    # is tested as "more than half of the gaps are under T", which needs no sort by gap.
    # Imported (paper) responses carry no timing: speeding does not apply to them.
    # Only checked item codes and fixed SQL fragments are inlined (S608 below).
    return f"""
INSERT INTO response_quality
    (response_id, reporting_day, scale_answers, straight_lining, speeding, repeated, flagged)
WITH day_responses AS (
    SELECT r.id, r.session_id, r.reporting_day, r.respondent_key, r.service_point_code,
           r.completed_at, r.channel
    FROM responses r
    WHERE r.reporting_day = :day AND r.questionnaire_id = :questionnaire_id
      AND (r.simulated = FALSE OR :count_simulated)
),
stamped AS (
    SELECT a.session_id, a.id, a.answered_at,
           CASE WHEN {answered} THEN a.value END AS scale_value,
           {at} AS at_seconds
    FROM day_responses d CROSS JOIN answers a
    WHERE a.session_id = d.session_id
),
timed AS (
    SELECT session_id, scale_value,
           at_seconds - LAG(at_seconds) OVER (PARTITION BY session_id ORDER BY answered_at, id)
               AS seconds
    FROM stamped
),
per_session AS (
    SELECT session_id,
           COUNT(scale_value) AS scale_answers,
           MIN(scale_value) AS lowest,
           MAX(scale_value) AS highest,
           COUNT(seconds) AS timed_items,
           SUM(CASE WHEN seconds < :speeding_seconds THEN 1 ELSE 0 END) AS fast_items
    FROM timed GROUP BY session_id
),
flags AS MATERIALIZED (
    SELECT d.id, d.reporting_day,
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
)
SELECT id, reporting_day, scale_answers, straight_lining, speeding, repeated,
       (straight_lining OR speeding OR repeated)
FROM flags
"""  # noqa: S608


def counts_sql(layout: ItemLayout) -> str:
    """The statement that counts one day's answers per cell, item and value."""
    scale = _sql_list(layout.item_codes)
    return f"""
INSERT INTO daily_counts
    (day, service_point_code, respondent_type, channel, flagged, item_code, value, answers)
SELECT r.reporting_day, r.service_point_code, r.respondent_type, r.channel, q.flagged,
       a.item_code, a.value, COUNT(*)
FROM responses r
JOIN response_quality q ON q.response_id = r.id
JOIN answers a ON a.session_id = r.session_id
WHERE r.reporting_day = :day AND r.questionnaire_id = :questionnaire_id
  AND a.item_code IN ({scale})
GROUP BY r.reporting_day, r.service_point_code, r.respondent_type, r.channel, q.flagged,
         a.item_code, a.value
"""  # noqa: S608


RESPONDENTS_SQL = """
INSERT INTO daily_respondents
    (day, service_point_code, respondent_type, channel, flagged, respondents)
SELECT r.reporting_day, r.service_point_code, r.respondent_type, r.channel, q.flagged, COUNT(*)
FROM responses r JOIN response_quality q ON q.response_id = r.id
WHERE r.reporting_day = :day AND r.questionnaire_id = :questionnaire_id
GROUP BY r.reporting_day, r.service_point_code, r.respondent_type, r.channel, q.flagged
"""


class DayCounter:
    """Recomputes the quality flags and daily counts of one reporting day at a time."""

    def __init__(
        self, layout: ItemLayout, valid_values: list[str], rules: QualityRules, *, sqlite: bool
    ) -> None:
        self.layout = layout
        self.rules = rules
        day = bindparam("day", type_=Date())
        self._quality = text(quality_sql(layout, valid_values, sqlite)).bindparams(
            day,
            bindparam("speeding_seconds", type_=Float()),
            bindparam("repeat_seconds", type_=Float()),
            bindparam("count_simulated", type_=Boolean()),
        )
        self._counts = text(counts_sql(layout)).bindparams(day)
        self._respondents = text(RESPONDENTS_SQL).bindparams(day)
        self._clear = [
            text(f"DELETE FROM {table} WHERE {column} = :day").bindparams(day)  # noqa: S608
            for table, column in (
                ("daily_counts", "day"),
                ("daily_respondents", "day"),
                ("response_quality", "reporting_day"),
            )
        ]
        # PostgreSQL's planner over-estimates these statements and JIT-compiles them, which
        # costs more than the work itself; they are plain scans and sorts, so JIT stays off.
        self._before = [] if sqlite else [text("SET LOCAL jit = off")]
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
        for statement in self._clear:
            await session.execute(statement, {"day": day})
        parameters = {"day": day, "questionnaire_id": self.layout.questionnaire_id}
        await session.execute(
            self._quality,
            {
                **parameters,
                "speeding_seconds": self.rules.speeding_seconds_per_item,
                "straight_min": self.rules.straight_lining_min_items,
                "repeat_seconds": self.rules.repeat_window_hours * 3600.0,
                "count_simulated": self.rules.count_simulated,
            },
        )
        await session.execute(self._counts, parameters)
        await session.execute(self._respondents, parameters)
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
