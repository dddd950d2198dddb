"""What dashboard pages show, gathered from the export's own index tables and a few counters.

Indices come only from `analytics.report.index_table` (the rows `sipas export` writes, with
their suppression); this module picks rows, it computes no index. Counters that are not
indices (invitations, quality flags, comments) come from `storage.reporting`, per unit and period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from analytics.coverage import CoverageRow, coverage_of, coverage_rows
from analytics.days import Period
from analytics.layout import UNSTATED_BAND, ItemLayout
from analytics.levels import unit_map
from analytics.query import ReportQuery
from analytics.xlsx_report import figure, monthly_tables
from storage import reporting
from storage.counts import latest_counted_day
from storage.db import Database
from storage.privacy import scrub
from storage.reporting import Coverage, Quality
from storage.staff import Scope

__all__ = [
    "COMMENT_MIN_RESPONDENTS",
    "Cell",
    "Coverage",
    "Quality",
    "UnitRow",
    "comments",
    "element_labels",
    "invitation_coverage",
    "latest_data_day",
    "points_of",
    "quality",
    "questionnaire_labels",
    "rows_of",
    "trend",
    "volume_coverage",
]

COMMENT_MIN_RESPONDENTS = 20  # comments are shown only for cells at least this large
MAX_COMMENTS = 200


@dataclass(frozen=True)
class Cell:
    """One index figure as the export has it (None when suppressed or without valid answers)."""

    code: str
    index: float | None
    ci_low: float | None
    ci_high: float | None
    n_respondents: int
    n_valid: int
    suppressed: bool
    low_reliability: bool
    exact: str  # the export's CSV text of the index ("" when hidden), for checking
    elements_used: int | None = None  # overall cells: the elements the index rests on


@dataclass(frozen=True)
class UnitRow:
    """A unit at a level: its overall cell and its element cells (respondent type 'all')."""

    unit_code: str
    unit_name: str
    overall: Cell
    elements: dict[str, Cell] = field(default_factory=dict)
    items: dict[str, Cell] = field(default_factory=dict)
    expectations: dict[str, Cell] = field(default_factory=dict)  # question 10's priorities


def _cell(row: pd.Series) -> Cell:
    index = figure(row["index_pct"])
    return Cell(
        code=str(row["code"]),
        index=index,
        ci_low=figure(row["ci_low"]),
        ci_high=figure(row["ci_high"]),
        n_respondents=int(row["n_respondents"]),
        n_valid=int(row["n_valid"]),
        suppressed=bool(row["suppressed"]),
        low_reliability=bool(row["low_reliability"]),
        exact="" if index is None else f"{index:.2f}",  # as analytics.export writes CSV
        elements_used=None if pd.isna(row["elements_used"]) else int(row["elements_used"]),
    )


def rows_of(table: pd.DataFrame, level: str, scope: Scope) -> list[UnitRow]:
    """The units of an index table the reader may see, in the table's order ('all' respondents)."""
    if table.empty:
        return []
    rows: list[UnitRow] = []
    everyone = table[table["respondent_type"] == "all"]
    for unit_code, unit_rows in everyone.groupby("unit_code", sort=False):
        if not scope.allows(level, str(unit_code)):
            continue
        overall = unit_rows[unit_rows["scope"] == "overall"].iloc[0]
        rows.append(
            UnitRow(
                unit_code=str(unit_code),
                unit_name=str(overall["unit_name"]),
                overall=_cell(overall),
                elements={
                    str(row["code"]): _cell(row)
                    for _, row in unit_rows[unit_rows["scope"] == "element"].iterrows()
                },
                items={
                    str(row["code"]): _cell(row)
                    for _, row in unit_rows[unit_rows["scope"] == "item"].iterrows()
                },
                expectations={
                    str(row["code"]): _cell(row)
                    for _, row in unit_rows[unit_rows["scope"] == "expectation"].iterrows()
                },
            )
        )
    return rows


async def trend(database: Database, query: ReportQuery, code: str) -> list[tuple[str, Cell | None]]:
    """The overall cell of one unit in each of the 12 months up to the query's period's end."""
    points: list[tuple[str, Cell | None]] = []
    for month, month_table in await monthly_tables(database, query):
        found = month_table[
            (month_table["unit_code"] == code)
            & (month_table["respondent_type"] == "all")
            & (month_table["scope"] == "overall")
        ]
        points.append((month.label, _cell(found.iloc[0]) if not found.empty else None))
    return points


async def points_of(database: Database, level: str, code: str) -> list[str]:
    """The service points counted under a unit at a level."""
    async with database.reading() as session:
        mapping = await unit_map(session, level)
    return sorted(mapping[mapping["unit_code"] == code]["service_point_code"].astype(str))


