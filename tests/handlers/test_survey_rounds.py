"""The engine with a survey round: the rated-unit block in turn, back, resume and withdrawal
across its repeats, typed numbers and short codes (Zalo Bot, the console), the round's days,
and the citizen survey beside it unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from channels.zalo_bot import SURFACE as ZALO_BOT
from handlers.catalog import load_catalog
from handlers.events import Command
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from questionnaires.rounds import RoundFile, parse_round
from storage.db import Database
from storage.invitations import counter_payload
from storage.models import Answer, RoundInvitation, SurveySession
from storage.rounds import (
    MintedInvitation,
    add_round,
    completed_round_sessions,
    get_round,
    group_progress,
    mint_round_invitations,
)
from tests.conftest import TEST_SECRET
from tests.survey_driver import POINT, Clock, Respondent, add_counters, engine_config

ROUND = """
code: r-test
title: {vi: "Đợt thử"}
questionnaire: par-officials-2025
opens: 2026-11-01
closes: 2026-11-30
units:
  - {code: SO-A, name: {vi: "Sở A", en: "Department A"}}
  - {code: SO-B, name: {vi: "Sở B"}}
  - {code: SO-C, name: {vi: "Sở C"}}
groups:
  - {code: XA, label: {vi: "Lãnh đạo xã"}, target: 5, rates: [SO-A, SO-B]}
  - {code: HDND, label: {vi: "Đại biểu HĐND"}, target: 4, rates: all, sample: 2}
