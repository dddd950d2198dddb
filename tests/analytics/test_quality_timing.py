"""Speeding is judged on the median gap between a response's answers in time order, whatever
order the answer rows were written in (a respondent who goes back rewrites an earlier row),
from the facts recorded with the response."""

from __future__ import annotations

from sqlalchemy import select, update

from analytics.aggregate import aggregate
from analytics.method import load_method
from storage.counts import QualityRules
from storage.db import Database
from storage.models import DailyCount, DailyRespondents, Response, ResponseQuality
from tests.analytics.survey_rows import SIPAS_LAYOUT, Survey, answers

METHOD = load_method()


async def _speeding(database: Database, response_id: int) -> bool:
    async with database.reading() as session:
        quality = await session.get(ResponseQuality, response_id)
    assert quality is not None
    return quality.speeding


async def test_speeding_follows_time_order_not_write_order(
    database: Database, survey: Survey
) -> None:
    eight = answers(TIEP_CAN="4", TTHC="5")
    # Written last to first, 10 s apart: in time order every gap is 10 s (not speeding),
    # though consecutive rows are 10 s *earlier* each.
    steady = await survey.response(eight, answered_after=[70, 60, 50, 40, 30, 20, 10, 0])
    # In time order: 0, 1, 2, 3, 100, 101, 102, 103: the median gap is 1 s (speeding),
    # though in write order every other gap is about +100 s.
    hurried = await survey.response(eight, answered_after=[0, 100, 1, 101, 2, 102, 3, 103])
    # Ties: four answers at one instant, then four 30 s apart: gaps 0, 0, 0, 30, 30, 30, 30,
    # median 30 s (not speeding).
    tied = await survey.response(eight, answered_after=[0, 0, 0, 0, 30, 60, 90, 120])
    await aggregate(database, SIPAS_LAYOUT)
    assert not await _speeding(database, steady)
    assert await _speeding(database, hurried)
    assert not await _speeding(database, tied)
    # A full run gives the same verdicts.
    await aggregate(database, SIPAS_LAYOUT, full=True)
    assert [await _speeding(database, rid) for rid in (steady, hurried, tied)] == [
        False,
        True,
        False,
    ]


async def test_an_even_number_of_gaps_takes_the_mean_of_the_middle_two(
    database: Database, survey: Survey
) -> None:
    # Five answers, four gaps of 1, 1, 3, 5 s: the median is 2 s, not under 2 s.
    five = answers(TIEP_CAN="4") | {"19": "5"}
    even = await survey.response(five, answered_after=[0, 1, 2, 5, 10])
    # Gaps of 1, 1, 2.9, 5 s: the median 1.95 s is under 2 s.
    under = await survey.response(five, answered_after=[0, 1, 2, 4.9, 9.9])
    await aggregate(database, SIPAS_LAYOUT)
    assert not await _speeding(database, even)
    assert await _speeding(database, under)


async def test_a_threshold_change_reflags_without_re_reading_answers(
    database: Database, survey: Survey
) -> None:
    # The facts hold the median (5 s), not a verdict: a stricter rule flags it at once.
    steady = await survey.response(answers(TIEP_CAN="4", TTHC="5"), seconds_per_item=5.0)
    await aggregate(database, SIPAS_LAYOUT)
    assert not await _speeding(database, steady)
    stricter = QualityRules(speeding_seconds_per_item=6.0)
    await aggregate(database, SIPAS_LAYOUT, rules=stricter, full=True)
    assert await _speeding(database, steady)


async def test_responses_stored_without_facts_get_them_when_their_day_is_counted(
    database: Database, survey: Survey
) -> None:
    # A response stored before facts were recorded at completion (the 0003 migration
    # leaves them NULL): the aggregation reads its answers once and records them.
    hurried = await survey.response(answers(TIEP_CAN="5", TTHC="5", CONG_CHUC="5", KET_QUA="5"))
    async with database.transaction() as session:
        await session.execute(
            update(Response)
            .where(Response.id == hurried)
            .values(scale_answers=None, uniform_value=None, median_gap_seconds=None)
        )
    await aggregate(database, SIPAS_LAYOUT)
    async with database.reading() as session:
        response = await session.get(Response, hurried)
        quality = await session.get(ResponseQuality, hurried)
    assert response is not None and quality is not None
    assert (response.scale_answers, response.uniform_value, response.median_gap_seconds) == (
        16,
        "5",
        20.0,
    )
    assert quality.straight_lining and not quality.speeding


async def test_cells_split_by_flag_and_other_questionnaires_are_left_out(
    database: Database, survey: Survey
) -> None:
    mixed = answers(TIEP_CAN="4", TTHC="5")
    await survey.many(2, mixed)
    await survey.response(answers(TIEP_CAN="5", TTHC="5", CONG_CHUC="5"))  # straight-lining
    await survey.response(mixed, respondent_type="organisation", channel="zalo_oa")
    other = await survey.response(mixed)
    async with database.transaction() as session:
        await session.execute(
            update(Response).where(Response.id == other).values(questionnaire_id="other-survey")
        )
    for _ in range(2):  # a second run finds the same (and no leftovers from the first)
        await aggregate(database, SIPAS_LAYOUT, full=True)
        async with database.reading() as session:
            respondents = sorted(
                (
                    await session.execute(
                        select(
                            DailyRespondents.service_point_code,
                            DailyRespondents.respondent_type,
                            DailyRespondents.channel,
                            DailyRespondents.flagged,
                            DailyRespondents.respondents,
                        )
                    )
                )
                .tuples()
                .all()
            )
            counts = (
                (
                    await session.execute(
                        select(
                            DailyCount.respondent_type, DailyCount.flagged, DailyCount.answers
                        ).where(DailyCount.item_code == "15", DailyCount.value == "5")
                    )
                )
                .tuples()
                .all()
            )
            assert await session.get(ResponseQuality, other) is None
        assert respondents == [
            ("W1-A", "citizen", "telegram", False, 2),
            ("W1-A", "citizen", "telegram", True, 1),
            ("W1-A", "organisation", "zalo_oa", False, 1),
        ]
        assert counts == [("citizen", True, 1)]
