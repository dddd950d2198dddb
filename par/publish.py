"""A year's results gathered from storage and the indices, and as the tables others read: one row
per scorecard, one row per scorecard and criterion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from analytics.layout import ItemLayout
from analytics.method import Method
from par.assessment import Assessment, load_assessment
from par.results import ScorecardResult, score_assessment
from par.survey import survey_figures
from storage.aggregation_runs import data_as_of
from storage.db import Database
from storage.par import AppraisalRecord, appraisals, self_scores

__all__ = [
    "CRITERIA_COLUMNS",
    "RESULT_COLUMNS",
    "ParResults",
    "criteria_table",
    "par_results",
    "result_table",
]

RESULT_COLUMNS = [
    "year",
    "scheme_id",
    "tree",
    "unit_code",
    "unit_name",
    "rank",
    "ranked",
    "points",
    "max_points",
    "index",
    "classification",
    "unscored",
]
CRITERIA_COLUMNS = [
    "year",
    "tree",
    "unit_code",
    "unit_name",
    "code",
    "depth",
    "title",
    "scoring",
    "max_points",
    "state",
    "points",
    "self_points",
    "appraised_points",
    "appraisal_reason",
    "appraised_by",
    "survey_index",
    "survey_n",
    "evidence",
    "note",
]


@dataclass(frozen=True)
class ParResults:
    """A year's results and what they were computed from."""

    assessment: Assessment
    results: list[ScorecardResult]
    history: list[AppraisalRecord]
    method: Method
    layout: ItemLayout
    min_cell_size: int
    data_as_of: datetime | None


async def par_results(
    database: Database,
    *,
    layout: ItemLayout,
    method: Method,
    min_cell_size: int,
    year: int | None = None,
) -> ParResults:
    """Every scorecard's result in a year (the newest open one by default), survey criteria
    filled from the year's indices as the method computes them."""
    assessment = await load_assessment(database, year)
    figures = await survey_figures(
        database,
        assessment.scheme,
        layout=layout,
        method=method,
        min_cell_size=min_cell_size,
        unit_codes=[card.unit_code for card in assessment.scorecards],
    )
    history = await appraisals(database, assessment.year)
    results = score_assessment(
        assessment, await self_scores(database, assessment.year), history, figures
    )
    return ParResults(
        assessment, results, history, method, layout, min_cell_size, await data_as_of(database)
    )


def result_table(published: ParResults) -> pd.DataFrame:
    """One row per scorecard: points, index, place and class."""
    scheme = published.assessment.scheme
    return pd.DataFrame(
        [
            [
                result.year,
                scheme.id,
                result.tree,
                result.unit_code,
                result.unit_name,
                result.rank,
                result.ranked,
                result.points,
                result.max_points,
                result.index,
                result.classification,
                result.unscored,
            ]
            for result in published.results
        ],
        columns=RESULT_COLUMNS,
    )


def criteria_table(published: ParResults) -> pd.DataFrame:
    """One row per scorecard and node of its tree (content areas, groups and criteria)."""
    rows = []
    for result in published.results:
        for line in result.lines:
            figure = line.figure
            rows.append(
                [
                    result.year,
                    result.tree,
                    result.unit_code,
                    result.unit_name,
                    line.code,
                    line.depth,
                    line.title,
                    line.scoring or "group",
                    line.max_points,
                    line.state,
                    line.points,
                    line.self_points,
                    line.appraised_points,
                    line.appraisal_reason,
                    line.appraised_by,
                    figure.index_pct if figure else None,
                    figure.n_respondents if figure else None,
                    line.evidence,
                    line.note,
                ]
            )
    table = pd.DataFrame(rows, columns=CRITERIA_COLUMNS)
    return table.astype({"survey_n": "Int64"})
