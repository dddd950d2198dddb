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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

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
from questionnaires.model import SATISFACTION_VALUES

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

_BAND_KEYS = BAND_COUNT_COLUMNS[:5]

Cell = tuple[str, str]  # (unit code, respondent type)


def band_answers(rows: Iterable[Sequence[object]]) -> pd.DataFrame:
    """The band rows as breakdowns read them (BAND_COUNT_COLUMNS: a row per value) from the
    rows as stored (`storage.counts.BandCountRow`: a row per item, its answers of each
    satisfaction value side by side); values no answer took are left out, as counted."""
    wide = pd.DataFrame(list(rows), columns=[*_BAND_KEYS, *SATISFACTION_VALUES])
    long = wide.melt(
        id_vars=_BAND_KEYS,
        value_vars=list(SATISFACTION_VALUES),
        var_name="value",
        value_name="answers",
    )
    long["answers"] = long["answers"].astype("int64")
    return long[long["answers"] > 0].reset_index(drop=True)[BAND_COUNT_COLUMNS]


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
    # As bands are counted: the scale items' answers (bands report the overall and element
    # indices), skipped ones left out (out of every denominator).
    counted = counts[counts["item_code"].isin(layout.item_codes) & counts["value"].notna()]
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


TAG = "\x1f"
"""Separates a band's tag from a counter, unit or group code: every band is computed at once,
as counters and units of its own (`_tagged`), which no other band's cells overlap."""


def _tag(band: BandCounts) -> str:
    return f"{band.breakdown}={band.band}{TAG}"


def _tagged(bands: list[BandCounts], unit_maps: Mapping[str, pd.DataFrame]) -> _AllBands:
    """Every band's counts, respondents and unit maps, its counters, units and groups tagged."""

    def tag_points(frame: pd.DataFrame, tag: str) -> pd.DataFrame:
        return frame.assign(service_point_code=tag + frame["service_point_code"].astype(str))

    counts = [tag_points(band.counts, _tag(band)) for band in bands]
    people = [tag_points(band.respondents, _tag(band)) for band in bands]
    maps: dict[str, pd.DataFrame] = {
        level: pd.concat(
            [
                tag_points(units, _tag(band)).assign(
                    unit_code=_tag(band) + units["unit_code"].astype(str),
                    groups=pd.Series(
                        [tuple(_tag(band) + g for g in groups) for groups in units["groups"]],
                        index=units.index,
                        dtype=object,
                    ),
                )
                for band in bands
            ],
            ignore_index=True,
        )
        for level, units in unit_maps.items()
    }
    return _AllBands(
        pd.concat(counts, ignore_index=True), pd.concat(people, ignore_index=True), maps
    )


@dataclass(frozen=True)
class _AllBands:
    counts: pd.DataFrame
    respondents: pd.DataFrame
    unit_maps: dict[str, pd.DataFrame]


def band_suppression(
    tagged: _AllBands,
    bands: list[BandCounts],
    respondents: pd.DataFrame,
    unit_maps: Mapping[str, pd.DataFrame],
    min_cell_size: int,
    hidden_cells: HiddenCells,
) -> HiddenCells:
    """The band cells to suppress at every level, tagged as `_tagged` tags them
    (`hidden_cells`: the cells' own); `tagged` are the `bands` tagged."""
    totals = {level: _cell_sizes(respondents, units) for level, units in unit_maps.items()}
    sizes = {level: _cell_sizes(tagged.respondents, tagged.unit_maps[level]) for level in unit_maps}
    tags: dict[str, list[str]] = {}
    for band in bands:
        tags.setdefault(band.breakdown, []).append(_tag(band))
    hidden: HiddenCells = {}
    while True:
        hidden = linked_suppression(tagged.respondents, tagged.unit_maps, min_cell_size, hidden)
        changed = False
        for level in unit_maps:
            at = hidden.setdefault(level, set())
            for unit, kind in totals[level]:
                for of_item in tags.values():
                    members = [
                        (sizes[level][(tag + unit, kind)], (tag + unit, kind))
                        for tag in of_item
                        if (tag + unit, kind) in sizes[level]
                    ]
                    changed |= _protect_cell(
                        (unit, kind) in hidden_cells.get(level, set()), members, at
                    )
        if not changed:
            return hidden


def _protect_cell(total_hidden: bool, members: list[tuple[int, Cell]], hidden: set[Cell]) -> bool:
    """Hide the smallest shown band (`members`: size, band cell) of a cell when exactly one of
    the cell and its bands is hidden; whether it did."""
    shown = [(size, cell) for size, cell in members if cell not in hidden]
    if total_hidden + len(members) - len(shown) != 1 or not shown:
        return False
    hidden.add(min(shown)[1])
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
    columns = [*EXPORT_COLUMNS, *BREAKDOWN_COLUMNS]
    bands = band_counts(counts, respondents, band_rows, layout)
    if not bands:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    tagged = _tagged(bands, unit_maps)
    hidden = band_suppression(tagged, bands, respondents, unit_maps, min_cell_size, hidden_cells)
    table = compute_index_table(
        tagged.counts,
        tagged.respondents,
        tagged.unit_maps[level],
        replace(layout, expectations=()),  # bands report the overall and elements only
        method,
        period=period,
        level=level,
        min_cell_size=min_cell_size,
        respondent_types=respondent_types,
        hidden_cells=hidden.get(level, set()),
    )
    table = table[table["scope"].isin(BREAKDOWN_SCOPES)]
    if table.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    parts = table["unit_code"].str.split(TAG, n=1, expand=True)
    unit = parts[1]
    tagged_by = parts[0].str.split("=", n=1, expand=True)
    breakdown, band = tagged_by[0], tagged_by[1]
    order = {
        (item.code, value): i
        for i, (item, value) in enumerate(
            (item, value) for item in layout.profile for value, _ in item.bands
        )
    }
    rank = [order[(str(item), str(value))] for item, value in zip(breakdown, band, strict=True)]
    return (
        table.assign(unit_code=unit, breakdown=breakdown, band=band, _rank=rank)
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
