"""Results of a survey round per rated unit and content area, per group and all groups, small cells suppressed; export.

The respondent is the unit of analysis. For one rated unit and one content area (an element
of the questionnaire; `ALL` for every area), each respondent who rated the unit and gave at
least one 1–5 answer in the area counts once, with two figures of their own: the mean of their
answers there, and the share of those answers that are 4 or 5. A cell's `mean` and `share_4_5`
are the averages of these over its `n` respondents; the interval is the normal 95 % interval
of the mean (none below two respondents). A cell of fewer than the minimum respondents is
suppressed (its figures left empty); where that would let a group's cell be worked out from
the all-groups cell and the other groups' (one group suppressed alone), the next smallest
group of the unit and area is suppressed too. Comments (text answers of the rated-unit block)
are given per unit, never per group, and only for a unit rated by at least the minimum.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from analytics.export import ExportedFile, _package_version, table_bytes
from analytics.indices import Z95
from questionnaires import ItemType, Questionnaire
from questionnaires.model import split_repeat
from questionnaires.rounds import RoundPlan
from storage.rounds import GroupProgress, RoundSession

ALL = "ALL"  # every group, or every content area
POSITIVE = frozenset({"4", "5"})
SCALE_VALUES = frozenset({"1", "2", "3", "4", "5"})


@dataclass(frozen=True)
class RoundCell:
    """One row of the results: a rated unit, a content area, a group (or ALL)."""

    unit_code: str
    unit_name: str
    area: str
    group: str
    n: int
    mean: float | None
    mean_low: float | None
    mean_high: float | None
    share_4_5: float | None
    suppressed: bool


@dataclass(frozen=True)
class _Scores:
    """One respondent's figures for one unit and area."""

    mean: float
    share: float


def respondent_scores(
    sessions: Sequence[RoundSession], questionnaire: Questionnaire
) -> dict[tuple[str, str, str], list[_Scores]]:
    """(unit, area, group) → the scores of each respondent of the group who rated the unit
    in the area; `area` ALL pools every area."""
    areas = {
        item.code: item.element
        for item in questionnaire.rated_unit_block()
        if item.type is ItemType.SCALE and item.element is not None
    }
    scores: dict[tuple[str, str, str], list[_Scores]] = defaultdict(list)
    for session in sessions:
        given: dict[tuple[str, str], list[str]] = defaultdict(list)
        for code, value in session.answers.items():
            item, place = split_repeat(code)
            if place is None or item not in areas or value not in SCALE_VALUES:
                continue
            if not 1 <= place <= len(session.rated_units):
                continue
            unit = session.rated_units[place - 1]
            assert value is not None
            given[(unit, str(areas[item]))].append(value)
            given[(unit, ALL)].append(value)
        for (unit, area), values in given.items():
            score = _Scores(
                statistics.fmean(int(v) for v in values),
                sum(v in POSITIVE for v in values) / len(values),
            )
            scores[(unit, area, session.group_code)].append(score)
            scores[(unit, area, ALL)].append(score)
    return scores


def _cell(
    unit_code: str, unit_name: str, area: str, group: str, scores: list[_Scores]
) -> RoundCell:
    n = len(scores)
    mean = statistics.fmean(s.mean for s in scores) if scores else None
    low = high = None
    if mean is not None and n >= 2:
        half = Z95 * statistics.stdev(s.mean for s in scores) / math.sqrt(n)
        low, high = max(1.0, mean - half), min(5.0, mean + half)
    share = statistics.fmean(s.share for s in scores) if scores else None
    return RoundCell(unit_code, unit_name, area, group, n, mean, low, high, share, False)


def _hidden(cell: RoundCell) -> RoundCell:
    return RoundCell(
        cell.unit_code, cell.unit_name, cell.area, cell.group, cell.n, None, None, None, None, True
    )


def round_results(
    plan: RoundPlan,
    questionnaire: Questionnaire,
    sessions: Sequence[RoundSession],
    minimum_cell: int,
    language: str = "vi",
) -> list[RoundCell]:
    """Every cell of the round's results, suppressed where too small (see the module)."""
    scores = respondent_scores(sessions, questionnaire)
    areas = [
        element.code
        for element in questionnaire.elements
        if any(item.element == element.code for item in questionnaire.rated_unit_block())
    ]
    cells: list[RoundCell] = []
    for unit in plan.units:
        raters = [g.code for g in plan.groups if unit.code in g.rates]
        if not raters:
            continue
        for area in [*areas, ALL]:
            row = [
                _cell(
                    unit.code,
                    unit.named(language),
                    area,
                    group,
                    scores.get((unit.code, area, group), []),
                )
                for group in [*raters, ALL]
            ]
            cells += _suppressed(row, minimum_cell)
    return cells


