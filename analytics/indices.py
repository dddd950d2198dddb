"""Indices from counts (pandas): item → element → overall, n, Wilson interval, suppression, reliability.

Everything here is arithmetic on the daily counts; nothing reads answers. Rows come
out in a fixed order with fixed rounding, so the same counts give the same bytes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from analytics.layout import ItemLayout
from analytics.method import Method

RESPONDENT_TYPES = ("all", "citizen", "organisation")
SCOPES = ("overall", "element", "item", "expectation")
Z95 = 1.959963984540054  # two-sided 95% normal quantile
LOW_RELIABILITY_HALF_WIDTH = 10.0  # points of the 0–100 scale

EXPORT_COLUMNS = [
    "period",
    "level",
    "unit_code",
    "unit_name",
    "respondent_type",
    "scope",
    "code",
    "n_respondents",
    "n_valid",
    "n_satisfied",
    "index_pct",
    "ci_low",
    "ci_high",
    "suppressed",
    "low_reliability",
    "elements_used",
    "method_id",
    "questionnaire_version",
]
COUNT_COLUMNS = ["service_point_code", "respondent_type", "item_code", "value", "answers"]
RESPONDENT_COLUMNS = ["service_point_code", "respondent_type", "respondents"]


def round_half_up(values: pd.Series, decimals: int = 2) -> pd.Series:
    """Percentages rounded the way reports are read (53.125 → 53.13), not to even as pandas does.

    The tiny nudge absorbs binary error in values whose decimal form ends in 5.
    """
    scale = 10.0**decimals
    rounded: pd.Series = np.floor(values * scale + 0.5 + 1e-9) / scale
    return rounded


def wilson_interval(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion, as fractions (NaN, NaN when n is 0)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def _wilson_columns(p: pd.Series, n: pd.Series) -> tuple[pd.Series, pd.Series]:
    n_safe = n.where(n > 0)
    z2 = Z95 * Z95
    denominator = 1 + z2 / n_safe
    centre = (p + z2 / (2 * n_safe)) / denominator
    half = Z95 * np.sqrt(p * (1 - p) / n_safe + z2 / (4 * n_safe * n_safe)) / denominator
    return (centre - half).clip(lower=0.0), (centre + half).clip(upper=1.0)


def secondary_suppression(
    cells: pd.DataFrame, min_cell_size: int, hidden: np.ndarray | None = None
) -> pd.Series:
    """Which cells to suppress: fewer respondents than `min_cell_size`, plus secondary.

    `cells` has unit_code, respondent_type, n_respondents and groups (the totals a unit
    is part of). Counts add up, so a published total minus the other published parts
    would reveal a lone suppressed part. Two rules, applied until nothing changes:
    - citizen + organisation = all: when exactly one of the two is suppressed and the
      total is not, the other is suppressed too;
    - units of one group (e.g. the communes of a province) for one respondent type:
      when exactly one is suppressed, the smallest published one is suppressed too.
    `hidden` marks cells suppressed already (by `linked_suppression`, across levels).
    """
    suppressed = (cells["n_respondents"] < min_cell_size).to_numpy().copy()
    if hidden is not None:
        suppressed |= hidden
    sizes = cells["n_respondents"].to_numpy()
    by_unit: dict[str, dict[str, int]] = defaultdict(dict)
    by_group: dict[tuple[str, str], list[int]] = defaultdict(list)
    for position, (unit, kind, groups) in enumerate(
        zip(cells["unit_code"], cells["respondent_type"], cells["groups"], strict=True)
    ):
        by_unit[unit][kind] = position
        for group in groups:
            by_group[(group, kind)].append(position)
    partitions: list[list[int]] = [
        [kinds[kind] for kind in ("citizen", "organisation") if kind in kinds]
        for kinds in by_unit.values()
        if "all" in kinds
    ]
    totals = [kinds["all"] for kinds in by_unit.values() if "all" in kinds]
    changed = True
    while changed:
        changed = False
        for total, parts in zip(totals, partitions, strict=True):
            if not suppressed[total]:
                changed |= _protect(parts, suppressed, sizes)
        for members in by_group.values():
            changed |= _protect(members, suppressed, sizes)
    return pd.Series(suppressed, index=cells.index)


HiddenCells = dict[str, set[tuple[str, str]]]
"""Level -> the (unit code, respondent type) cells suppressed there."""


def linked_suppression(
    respondents: pd.DataFrame,
    unit_maps: Mapping[str, pd.DataFrame],
    min_cell_size: int,
    hidden_already: HiddenCells | None = None,
) -> HiddenCells:
    """The cells to suppress at every level at once (linked tables), so that a cell hidden at
    one level cannot be worked out from another level covering the same respondents.

    Each level first gets its own suppression (`secondary_suppression`). Then, per respondent
    type, a hidden cell H is recoverable from a shown cell C of any level whose counters
    include H's when the rest of C (its counters not in H) is exactly the union of shown
    cells that do not overlap (counters are the atoms: every level sums them): C minus those
    is H; C is then suppressed (the total goes, one cell, rather than a part). H is also
    recoverable when shown cells inside it add up to it: the smallest of them is suppressed.
    Both rules, and each level's own, repeat until nothing changes.
    `hidden_already` are cells suppressed for another reason (a profile band's own rule).
    """
    cells = []
    for level, units in unit_maps.items():
        people = _with_all(
            respondents.merge(units[["service_point_code", "unit_code"]], on="service_point_code"),
            ["unit_code", "respondent_type", "service_point_code"],
            ["respondents"],
        )
        people = people[people["respondents"] > 0]
        grouped = people.groupby(["unit_code", "respondent_type"], sort=False).agg(
            n_respondents=("respondents", "sum"),
            points=("service_point_code", frozenset),
        )
        frame = grouped.reset_index()
        groups = units.drop_duplicates("unit_code").set_index("unit_code")["groups"]
        frame["groups"] = frame["unit_code"].map(groups)
        frame["level"] = level
        cells.append(frame)
    table = pd.concat(cells, ignore_index=True) if cells else pd.DataFrame()
    if table.empty:
        return {level: set() for level in unit_maps}
    seed = hidden_already or {}
    hidden = np.array(
        [
            (str(unit), str(kind)) in seed.get(str(level), set())
            for unit, kind, level in zip(
                table["unit_code"], table["respondent_type"], table["level"], strict=True
            )
        ],
        dtype=bool,
    )
    while True:
        for level in unit_maps:
            at = (table["level"] == level).to_numpy()
            if at.any():
                part = table[at].reset_index(drop=True)
                hidden[at] = secondary_suppression(part, min_cell_size, hidden[at]).to_numpy()
        # Cells that hold the same counters, or add up to a hidden one, first; differences
        # only once those and each level's rules are settled (fewer cells go that way).
        if not _unlink(table, hidden, differences=False) and not _unlink(
            table, hidden, differences=True
        ):
            break
    return {
        level: {
            (str(unit), str(kind))
            for unit, kind, level_of, is_hidden in zip(
                table["unit_code"], table["respondent_type"], table["level"], hidden, strict=True
            )
            if level_of == level and is_hidden
        }
        for level in unit_maps
    }


def _unlink(table: pd.DataFrame, hidden: np.ndarray, *, differences: bool) -> bool:
    """One pass of the cross-level rules of `linked_suppression`: same counters and sums, or
    (`differences`) a total minus parts; whether it hid a cell."""
    points = list(table["points"])
    sizes = table["n_respondents"].to_numpy()
    changed = False
    for kind in RESPONDENT_TYPES:
        members = [int(m) for m in np.flatnonzero((table["respondent_type"] == kind).to_numpy())]
        holding: dict[str, list[int]] = defaultdict(list)  # counter -> the cells it is in
        for m in members:
            for point in points[m]:
                holding[point].append(m)
        # Per covering cell: the shown cells inside it, and the counters they reach (at the
        # start of the pass: a cell hidden since only lets more cases through to the search).
        within: dict[int, list[int]] = {}
        reach: dict[int, frozenset[str]] = {}
        for h in members:
            if not hidden[h]:
                continue
            anchor = next(iter(points[h]))
            for c in holding[anchor]:
                if (hidden[c] and c != h) or not points[h] <= points[c]:
                    continue
                if differences != (c != h and points[c] != points[h]):
                    continue
                # c == h: shown cells inside H adding up to it; otherwise C minus such cells.
                rest = points[c] - points[h] if c != h else points[h]
                if not rest:
                    hidden[c] = changed = True
                    continue
                if c not in within:
                    within[c] = sorted(
                        (
                            m
                            for m in {m for point in points[c] for m in holding[point]}
                            if m != c and not hidden[m] and points[m] <= points[c]
                        ),
                        key=lambda m: (-len(points[m]), sizes[m], m),
                    )
                    reach[c] = frozenset().union(*(points[m] for m in within[c]))
                if not rest <= reach[c]:
                    continue  # a counter of the rest is in no shown cell: no difference gives H
                pieces = [m for m in within[c] if not hidden[m] and points[m] <= rest]
                cover: list[int] = []
                covered: frozenset[str] = frozenset()
                for m in pieces:
                    if not points[m] & covered:
                        cover.append(m)
                        covered |= points[m]
                if covered == rest:
                    # The total goes (one cell) rather than a part; for a sum, its smallest part.
                    hidden[c if c != h else min(cover, key=lambda m: (sizes[m], m))] = True
                    changed = True
    return changed


def _protect(members: list[int], suppressed: np.ndarray, sizes: np.ndarray) -> bool:
    hidden = [m for m in members if suppressed[m]]
    shown = [m for m in members if not suppressed[m]]
    if len(hidden) != 1 or not shown:
        return False
    smallest = min(shown, key=lambda m: (sizes[m], m))
    suppressed[smallest] = True
    return True


def compute_index_table(
    counts: pd.DataFrame,
    respondents: pd.DataFrame,
    units: pd.DataFrame,
    layout: ItemLayout,
    method: Method,
    *,
    period: str,
    level: str,
    min_cell_size: int,
    respondent_types: Iterable[str] = RESPONDENT_TYPES,
    hidden_cells: set[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """The export rows for one period and level: every cell × (overall, elements, items,
    expectations: the priorities of question 10, each the share answering "Rất nhiều" or
    "Nhiều", with its n and interval like an item).

    `hidden_cells`, when given, are the cells to suppress (from `linked_suppression`, which
    looks at every level); otherwise this level's own suppression decides.
    Overall rows carry `elements_used`, how many elements had valid answers and so entered
    the overall index: only cells with every element are compared in rankings
    (`complete_overall`).
    """
    wanted_types = [kind for kind in RESPONDENT_TYPES if kind in set(respondent_types)]
    counted = layout.counted_codes
    unit_names = units.drop_duplicates("unit_code").set_index("unit_code")["unit_name"]
    unit_groups = units.drop_duplicates("unit_code").set_index("unit_code")["groups"]
    points = units[["service_point_code", "unit_code"]]

    answered = counts.merge(points, on="service_point_code", how="inner")
    answered = answered[answered["item_code"].isin(counted)]
    # A priority (question 10) counts like an item: "satisfied" is then "Rất nhiều" or "Nhiều".
    expectation = answered["item_code"].isin(layout.expectation_codes)
    much = {value: 1.0 for value in method.expectation_high}
    is_valid = (
        answered["value"]
        .isin(method.valid_values)
        .where(~expectation, answered["value"].isin(method.expectation_values))
    )
    weight = (
        answered["value"].map(method.satisfied).where(~expectation, answered["value"].map(much))
    )
    answered = answered.assign(
        valid=np.where(is_valid, answered["answers"], 0),
        satisfied=answered["answers"] * weight.fillna(0.0),
    )
    item_sums = _with_all(
        answered, ["unit_code", "respondent_type", "item_code"], ["valid", "satisfied"]
    )
    people = _with_all(
        respondents.merge(points, on="service_point_code", how="inner"),
        ["unit_code", "respondent_type"],
        ["respondents"],
    )
    # Every type is computed even when fewer are wanted: suppression looks at all of them.
    people = people[people["respondents"] > 0]
    if people.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in EXPORT_COLUMNS})

    # Every cell gets every item, answered or not, so outputs have the same shape.
    cells = people[["unit_code", "respondent_type"]]
    grid = cells.merge(pd.DataFrame({"item_code": counted}), how="cross")
    items = grid.merge(item_sums, on=["unit_code", "respondent_type", "item_code"], how="left")
    items[["valid", "satisfied"]] = items[["valid", "satisfied"]].fillna(0.0)
    element_of = dict(layout.items)
    items["element"] = items["item_code"].map(element_of)
    items["index"] = (100.0 * items["satisfied"] / items["valid"]).where(items["valid"] > 0)
    items["answered_items"] = (items["valid"] > 0).astype(int)

    keys = ["unit_code", "respondent_type"]
    elements = (
        items.groupby([*keys, "element"], sort=False)
        .agg(
            valid=("valid", "sum"),
            satisfied=("satisfied", "sum"),
            index=("index", "mean"),  # mean of the items that have valid answers
            answered_items=("answered_items", "sum"),
        )
        .reset_index()
    )
    elements["weight"] = (
        elements["element"].map(method.element_weight).where(elements["answered_items"] > 0, 0.0)
    )
    elements["weighted"] = (elements["index"] * elements["weight"]).fillna(0.0)
    elements["used"] = (elements["answered_items"] > 0).astype(int)
    overall = (
        elements.groupby(keys, sort=False)
        .agg(
            valid=("valid", "sum"),
            satisfied=("satisfied", "sum"),
            weighted=("weighted", "sum"),
            weight=("weight", "sum"),
            answered_items=("answered_items", "sum"),
            elements_used=("used", "sum"),
        )
        .reset_index()
    )
    overall["index"] = (overall["weighted"] / overall["weight"]).where(overall["weight"] > 0)

    frames = [
        overall.assign(scope="overall", code=""),
        elements.rename(columns={"element": "code"}).assign(scope="element", elements_used=None),
        items.rename(columns={"item_code": "code"}).assign(
            scope=np.where(
                items["item_code"].isin(layout.expectation_codes), "expectation", "item"
            ),
            elements_used=None,
        ),
    ]
    columns = [*keys, "scope", "code", "valid", "satisfied", "index", "answered_items"]
    table = pd.concat([frame[[*columns, "elements_used"]] for frame in frames], ignore_index=True)
    # An element or overall index is a mean of item proportions; its interval uses the
    # mean number of valid answers per contributing item as n (≈ respondents behind it).
    effective_n = np.where(
        table["scope"].isin(["item", "expectation"]),
        table["valid"],
        table["valid"] / table["answered_items"].where(table["answered_items"] > 0),
    )
    low, high = _wilson_columns(table["index"] / 100.0, pd.Series(effective_n, index=table.index))
    table["ci_low"] = 100.0 * low
    table["ci_high"] = 100.0 * high

    people = people.reset_index(drop=True)
    people["groups"] = people["unit_code"].map(unit_groups)
    people["n_respondents"] = people["respondents"].astype(int)
    people["suppressed"] = (
        secondary_suppression(people, min_cell_size)
        if hidden_cells is None
        else pd.Series(
            [
                cell in hidden_cells
                for cell in zip(people["unit_code"], people["respondent_type"], strict=True)
            ],
            dtype=bool,
        )
    )
    table = table.merge(people[[*keys, "n_respondents", "suppressed"]], on=keys, how="left")

    half_width = (table["ci_high"] - table["ci_low"]) / 2
    table["low_reliability"] = (half_width > LOW_RELIABILITY_HALF_WIDTH) & ~table["suppressed"]
    hidden = table["suppressed"] | table["index"].isna()
    for column in ("index", "ci_low", "ci_high"):
        table[column] = round_half_up(table[column]).where(~hidden)
    integral = all(float(weight).is_integer() for weight in method.satisfied.values())
    satisfied = table["satisfied"].round(0 if integral else 2)
    table["n_satisfied"] = satisfied.where(~table["suppressed"])
    if integral:
        table["n_satisfied"] = table["n_satisfied"].astype("Int64")

    order = {
        "respondent_type": {kind: i for i, kind in enumerate(RESPONDENT_TYPES)},
        "scope": {scope: i for i, scope in enumerate(SCOPES)},
        "code": {
            code: i for i, code in enumerate(["", *(code for code, _ in layout.elements), *counted])
        },
    }
    table = table.sort_values(
        ["unit_code", "respondent_type", "scope", "code"],
        key=lambda column: column.map(order[str(column.name)]) if column.name in order else column,
        kind="stable",
    ).reset_index(drop=True)
    table = table[table["respondent_type"].isin(wanted_types)].reset_index(drop=True)
    return pd.DataFrame(
        {
            "period": period,
            "level": level,
            "unit_code": table["unit_code"],
            "unit_name": table["unit_code"].map(unit_names),
            "respondent_type": table["respondent_type"],
            "scope": table["scope"],
            "code": table["code"],
            "n_respondents": table["n_respondents"].astype(int),
            "n_valid": table["valid"].round(0).astype(int),
            "n_satisfied": table["n_satisfied"],
            "index_pct": table["index"],
            "ci_low": table["ci_low"],
            "ci_high": table["ci_high"],
            "suppressed": table["suppressed"].astype(bool),
            "low_reliability": table["low_reliability"].astype(bool),
            "elements_used": table["elements_used"].astype("Int64"),
            "method_id": method.id,
            "questionnaire_version": layout.questionnaire_version,
        },
        columns=EXPORT_COLUMNS,
    )


def complete_overall(overall: pd.DataFrame, layout: ItemLayout) -> pd.Series:
    """Which overall rows rest on every element of the layout, and so can be ranked against
    each other (an overall index over fewer elements is another average)."""
    return overall["elements_used"].fillna(0).astype(int) == len(layout.elements)


def _with_all(frame: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """Sums per keys, plus the same sums over every respondent type as type 'all'."""
    per_type = frame.groupby(keys, as_index=False)[values].sum()
    others = [key for key in keys if key != "respondent_type"]
    together = frame.groupby(others, as_index=False)[values].sum().assign(respondent_type="all")
    return pd.concat([together[keys + values], per_type[keys + values]], ignore_index=True)
