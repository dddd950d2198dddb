"""Index tables straight from the database: sum the daily counts of a period, then compute indices."""

from __future__ import annotations

import asyncio

import pandas as pd

from analytics.breakdowns import BREAKDOWN_COLUMNS, band_answers, compute_breakdown_table
from analytics.indices import (
    COUNT_COLUMNS,
    EXPORT_COLUMNS,
    RESPONDENT_COLUMNS,
    compute_index_table,
    linked_suppression,
)
from analytics.levels import LEVELS, cell_of, unit_map, unit_maps
from analytics.query import ReportQuery
from storage.counts import summed_band_counts, summed_counts
from storage.db import Database, Transaction

COUNTER_LEVELS = tuple(level for level in LEVELS if cell_of(level) == "service_point_code")
"""The levels that sum counters (every level but authority and field)."""


def _excluded(query: ReportQuery) -> frozenset[int]:
    """The flag combinations the query's responses leave out (none for the raw ones)."""
    return query.method.excluded_flags() if query.responses == "cleaned" else frozenset()


async def period_counts(
    session: Transaction, query: ReportQuery
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The answer counts and respondent counts of the query's period and responses, summed
    over its days and channels per cell of its level (the counter, or the authority or
    procedure: `analytics.levels.cell_of`)."""
    answer_rows, respondent_rows = await summed_counts(
        session,
        query.period.start,
        query.period.end,
        excluded=_excluded(query),
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
    linked = query.level in COUNTER_LEVELS
    async with database.reading() as session:
        counts, people = await period_counts(session, query)
        maps = (
            await unit_maps(session, COUNTER_LEVELS)
            if linked
            else {query.level: await unit_map(session, query.level)}
        )
    # Suppression is decided at every level of counters at once, so no other level's figures
    # (nor a counter's) reveal a cell hidden at this one. The authority and field levels sum
    # other cells: their own suppression only (not linked to the counters' levels yet).
    hidden = (
        await asyncio.to_thread(linked_suppression, people, maps, query.min_cell_size)
        if linked
        else {query.level: None}
    )
    # Computed in a worker thread: pandas holds the CPU for a second or more on a large
    # period, and `sipas serve` answers respondents on this event loop meanwhile.
    table = await asyncio.to_thread(
        compute_index_table,
        counts,
        people,
        maps[query.level],
        query.layout,
        query.method,
        period=query.period.label,
        level=query.level,
        min_cell_size=query.min_cell_size,
        respondent_types=query.respondent_types,
        hidden_cells=hidden[query.level],
    )
    return _of_unit(table, unit_code)


async def breakdown_table(
    database: Database, query: ReportQuery, *, unit_code: str | None = None
) -> pd.DataFrame:
    """The overall and element indices of the query by profile band (export columns, then
    `breakdown` and `band`), suppressed with the cells of `index_table` (docs/indices.md,
    "Breakdowns by profile"); `unit_code` keeps one unit's rows. The authority and field
    levels, which sum other cells than counters, have none (yet)."""
    if query.level not in COUNTER_LEVELS:
        columns = [*EXPORT_COLUMNS, *BREAKDOWN_COLUMNS]
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    async with database.reading() as session:
        counts, people = await period_counts(session, query)
        band_rows = band_answers(
            await summed_band_counts(
                session, query.period.start, query.period.end, excluded=_excluded(query)
            )
        )
        maps = await unit_maps(session, COUNTER_LEVELS)
    hidden = await asyncio.to_thread(linked_suppression, people, maps, query.min_cell_size)
    table = await asyncio.to_thread(
        compute_breakdown_table,
        counts,
        people,
        band_rows,
        maps,
        query.layout,
        query.method,
        period=query.period.label,
        level=query.level,
        min_cell_size=query.min_cell_size,
        respondent_types=query.respondent_types,
        hidden_cells=hidden,
    )
    return _of_unit(table, unit_code)


def _of_unit(table: pd.DataFrame, unit_code: str | None) -> pd.DataFrame:
    """One unit's rows (all of them without `unit_code`)."""
    if unit_code is None:
        return table
    return table[table["unit_code"] == unit_code].reset_index(drop=True)