def _suppressed(row: list[RoundCell], minimum_cell: int) -> list[RoundCell]:
    """One unit and area, its groups then ALL: small cells hidden, and a second group where a
    single hidden one could be worked out from ALL."""
    hidden = {i for i, cell in enumerate(row) if cell.n < minimum_cell}
    groups = range(len(row) - 1)
    alone = [i for i in groups if i in hidden and row[i].n > 0]
    if len(alone) == 1 and len(row) - 1 not in hidden:
        shown = [i for i in groups if i not in hidden and row[i].n > 0]
        if shown:
            hidden.add(min(shown, key=lambda i: row[i].n))
    return [_hidden(cell) if i in hidden else cell for i, cell in enumerate(row)]


def round_comments(
    plan: RoundPlan,
    questionnaire: Questionnaire,
    sessions: Sequence[RoundSession],
    minimum_cell: int,
    language: str = "vi",
) -> list[tuple[str, str, str]]:
    """(unit code, unit name, comment) for units rated by at least `minimum_cell`
    respondents; no group is named."""
    texts = {item.code for item in questionnaire.rated_unit_block() if item.type is ItemType.TEXT}
    raters: dict[str, int] = defaultdict(int)
    said: dict[str, list[str]] = defaultdict(list)
    for session in sessions:
        for unit in session.rated_units:
            raters[unit] += 1
        for code, value in session.answers.items():
            item, place = split_repeat(code)
            if place is not None and item in texts and value and place <= len(session.rated_units):
                said[session.rated_units[place - 1]].append(value)
    return [
        (unit.code, unit.named(language), comment)
        for unit in plan.units
        if raters[unit.code] >= minimum_cell
        for comment in sorted(said[unit.code])
    ]


def units_rated(sessions: Sequence[RoundSession]) -> dict[str, int]:
    """Rated unit → how many completed forms rated it."""
    counts: dict[str, int] = defaultdict(int)
    for session in sessions:
        for unit in session.rated_units:
            counts[unit] += 1
    return dict(counts)


def progress_table(plan: RoundPlan, progress: dict[str, GroupProgress]) -> pd.DataFrame:
    """Per group: target, invited, started, completed, screened out, and completed / target."""
    rows = []
    for group in plan.groups:
        counts = progress.get(group.code, GroupProgress(group.code, 0, 0, 0, 0))
        rows.append(
            {
                "group": group.code,
                "label": group.label.get("vi", ""),
                "target": group.target,
                "invited": counts.invited,
                "started": counts.started,
                "completed": counts.completed,
                "screened_out": counts.screened_out,
                "of_target": counts.completed / group.target,
            }
        )
    return pd.DataFrame(rows)


def export_round(
    out_dir: Path,
    plan: RoundPlan,
    questionnaire: Questionnaire,
    sessions: Sequence[RoundSession],
    progress: dict[str, GroupProgress],
    *,
    minimum_cell: int,
    now: datetime,
) -> tuple[list[ExportedFile], Path]:
    """Write round-CODE-results.csv, -comments.csv and -progress.csv into `out_dir`, and
    round-CODE.manifest.json naming them with their SHA-256."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = pd.DataFrame(
        [asdict(cell) for cell in round_results(plan, questionnaire, sessions, minimum_cell)],
        columns=list(RoundCell.__dataclass_fields__),
    )
    comments = pd.DataFrame(
        round_comments(plan, questionnaire, sessions, minimum_cell),
        columns=["unit_code", "unit_name", "comment"],
    )
    tables = {
        "results": results,
        "comments": comments,
        "progress": progress_table(plan, progress),
    }
    written: list[ExportedFile] = []
    for name, table in tables.items():
        path = out_dir / f"round-{plan.code}-{name}.csv"
        data = table_bytes(table, "csv")
        path.write_bytes(data)
        written.append(ExportedFile(path, name, len(table), hashlib.sha256(data).hexdigest()))
    manifest = {
        "generated_by": f"sipas-bot {_package_version()}",
        "generated_at": now.isoformat(),
        "round": {"code": plan.code, "title": dict(plan.title)},
        "questionnaire": {"id": questionnaire.id, "version": questionnaire.version},
        "opens": plan.opens.isoformat(),
        "closes": plan.closes.isoformat(),
        "min_cell_size": minimum_cell,
        "completed_forms": sum(1 for session in sessions if session.rated_units),
        "method": (
            "per rated unit and content area: each respondent's mean of their 1-5 answers and "
            "share of 4-5, averaged over the cell's n respondents; 95% normal interval of the "
            "mean; cells under min_cell_size suppressed, with a second group where one alone "
            "could be derived from ALL"
        ),
        "files": [
            {
                "name": item.path.name,
                "content": item.responses,
                "rows": item.rows,
                "sha256": item.sha256,
            }
            for item in written
        ],
    }
    target = out_dir / f"round-{plan.code}.manifest.json"
    target.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return written, target
