"""Publishing index results: one period and level to a file, and the nightly set for the pipeline."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from analytics.breakdowns import with_breakdowns
from analytics.days import Period, period_of
from analytics.export import ExportedFile, write_export
from analytics.layout import ItemLayout
from analytics.levels import LEVELS
from analytics.method import Method
from analytics.query import ReportQuery
from analytics.report import breakdown_table, index_table
from analytics.schemes import ScoringScheme
from storage.aggregation_runs import data_as_of
from storage.db import Database

NIGHTLY_PERIODS = ("month", "quarter", "year")
NIGHTLY_FORMAT = "csv"


@dataclass(frozen=True)
class Published:
    """What one export wrote: its files, the manifest, and the data-as-of time it carries."""

    files: list[ExportedFile]
    manifest: Path
    data_as_of: datetime | None


async def export_period(
    database: Database,
    out: Path,
    fmt: str,
    query: ReportQuery,
    *,
    include_raw: bool = True,
    scheme: ScoringScheme | None = None,
) -> Published:
    """Write the index table a query asks for, then its breakdowns by profile band, on cleaned
    responses (whatever its `responses` say) and on raw ones beside it, and their manifest."""
    tables = {}
    for responses in ("cleaned", "raw") if include_raw else ("cleaned",):
        asked = replace(query, responses=responses)
        table = await index_table(database, asked)
        table = scheme.add_points(table) if scheme else table
        tables[responses] = with_breakdowns(table, await breakdown_table(database, asked))
    as_of = await data_as_of(database)
    # Written in a worker thread, like the tables are computed: see `index_table`.
    files, manifest = await asyncio.to_thread(
        write_export, tables, out, fmt, query=query, data_as_of=as_of, scheme=scheme
    )
    return Published(files, manifest, as_of)


def nightly_path(directory: Path, period: Period, level: str) -> Path:
    """Where the nightly job puts one period and level: a stable name the pipeline can poll."""
    return directory / period.label / f"sipas-{period.label}-{level}.{NIGHTLY_FORMAT}"


async def publish_nightly(
    database: Database,
    directory: Path,
    *,
    day: date,
    layout: ItemLayout,
    method: Method,
    min_cell_size: int,
    levels: Iterable[str] = LEVELS,
) -> list[Published]:
    """The files of every level for the month, quarter and year containing `day`.

    Run after each nightly aggregation: the same counts give the same bytes, so an
    unchanged period rewrites identical files and the manifests show what changed.
    """
    published: list[Published] = []
    for kind in NIGHTLY_PERIODS:
        period = period_of(day, kind)
        for level in levels:
            query = ReportQuery(period, level, layout, method, min_cell_size)
            published.append(
                await export_period(
                    database, nightly_path(directory, period, level), NIGHTLY_FORMAT, query
                )
            )
    return published
