"""Survey criteria filled from the product's own figures: for the assessment year, the index a
criterion's source names for each assessed unit, exactly as `sipas export` publishes it
(cleaned responses, all respondent types, with its suppression)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from analytics.days import parse_period
from analytics.layout import ItemLayout
from analytics.method import Method
from analytics.query import ReportQuery
from analytics.report import index_table
from par.criteria import CriteriaScheme, SurveySource
from storage.db import Database

__all__ = ["FIGURE_STATES", "SurveyFigure", "figure_key", "survey_figures"]

FIGURE_STATES = ("shown", "suppressed", "missing")
"""shown: an index to map to points; suppressed: too few respondents to publish (or hidden
so that a total does not reveal a small cell); missing: no figure for the unit at all."""


@dataclass(frozen=True)
class SurveyFigure:
    """The figure a survey criterion reads for one unit: the index when shown, and its n."""

    state: str  # one of FIGURE_STATES
    index_pct: float | None = None
    n_respondents: int = 0


MISSING = SurveyFigure("missing")

FigureKey = tuple[str, str, str | None, str]
"""(figure, level, element or None for overall, unit code)."""


def figure_key(source: SurveySource, unit_code: str) -> FigureKey:
    return (source.figure, source.level, source.element, unit_code)


def _sources(scheme: CriteriaScheme) -> set[SurveySource]:
    return {
        leaf.source
        for tree in scheme.trees.values()
        for leaf in tree.leaves()
        if leaf.source is not None
    }


async def survey_figures(
    database: Database,
    scheme: CriteriaScheme,
    *,
    layout: ItemLayout,
    method: Method,
    min_cell_size: int,
    unit_codes: Iterable[str],
) -> dict[FigureKey, SurveyFigure]:
    """Every figure the scheme's survey criteria read, for each of `unit_codes`, in its year.

    A unit without a row (no responses in the year) is missing; a suppressed row is
    suppressed, never zero points.
    """
    wanted = set(unit_codes)
    period = parse_period(str(scheme.year))
    figures: dict[FigureKey, SurveyFigure] = {}
    sources = _sources(scheme)
    for level in sorted({source.level for source in sources}):
        query = ReportQuery(period, level, layout, method, min_cell_size, respondent_types=("all",))
        table = await index_table(database, query)
        table = table[table["unit_code"].isin(wanted) & table["scope"].isin(("overall", "element"))]
        rows = {
            (str(row["unit_code"]), str(row["scope"]), str(row["code"])): row
            for row in table.to_dict("records")
        }
        for source in (source for source in sources if source.level == level):
            scope, code = ("element", source.element) if source.element else ("overall", "")
            for unit_code in wanted:
                row = rows.get((unit_code, scope, code))
                figures[figure_key(source, unit_code)] = _figure(row)
    return figures


def _figure(row: dict[Hashable, Any] | None) -> SurveyFigure:
    if row is None:
        return MISSING
    n = int(row["n_respondents"])
    if bool(row["suppressed"]):
        return SurveyFigure("suppressed", None, n)
    index = row["index_pct"]
    if index is None or math.isnan(float(index)):
        return SurveyFigure("missing", None, n)  # an element without valid answers
    return SurveyFigure("shown", float(index), n)