def _instants(period: Period, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(period.start, time(0), tzinfo=zone)
    return start, datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=zone)


async def latest_data_day(database: Database) -> date | None:
    """The last reporting day with counted responses (a sensible default period)."""
    async with database.reading() as session:
        return await latest_counted_day(session)


async def comments(
    database: Database,
    period: Period,
    service_points: Sequence[str],
    item_codes: Sequence[str],
    max_length: int = 1000,
) -> list[str]:
    """Free-text answers of completed responses at these counters in the period, scrubbed again.

    They were scrubbed when stored; scrubbing once more costs little and covers rows
    written before a pattern was added. The caller decides whether the cell is big enough.
    """
    if not service_points or not item_codes:
        return []
    async with database.reading() as session:
        values = await reporting.comment_answers(
            session, period.start, period.end, service_points, item_codes, limit=MAX_COMMENTS
        )
    return [text for text in (scrub(value, max_length=max_length) for value in values) if text]


async def quality(database: Database, period: Period, service_points: Sequence[str]) -> Quality:
    """Counts of quality flags among the period's completed responses at these counters."""
    async with database.reading() as session:
        return await reporting.quality_flags(session, period.start, period.end, service_points)


async def invitation_coverage(
    database: Database, period: Period, service_points: Sequence[str], zone: ZoneInfo
) -> list[Coverage]:
    """Per counter: invitations minted in the period, how many were started and completed."""
    start, end = _instants(period, zone)
    async with database.reading() as session:
        return await reporting.invitation_coverage(session, start, end, service_points)


async def volume_coverage(
    database: Database, period: Period, service_points: Sequence[str]
) -> dict[str, CoverageRow]:
    """Per counter with reported dossiers or completed responses on the period's days: those
    figures and the coverage (`analytics.coverage`)."""
    wanted = set(service_points)
    cells = [
        cell for cell in await coverage_of(database, period) if cell.service_point_code in wanted
    ]
    return {row.code: row for row in coverage_rows(cells, "service_point")}


@dataclass(frozen=True)
class BandRow:
    """One band of a profile item on a unit's page: its label and its cells ('all')."""

    band: str
    label: str
    overall: Cell
    elements: dict[str, Cell]


@dataclass(frozen=True)
class Breakdown:
    """A profile item's table on a unit's page (gender, age band …): one row per band."""

    code: str
    label: str
    bands: list[BandRow]


def breakdowns_of(
    table: pd.DataFrame, layout: ItemLayout, labels: Mapping[str, str], unstated: str
) -> list[Breakdown]:
    """The breakdown tables of one unit (`analytics.report.breakdown_table` rows), in the
    layout's order; `labels` are a language's (`element_labels`), `unstated` the unstated
    band's label."""
    everyone = table[table["respondent_type"] == "all"]
    found: list[Breakdown] = []
    for item in layout.profile:
        rows = everyone[everyone["breakdown"] == item.code]
        bands = []
        for value, own_label in item.bands:
            band = rows[rows["band"] == value]
            if band.empty:
                continue
            overall = band[band["scope"] == "overall"].iloc[0]
            label = unstated if value == UNSTATED_BAND else own_label
            bands.append(
                BandRow(
                    value,
                    labels.get(f"{item.code}={value}", label),
                    _cell(overall),
                    {
                        str(cell["code"]): _cell(cell)
                        for _, cell in band[band["scope"] == "element"].iterrows()
                    },
                )
            )
        if bands:
            found.append(Breakdown(item.code, labels.get(item.code, item.label), bands))
    return found


def element_labels(
    labels: Mapping[str, Mapping[str, str]], layout: ItemLayout, language: str
) -> dict[str, str]:
    """Element and item labels in a language, falling back to the layout's own labels."""
    found = dict(layout.elements) | dict(layout.expectations)
    found.update(labels.get(language, {}))
    return found


def questionnaire_labels(
    questionnaire: object, languages: Sequence[str] = ("vi", "en")
) -> dict[str, dict[str, str]]:
    """Element and item labels (scale items, priorities, …) per language from a loaded
    questionnaire (for `labels=`)."""
    labels: dict[str, dict[str, str]] = {}
    elements = getattr(questionnaire, "elements", ())
    items = getattr(questionnaire, "items", ())
    for language in languages:
        found: dict[str, str] = {}
        for element in elements:
            text = element.label.get(language)
            if text:
                found[element.code] = text
        for item in items:
            text = item.text.get(language)
            if text:
                found[item.code] = text
            for option in getattr(item, "options", ()):
                text = option.label.get(language)
                if text:  # a profile band's label, as `band_label` looks it up
                    found[f"{item.code}={option.value}"] = text
        labels[language] = found
    return labels
