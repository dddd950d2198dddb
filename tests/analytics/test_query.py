"""A report query is one checked value: a wrong level, response set or cell size is refused up front."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analytics.days import parse_period
from analytics.method import load_method
from analytics.query import ReportQuery
from tests.analytics.survey_rows import SIPAS_LAYOUT

QUERY = ReportQuery(parse_period("2026-11"), "commune", SIPAS_LAYOUT, load_method(), 10)


def test_a_query_asks_for_cleaned_responses_of_every_respondent_type_by_default() -> None:
    assert (QUERY.responses, QUERY.respondent_types) == (
        "cleaned",
        ("all", "citizen", "organisation"),
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"level": "ward"}, "level must be one of service_point, commune, district, agency"),
        ({"responses": "flagged"}, "responses must be cleaned or raw, not 'flagged'"),
        ({"min_cell_size": 0}, "minimum cell size must be 1 or more, not 0"),
    ],
)
def test_a_query_with_a_wrong_part_is_refused_saying_what_is_expected(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        replace(QUERY, **change)  # type: ignore[arg-type]