"""
BLOCK = 10  # items asked per rated unit: nine scale items and the comment
CATALOG = load_catalog()


async def with_round(database: Database) -> RoundFile:
    """The counters of the citizen survey, and the round."""
    await add_counters(database)
    return await store_round(database)


async def store_round(database: Database, text: str = ROUND) -> RoundFile:
    loaded = parse_round(text)
    async with database.transaction() as tx:
        await add_round(
            tx,
            code=loaded.plan.code,
            plan=loaded.plan.to_json(),
            questionnaire_id=loaded.questionnaire.id,
            questionnaire_version=loaded.questionnaire.version,
            questionnaire_source=loaded.questionnaire_source,
            opens_on=loaded.plan.opens,
            closes_on=loaded.plan.closes,
            now=datetime(2026, 10, 1, tzinfo=UTC),
        )
    return loaded


async def mint(
    database: Database, group: str, count: int = 1, round_code: str = "r-test"
) -> list[MintedInvitation]:
    async with database.transaction() as tx:
        survey_round = await get_round(tx, round_code)
        assert survey_round is not None
        return await mint_round_invitations(
            tx, TEST_SECRET, survey_round, group, count, datetime(2026, 10, 2, tzinfo=UTC)
        )


def official(database: Database, chat: str = "501", clock: Clock | None = None) -> Respondent:
    engine = SurveyEngine(database, load_bundled(), engine_config())
    return Respondent(engine, chat, clock or Clock())


async def test_the_block_is_asked_per_unit_and_back_crosses_from_one_unit_to_the_other(
    database: Database,
) -> None:
    await with_round(database)
    (invitation,) = await mint(database, "XA")
    person = official(database)
    await person.begin(invitation.payload)
    assert person.current_item == "nhom"
    assert "Lãnh đạo xã" in person.question.text
    await person.answer("yes")
    for _ in range(BLOCK - 1):
        assert "Sở A" in person.question.text and "Sở B" not in person.question.text
        await person.answer("5")
    assert person.current_item == "YK#1"
    await person.skip()
    assert person.current_item == "CD1#2"
    assert "Phần 3/3 · Sở B · Câu 1/10" in person.question.text
    await person.press("b:CD1#2")
    assert person.current_item == "YK#1"
    await person.press("b:YK#1")
    assert person.current_item == "TD1#1"
    assert "Câu trả lời hiện tại" in person.question.text
    await person.answer("2")
    assert person.current_item == "CD1#2"  # the comment on Sở A was answered (skipped) before
    for _ in range(BLOCK - 1):
        assert "Sở B" in person.question.text
        await person.answer("3")
    await person.type("Công khai thủ tục chưa đầy đủ.")
    assert person.question.text.startswith(CATALOG.text("vi", "round.thanks"))

    async with database.reading() as tx:
        (done,) = await completed_round_sessions(tx, "r-test")
        progress = await group_progress(tx, "r-test")
    assert done.group_code == "XA" and done.rated_units == ("SO-A", "SO-B")
    assert done.answers["TD1#1"] == "2" and done.answers["CD1#1"] == "5"
    assert done.answers["CD1#2"] == "3" and done.answers["YK#2"] == "Công khai thủ tục chưa đầy đủ."
    assert (progress["XA"].invited, progress["XA"].started, progress["XA"].completed) == (1, 1, 1)


async def test_resume_and_withdrawal_across_the_repeats(database: Database) -> None:
    await with_round(database)
    (invitation,) = await mint(database, "XA")
    clock = Clock()
    person = official(database, clock=clock)
    await person.begin(invitation.payload)
    await person.answer("yes")
    for _ in range(BLOCK + 1):
        if person.current_item and person.current_item.startswith("YK"):
            await person.skip()
        else:
            await person.answer("4")
    assert person.current_item == "TC1#2"
    # Back hours later with the same code: the step it was on, in the second Sở.
    clock.advance(hours=3)
    replies = await person.start(invitation.payload)
    assert "Sở B" in replies[-1].text and person.current_item == "TC1#2"
    while person.current_item is not None:
        if person.current_item.startswith("YK"):
            await person.skip()
        else:
            await person.answer("4")
    await person.command(Command.DELETE)
    await person.press("del:yes")

    async with database.reading() as tx:
        assert await completed_round_sessions(tx, "r-test") == []
        assert (await group_progress(tx, "r-test"))["XA"].completed == 0
        assert await tx.scalar(select(func.count()).select_from(Answer)) == 0
        assert await tx.scalar(select(RoundInvitation.claimed_by)) is None


async def test_typed_numbers_and_a_short_code_on_zalo_and_a_sample_per_respondent(
    database: Database,
) -> None:
    await with_round(database)
    (invitation,) = await mint(database, "HDND")
    person = official(database, chat="zalo-7")
    person.channel, person.surface = "zalo_bot", ZALO_BOT
    await person.type(invitation.short_code.lower())
    await person.type("1")  # I agree
    await person.type("1")  # yes, I am one of them
    while person.current_item is not None:
        await person.type("0" if person.current_item.startswith("YK") else "4")
    async with database.reading() as tx:
        (done,) = await completed_round_sessions(tx, "r-test")
    assert len(done.rated_units) == 2 and set(done.rated_units) <= {"SO-A", "SO-B", "SO-C"}
    assert sum(code.startswith("CD1#") for code in done.answers) == 2


async def test_a_respondent_not_in_the_group_rates_nothing_and_is_counted_apart(
    database: Database,
) -> None:
    await with_round(database)
    (invitation,) = await mint(database, "XA")
    person = official(database)
    await person.begin(invitation.payload)
    await person.answer("no")
    assert person.question.text.startswith(CATALOG.text("vi", "round.thanks"))
    async with database.reading() as tx:
        progress = (await group_progress(tx, "r-test"))["XA"]
    assert (progress.completed, progress.screened_out) == (0, 1)


@pytest.mark.parametrize(
    ("day", "problem"),
    [(datetime(2026, 10, 31, 12, tzinfo=UTC), "round_not_open"),
     (datetime(2026, 12, 1, 3, tzinfo=UTC), "round_closed")],
)  # fmt: skip
async def test_a_code_outside_the_rounds_days_is_refused(
    database: Database, day: datetime, problem: str
) -> None:
    await with_round(database)
    (invitation,) = await mint(database, "XA")
    person = official(database, clock=Clock(day))
    replies = await person.start(invitation.payload)
    assert [reply.text for reply in replies] == [CATALOG.text("vi", f"invitation.{problem}")]
    async with database.reading() as tx:
        assert await tx.scalar(select(func.count()).select_from(SurveySession)) == 0


async def test_an_unknown_round_payload_is_refused_and_the_citizen_survey_is_unchanged(
    database: Database,
) -> None:
    await with_round(database)
    person = official(database)
    replies = await person.start("r_AAAAAAAAAAAAAAAAAAAAAA")
    assert [reply.text for reply in replies] == [CATALOG.text("vi", "invitation.unknown")]
    citizen = official(database, chat="citizen")
    await citizen.complete(counter_payload(TEST_SECRET, POINT))
    async with database.reading() as tx:
        survey = await tx.scalar(select(SurveySession))
    assert survey is not None and survey.status == "completed"
    assert (survey.round_code, survey.service_point_code) == (None, POINT)
    assert survey.questionnaire_id == "sipas-2023"


def test_the_round_file_keeps_its_plan_through_json() -> None:
    plan = parse_round(ROUND).plan
    assert plan.from_json(plan.to_json()) == plan
    assert plan.opens == date(2026, 11, 1)
