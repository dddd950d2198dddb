"""Breakdowns by profile band: the overall and element indices of the respondents who gave each
band of each profile item (gender, age band, education, occupation, area), with suppression.

A profile item's bands, with the unstated band (`UNSTATED_BAND`: no band given), add up to the
cell, exactly as citizens and organisations add up to all respondents. So a band is suppressed
under the cells' rules (fewer than the minimum cell size; within the band, the respondent
types, the groups of a level and the linked levels of `linked_suppression`), and one more: of
a cell and its bands for one profile item, never exactly one is hidden (else it is the cell
minus the others); when one is, the smallest shown band is hidden too. All repeat until
nothing changes. Everything here is arithmetic on the daily counts (docs/indices.md,
"Breakdowns by profile").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from analytics.indices import (
    COUNT_COLUMNS,
    EXPORT_COLUMNS,
    RESPONDENT_TYPES,
    HiddenCells,
    compute_index_table,
    linked_suppression,
)
from analytics.layout import UNSTATED_BAND, ItemLayout
from analytics.method import Method

BREAKDOWN_COLUMNS = ["breakdown", "band"]
"""The export's columns saying which band a row is of (both empty on the cells' own rows)."""
BREAKDOWN_SCOPES = ("overall", "element")
BAND_COUNT_COLUMNS = [
    "service_point_code",
    "respondent_type",
    "profile_item",
    "band",
    "item_code",
    "value",
    "answers",
]

Cell = tuple[str, str]  # (unit code, respondent type)


@dataclass(frozen=True)
class BandCounts:
    """The counts of the respondents who gave `band` to the profile item `breakdown`."""

    breakdown: str
    band: str
    counts: pd.DataFrame  # COUNT_COLUMNS
    respondents: pd.DataFrame  # RESPONDENT_COLUMNS


def band_counts(
    counts: pd.DataFrame, respondents: pd.DataFrame, band_rows: pd.DataFrame, layout: ItemLayout
) -> list[BandCounts]:
    """Every band of every profile item some respondent gave a band to, in layout order.

    A band's respondents are the answers to its profile item that took it (`counts`); its
    answers are `band_rows` (BAND_COUNT_COLUMNS); the unstated band is the rest of the cell.
    """
    counted = counts[counts["item_code"].isin(layout.counted_codes)]
    bands: list[BandCounts] = []
    for item in layout.profile:
        named = [value for value, _ in item.bands if value != UNSTATED_BAND]
        given = counts[(counts["item_code"] == item.code) & counts["value"].isin(named)]
        if int(given["answers"].sum()) == 0:
            continue
        people = given.rename(columns={"answers": "respondents"})
        answers = band_rows[
            (band_rows["profile_item"] == item.code) & band_rows["band"].isin(named)
        ].drop(columns=["profile_item"])
        for value in named:
            bands.append(
                BandCounts(
                    item.code,
                    value,
                    answers[answers["band"] == value][COUNT_COLUMNS].reset_index(drop=True),
                    _sums(people[people["value"] == value], "respondents"),
                )
            )
        bands.append(
            BandCounts(
                item.code,
                UNSTATED_BAND,
                _rest(counted, answers, ["item_code", "value"], "answers"),
                _rest(respondents, people, [], "respondents"),
            )
        )
    return bands


def _sums(frame: pd.DataFrame, value: str, keys: Iterable[str] = ()) -> pd.DataFrame:
    columns = ["service_point_code", "respondent_type", *keys]
    summed: pd.DataFrame = frame.groupby(columns, as_index=False, dropna=False)[[value]].sum()
    return summed[[*columns, value]]


def _rest(total: pd.DataFrame, part: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """`total` minus the sums of `part`, per counter, respondent type and `keys`."""
    columns = ["service_point_code", "respondent_type", *keys]
    merged = _sums(total, value, keys).merge(
        _sums(part, value, keys), on=columns, how="left", suffixes=("", "_part")
    )
    merged[value] = merged[value] - merged[f"{value}_part"].fillna(0).astype("int64")
    return merged[merged[value] > 0][[*columns, value]].reset_index(drop=True)


def band_suppression(
    bands: list[BandCounts],
    respondents: pd.DataFrame,
    unit_maps: Mapping[str, pd.DataFrame],
    min_cell_size: int,
    hidden_cells: HiddenCells,
) -> list[HiddenCells]:
    """The cells to suppress in each band, at every level (`hidden_cells`: the cells' own)."""
    sizes = {
        level: [_cell_sizes(band.respondents, units) for band in bands]
        for level, units in unit_maps.items()
    }
    totals = {level: _cell_sizes(respondents, units) for level, units in unit_maps.items()}
    hidden: list[HiddenCells] = [{} for _ in bands]
    while True:
        hidden = [
            linked_suppression(band.respondents, unit_maps, min_cell_size, already)
            for band, already in zip(bands, hidden, strict=True)
        ]
        changed = False
        for breakdown in dict.fromkeys(band.breakdown for band in bands):
            members = [i for i, band in enumerate(bands) if band.breakdown == breakdown]
            for level in unit_maps:
                for cell in totals[level]:
                    changed |= _protect_cell(
                        cell,
                        cell in hidden_cells.get(level, set()),
                        [(i, sizes[level][i][cell]) for i in members if cell in sizes[level][i]],
                        [hidden[i].setdefault(level, set()) for i in range(len(bands))],
                    )
        if not changed:
            return hidden


def _protect_cell(
    cell: Cell, total_hidden: bool, members: list[tuple[int, int]], hidden: list[set[Cell]]
) -> bool:
    """Hide the smallest shown band of `cell` when exactly one of the cell and its bands is
    hidden; whether it did."""
    shown = [(size, i) for i, size in members if cell not in hidden[i]]
    if total_hidden + len(members) - len(shown) != 1 or not shown:
        return False
    hidden[min(shown)[1]].add(cell)
    return True


def _cell_sizes(respondents: pd.DataFrame, units: pd.DataFrame) -> dict[Cell, int]:
    """Respondents per (unit, respondent type) of a level, 'all' included; cells with none
    are left out."""
    people = respondents.merge(units[["service_point_code", "unit_code"]], on="service_point_code")
    sizes: dict[Cell, int] = {}
    per_type = people.groupby(["unit_code", "respondent_type"], as_index=False)["respondents"].sum()
    for unit, kind, n in zip(
        per_type["unit_code"], per_type["respondent_type"], per_type["respondents"], strict=True
    ):
        sizes[(str(unit), str(kind))] = int(n)
        sizes[(str(unit), "all")] = sizes.get((str(unit), "all"), 0) + int(n)
    return {cell: n for cell, n in sizes.items() if n > 0}


def compute_breakdown_table(
    counts: pd.DataFrame,
    respondents: pd.DataFrame,
    band_rows: pd.DataFrame,
    unit_maps: Mapping[str, pd.DataFrame],
    layout: ItemLayout,
    method: Method,
    *,
    period: str,
    level: str,
    min_cell_size: int,
    respondent_types: Iterable[str] = RESPONDENT_TYPES,
    hidden_cells: HiddenCells,
) -> pd.DataFrame:
    """The overall and element rows of every band at one level (export columns, then
    `breakdown` and `band`), ordered by unit, profile item and band; `hidden_cells` are the
    cells' own suppression at every level (`linked_suppression`)."""
    bands = band_counts(counts, respondents, band_rows, layout)
    hidden = band_suppression(bands, respondents, unit_maps, min_cell_size, hidden_cells)
    tables = []
    for band, hidden_in_band in zip(bands, hidden, strict=True):
        table = compute_index_table(
            band.counts,
            band.respondents,
            unit_maps[level],
            layout,
            method,
            period=period,
            level=level,
            min_cell_size=min_cell_size,
            respondent_types=respondent_types,
            hidden_cells=hidden_in_band.get(level, set()),
        )
        table = table[table["scope"].isin(BREAKDOWN_SCOPES)]
        if not table.empty:  # a band with no respondents at this level
            tables.append(table.assign(breakdown=band.breakdown, band=band.band))
    columns = [*EXPORT_COLUMNS, *BREAKDOWN_COLUMNS]
    if not tables:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    order = {
        (item.code, value): i
        for i, (item, value) in enumerate(
            (item, value) for item in layout.profile for value, _ in item.bands
        )
    }
    table = pd.concat(tables, ignore_index=True)
    rank = pd.Series(
        [order[key] for key in zip(table["breakdown"], table["band"], strict=True)],
        index=table.index,
    )
    return (
        table.assign(_rank=rank)
        .sort_values(["unit_code", "_rank"], kind="stable")
        .reset_index(drop=True)[columns]
    )


def with_breakdowns(table: pd.DataFrame, breakdowns: pd.DataFrame) -> pd.DataFrame:
    """An export: the cells' rows (empty `breakdown` and `band`), then the bands' rows."""
    extra = [column for column in table.columns if column not in EXPORT_COLUMNS]
    cells = table.assign(breakdown="", band="")
    columns = [*EXPORT_COLUMNS, *BREAKDOWN_COLUMNS, *extra]
    if breakdowns.empty:
        return cells[columns]
    return pd.concat([cells, breakdowns], ignore_index=True)[columns]
