"""Coverage against volume: completed responses ÷ reported dossiers, per authority and per counter,
computed by hand for a small November."""

from __future__ import annotations

from datetime import UTC, date, datetime

from analytics.coverage import CoverageRow, coverage_of, coverage_rows
from analytics.days import parse_period
from storage.db import Database
from storage.staff import Scope
from storage.volumes import ReportedVolume, check_volumes, record_volumes
from tests.analytics.survey_rows import TYPICAL, Survey

NOV_10, NOV_11, NOV_12 = date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 12)


async def november(database: Database) -> None:
    """Dossiers: W1-A 10 for ward 00004 and 4 for HN-STP, W1-B 5, STP-1 6, W2-A none (and
    100 at W1-A in December). Responses: W1-A 6 for 00004 and 3 for HN-STP (and a simulated
    one), W1-B 2, STP-1 4, W2-A 2."""
    survey = Survey(database)
    await survey.units()
    reported = [
        ReportedVolume(2, "W1-A", NOV_10, None, 10),
        ReportedVolume(3, "W1-A", NOV_10, "HN-STP", 4),
        ReportedVolume(4, "W1-B", NOV_11, None, 5),
        ReportedVolume(5, "STP-1", NOV_12, None, 6),
        ReportedVolume(6, "W1-A", date(2026, 12, 1), None, 100),
    ]
    async with database.transaction() as tx:
        volumes = await check_volumes(tx, reported, scope=Scope(everything=True), source="test")
        await record_volumes(tx, volumes, datetime(2026, 12, 2, tzinfo=UTC))
    for count, point, authority, day in (
        (6, "W1-A", "00004", NOV_10),
        (3, "W1-A", "HN-STP", NOV_11),
        (2, "W1-B", "00004", NOV_11),
        (4, "STP-1", "HN-STP", NOV_12),
        (2, "W2-A", "00070", NOV_12),
    ):
        await survey.many(count, TYPICAL, point=point, authority=authority, day=day)
    await survey.response(TYPICAL, point="W1-A", authority="00004", simulated=True)


async def test_coverage_per_counter_and_per_authority(database: Database) -> None:
    await november(database)

    cells = await coverage_of(database, parse_period("2026-11"))

    assert coverage_rows(cells, "service_point") == [
        CoverageRow("service_point", "STP-1", 6, 4),
        CoverageRow("service_point", "W1-A", 14, 9),
        CoverageRow("service_point", "W1-B", 5, 2),
        CoverageRow("service_point", "W2-A", 0, 2),
    ]
    by_authority = coverage_rows(cells, "authority")
    assert by_authority == [
        CoverageRow("authority", "00004", 15, 8),
        CoverageRow("authority", "00070", 0, 2),
        CoverageRow("authority", "HN-STP", 10, 7),
    ]
    assert [(row.code, row.pct, row.below(60)) for row in by_authority] == [
        ("00004", 8 / 15 * 100, True),  # 53.3 %
        ("00070", None, False),  # no dossiers reported: no coverage
        ("HN-STP", 70.0, False),
    ]


async def test_simulated_responses_count_only_when_asked(database: Database) -> None:
    await november(database)

    cells = await coverage_of(database, parse_period("2026-11"), include_simulated=True)

    w1a = coverage_rows(cells, "service_point")[1]
    assert (w1a.code, w1a.responses) == ("W1-A", 10)
