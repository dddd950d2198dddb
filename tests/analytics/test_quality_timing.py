"""Speeding is judged on the gaps between a session's answers in time order, whatever order
the answer rows were written in (a respondent who goes back rewrites an earlier row)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from analytics.aggregate import aggregate
from analytics.method import load_method
from storage.db import Database
from storage.models import Answer, DailyCount, DailyRespondents, Response, ResponseQuality
from tests.analytics.survey_rows import SIPAS_LAYOUT, Survey, answers

METHOD = load_method()
START = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)


async def _retime(database: Database, response_id: int, offsets: list[float]) -> None:
    """Give the response's answers, in the order they were written, these second offsets."""
    async with database.transaction() as session:
        response = await session.get(Response, response_id)
        assert response is not None
        rows = (
            await session.scalars(
                select(Answer).where(Answer.session_id == response.session_id).order_by(Answer.id)
            )
        ).all()
        assert len(rows) == len(offsets)
        for row, offset in zip(rows, offsets, strict=True):
            await session.execute(
                update(Answer)
                .where(Answer.id == row.id)
                .values(answered_at=START + timedelta(seconds=offset))
            )


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
    steady = await survey.response(eight)
    await _retime(database, steady, [70, 60, 50, 40, 30, 20, 10, 0])
    # In time order: 0, 1, 2, 3, 100, 101, 102, 103: six of seven gaps are 1 s (speeding),
    # though in write order every other gap is about +100 s.
    hurried = await survey.response(eight)
    await _retime(database, hurried, [0, 100, 1, 101, 2, 102, 3, 103])
    # Ties: four answers at one instant, then four 30 s apart: gaps 0, 0, 0, 30, 30, 30, 30
    # (three of seven fast: not more than half, not speeding).
    tied = await survey.response(eight)
    await _retime(database, tied, [0, 0, 0, 0, 30, 60, 90, 120])
    await aggregate(database, SIPAS_LAYOUT, method=METHOD)
    assert not await _speeding(database, steady)
    assert await _speeding(database, hurried)
    assert not await _speeding(database, tied)
    # A full run gives the same verdicts.
    await aggregate(database, SIPAS_LAYOUT, method=METHOD, full=True)
    assert [await _speeding(database, rid) for rid in (steady, hurried, tied)] == [
        False,
        True,
        False,
    ]


async def test_speeding_exactly_half_the_gaps_fast_is_not_speeding(
    database: Database, survey: Survey
) -> None:
    # Five answers, four gaps: two of 1 s, two of 5 s: half, not more than half.
    five = answers(TIEP_CAN="4") | {"19": "5"}
    half = await survey.response(five)
    await _retime(database, half, [0, 1, 2, 7, 12])
    # One more fast gap tips it: three of five gaps under 2 s.
    six = five | {"20": "4"}
    over = await survey.response(six)
    await _retime(database, over, [0, 1, 2, 3, 8, 13])
    await aggregate(database, SIPAS_LAYOUT, method=METHOD)
    assert not await _speeding(database, half)
    assert await _speeding(database, over)


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
        await aggregate(database, SIPAS_LAYOUT, method=METHOD, full=True)
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
