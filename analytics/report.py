"""Index tables straight from the database: sum the daily counts of a period, then compute indices."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pandas as pd

from analytics.days import Period
from analytics.indices import (
    COUNT_COLUMNS,
    RESPONDENT_COLUMNS,
    RESPONDENT_TYPES,
    compute_index_table,
)
from analytics.layout import ItemLayout
from analytics.levels import unit_map
from analytics.method import Method
from storage.counts import summed_counts
from storage.db import Database, Transaction

RESPONSE_SETS = ("cleaned", "raw")


async def period_counts(
    session: Transaction, period: Period, responses: str = "cleaned"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The answer counts and respondent counts of a period, summed over its days and channels.

    `responses` "cleaned" leaves out responses with a quality flag; "raw" keeps all.
    """
    if responses not in RESPONSE_SETS:
        raise ValueError(f"responses must be cleaned or raw, not {responses!r}")
    answer_rows, respondent_rows = await summed_counts(
        session, period.start, period.end, cleaned=responses == "cleaned"
    )
    counts = pd.DataFrame(answer_rows, columns=COUNT_COLUMNS)
    people = pd.DataFrame(respondent_rows, columns=RESPONDENT_COLUMNS)
    counts["answers"] = counts["answers"].astype("int64")
    people["respondents"] = people["respondents"].astype("int64")
    return counts, people


async def index_table(
    database: Database,
    *,
    period: Period,
    level: str,
    layout: ItemLayout,
    method: Method,
    min_cell_size: int,
    responses: str = "cleaned",
    respondent_types: Iterable[str] = RESPONDENT_TYPES,
    unit_code: str | None = None,
) -> pd.DataFrame:
    """Index results for a period and level (export columns), on cleaned or raw responses.

    `unit_code` keeps one unit's rows; suppression is decided over all units first, so
    the rows are the same as in the full table.
    """
    async with database.reading() as session:
        counts, people = await period_counts(session, period, responses)
        units = await unit_map(session, level)
    # Computed in a worker thread: pandas holds the CPU for a second or more on a large
    # period, and `sipas serve` answers respondents on this event loop meanwhile.
    table = await asyncio.to_thread(
        compute_index_table,
        counts,
        people,
        units,
        layout,
        method,
        period=period.label,
        level=level,
        min_cell_size=min_cell_size,
        respondent_types=respondent_types,
    )
    if unit_code is not None:
        table = table[table["unit_code"] == unit_code].reset_index(drop=True)
    return table
