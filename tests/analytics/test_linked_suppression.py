"""Suppression across levels (linked tables): a cell hidden at one level is not recoverable from
another level, nor from a counter, covering the same respondents; checked for every pair of levels
by an independent search for a difference that would reveal it."""

from __future__ import annotations

from itertools import combinations

from sqlalchemy import update

from analytics.aggregate import aggregate
from analytics.days import parse_period
from analytics.levels import unit_map
from analytics.method import load_method
from analytics.query import ReportQuery
from analytics.report import COUNTER_LEVELS, index_table
from storage.db import Database
from storage.models import Agency, ServicePoint
from tests import hanoi
from tests.analytics.survey_rows import SIPAS_LAYOUT, TYPICAL, Survey

METHOD = load_method()
PERIOD = parse_period("2026-11")
# Respondents per counter. P-00008 (3) is under 10: ward 00008 is hidden, and so, by secondary
# suppression among the wards, is the smallest other ward, 00070 (W2-A, 12). W2-A is the only
# counter of a service-centre branch: the branch, the counter and former district 002 hold
# exactly 00070's respondents.
RESPONDENTS = {"W1-A": 12, "W1-B": 11, "W2-A": 12, "P-00008": 3, "STP-1": 15}

Cell = tuple[str, str]  # (level, unit code)


async def seeded(database: Database) -> None:
    survey = Survey(database)
    await survey.units()
    async with database.transaction() as session:
        await hanoi.add_ward(session, "00008", counters=["P-00008"])
        session.add(Agency(code="HN-CN7", name="Chi nhánh 7", kind="branch", unit_code="01"))
        await session.flush()
        await session.execute(
            update(ServicePoint).where(ServicePoint.code == "W2-A").values(agency_code="HN-CN7")
        )
    for point, number in RESPONDENTS.items():
        await survey.many(number, TYPICAL, point=point)
    await aggregate(database, SIPAS_LAYOUT)


async def published(database: Database) -> tuple[dict[Cell, frozenset[str]], set[Cell]]:
    """Every overall cell (respondent type 'all') of every level: its counters with
    respondents, and which cells are hidden."""
    points: dict[Cell, frozenset[str]] = {}
    hidden: set[Cell] = set()
    for level in COUNTER_LEVELS:
        async with database.reading() as session:
            mapping = await unit_map(session, level)
        table = await index_table(database, ReportQuery(PERIOD, level, SIPAS_LAYOUT, METHOD, 10))
        overall = table[(table["scope"] == "overall") & (table["respondent_type"] == "all")]
        for _, row in overall.iterrows():
            cell = (level, str(row["unit_code"]))
            members = mapping[mapping["unit_code"] == row["unit_code"]]["service_point_code"]
            points[cell] = frozenset(p for p in members if RESPONDENTS.get(str(p), 0) > 0)
            if bool(row["suppressed"]):
                hidden.add(cell)
    return points, hidden


def revealing(
    target: Cell, levels: tuple[str, str], points: dict[Cell, frozenset[str]], hidden: set[Cell]
) -> list[Cell] | None:
    """Shown cells of the two levels that give away `target`: disjoint ones adding up to it,
    or one covering it and others, disjoint, making up the difference (an exhaustive search:
    the data set is small)."""
    shown = [cell for cell in points if cell[0] in levels and cell not in hidden]
    for total in [target, *shown]:
        if not points[target] <= points[total]:
            continue
        rest = points[total] - points[target] if total != target else points[target]
        parts = [cell for cell in shown if cell != total and points[cell] <= rest]
        for size in range(len(parts) + 1):
            for chosen in combinations(parts, size):
                union: set[str] = set()
                disjoint = True
                for cell in chosen:
                    disjoint &= not (points[cell] & union)
                    union |= points[cell]
                if disjoint and union == rest and (chosen or total != target):
                    return [total, *chosen]
    return None


async def test_a_cell_hidden_at_one_level_is_hidden_wherever_its_respondents_are(
    database: Database,
) -> None:
    await seeded(database)
    points, hidden = await published(database)
    # The case of the issue: the ward hidden by secondary suppression, and everything that
    # holds exactly its respondents (its branch, its counter, its former district) with it.
    assert {
        ("commune", "00008"),
        ("commune", "00070"),
        ("agency", "HN-CN7"),
        ("service_point", "W2-A"),
        ("district", "002"),
    } <= hidden
    # Former district 001 is then the only other district (secondary suppression), and it
    # holds exactly ward 00004's respondents: hidden both; so are 00004's two counters, which
    # add up to it. In this small city only the city total stays.
    assert {("district", "001"), ("commune", "00004")} <= hidden
    assert set(points) - hidden == {("province", "01")}
    for first, second in combinations(COUNTER_LEVELS, 2):
        for target in sorted(cell for cell in hidden if cell[0] in (first, second)):
            found = revealing(target, (first, second), points, hidden)
            assert found is None, f"{target} is {found[0]} minus {found[1:]}"


async def test_each_level_alone_is_suppressed_as_before_when_no_other_level_gives_it_away(
    database: Database,
) -> None:
    survey = Survey(database)
    await survey.units()
    await survey.many(12, TYPICAL, point="W1-A")
    await survey.many(3, TYPICAL, point="W2-A")
    await aggregate(database, SIPAS_LAYOUT)
    table = await index_table(database, ReportQuery(PERIOD, "commune", SIPAS_LAYOUT, METHOD, 10))
    overall = table[(table["scope"] == "overall") & (table["respondent_type"] == "all")]
    flags = dict(zip(overall["unit_code"], overall["suppressed"], strict=True))
    # 00070 is under 10; 00004 is hidden too, or the province total minus it would give 00070.
    assert flags == {"00004": True, "00070": True}
