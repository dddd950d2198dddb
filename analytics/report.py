"""Index tables straight from the database: sum the daily counts of a period, then compute indices."""

from __future__ import annotations

import asyncio

import pandas as pd

from analytics.indices import COUNT_COLUMNS, RESPONDENT_COLUMNS, compute_index_table
from analytics.levels import cell_of, unit_map
from analytics.query import ReportQuery
from storage.counts import summed_counts
from storage.db import Database, Transaction


async def period_counts(
    session: Transaction, query: ReportQuery
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The answer counts and respondent counts of the query's period and responses, summed
    over its days and channels per cell of its level (the counter, or the authority or
    procedure: `analytics.levels.cell_of`)."""
    excluded = query.method.excluded_flags() if query.responses == "cleaned" else frozenset()
    answer_rows, respondent_rows = await summed_counts(
        session,
        query.period.start,
        query.period.end,
        excluded=excluded,
        cell=cell_of(query.level),
    )
    counts = pd.DataFrame(answer_rows, columns=COUNT_COLUMNS)
    people = pd.DataFrame(respondent_rows, columns=RESPONDENT_COLUMNS)
    counts["answers"] = counts["answers"].astype("int64")
    people["respondents"] = people["respondents"].astype("int64")
    return counts, people


async def index_table(
    database: Database, query: ReportQuery, *, unit_code: str | None = None
) -> pd.DataFrame:
    """The index results a query asks for (export columns).

    `unit_code` keeps one unit's rows; suppression is decided over all units first, so
    the rows are the same as in the full table.
    """
    async with database.reading() as session:
        counts, people = await period_counts(session, query)
        units = await unit_map(session, query.level)
    # Computed in a worker thread: pandas holds the CPU for a second or more on a large
    # period, and `sipas serve` answers respondents on this event loop meanwhile.
    table = await asyncio.to_thread(
        compute_index_table,
        counts,
        people,
        units,
        query.layout,
        query.method,
        period=query.period.label,
        level=query.level,
        min_cell_size=query.min_cell_size,
        respondent_types=query.respondent_types,
    )
    if unit_code is not None:
        table = table[table["unit_code"] == unit_code].reset_index(drop=True)
    return table
