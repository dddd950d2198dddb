"""The result moment in the engine: the follow-up choice after "not yet received", the result
questions once the result is returned joining the same response, and surveys at the result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from handlers.events import Command
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage import result_follow_ups as follow_ups
from storage.db import Database
from storage.invitations import Stage, counter_payload, issue_invitation
from storage.models import Answer, Response, ResultFollowUp, SurveySession
from tests.anonymity import database_text
from tests.conftest import TEST_SECRET
from tests.survey_driver import POINT, Clock, Respondent, add_counters, engine_config

CHAT = "731946285"
COUNTER = counter_payload(TEST_SECRET, POINT)


@pytest.fixture
async def engine(database: Database) -> SurveyEngine:
    await add_counters(database)
    return SurveyEngine(database, load_bundled(), engine_config(result_follow_up_days=60))


async def invitation(database: Database, stage: str = Stage.RECEPTION, dossier: str = "D-1") -> str:
    """A per-dossier invitation's payload, minted at `stage`."""
    async with database.transaction() as tx:
        issued = await issue_invitation(
            tx,
            TEST_SECRET,
            service_point_code=POINT,
            now=datetime(2026, 11, 20, tzinfo=UTC),
            ttl=timedelta(days=30),
            dossier_ref=dossier,
            stage=stage,
        )
    return issued.payload


async def to_result_screener(citizen: Respondent, payload: str) -> None:
    await citizen.begin(payload)
    while citizen.current_item != "ket_qua_nhan":
        item = citizen.current_item
        assert item is not None
        await citizen.answer("citizen" if item == "respondent_type" else "4")


async def answers_of_response(database: Database) -> dict[str, str | None]:
    async with database.reading() as tx:
        response = (await tx.scalars(select(Response))).one()
        rows = await tx.execute(
            select(Answer.item_code, Answer.value).where(Answer.session_id == response.session_id)
        )
        return dict(rows.tuples().all())


async def the_follow_up(database: Database) -> ResultFollowUp | None:
    async with database.reading() as tx:
        return (await tx.scalars(select(ResultFollowUp))).one_or_none()


async def result_returned(database: Database, payload: str) -> None:
    """What the invitation API does when the one-stop system says the result was returned."""
    async with database.transaction() as tx:
        from storage.invitations import find_invitation

        found = await find_invitation(tx, TEST_SECRET, payload)
        assert found is not None
        await follow_ups.mark_due(tx, [found.id], datetime.now(UTC))


async def test_not_yet_received_asks_once_whether_to_write_later_and_yes_keeps_the_address_encrypted(
    engine: SurveyEngine, database: Database
) -> None:
    citizen = Respondent(engine, CHAT, Clock())
    payload = await invitation(database)
    await to_result_screener(citizen, payload)

    await citizen.answer("no")
    assert citizen.asks_result_follow_up
    assert [b.data for b in citizen.question.choices()] == [
        "result:yes",
        "result:no",
        "b:pakn_da_tung",
    ]
    assert "60 ngày" in citizen.question.text
    assert "chậm nhất sau 60 ngày" in engine.notice.full("vi")  # the privacy notice says so too
    await citizen.press("result:yes")
    assert citizen.current_item == "pakn_da_tung"
    # Back to the screener and "not yet" again: the choice was made, it is not asked twice.
    await citizen.press("b:pakn_da_tung")
    assert citizen.current_item == "ket_qua_nhan"
    await citizen.answer("no")
    assert citizen.current_item == "pakn_da_tung"
    replies = await citizen.finish()

    assert "nhắn Ông/Bà một lần" in replies[-1].text
    follow_up = await the_follow_up(database)
    assert follow_up is not None and follow_up.status == follow_ups.WAITING
    assert follow_up.address_ciphertext is not None and follow_up.channel == "telegram"
    assert CHAT not in await database_text(database)
    answers = await answers_of_response(database)
    assert answers["ket_qua_nhan"] == "no" and "28" not in answers


async def test_no_keeps_nothing(engine: SurveyEngine, database: Database) -> None:
    citizen = Respondent(engine, CHAT, Clock())
    await citizen.complete(await invitation(database), result_follow_up="no")

    assert await the_follow_up(database) is None
    async with database.reading() as tx:
        survey = (await tx.scalars(select(SurveySession))).one()
    assert survey.result_follow_up_agreed is False
    assert CHAT not in await database_text(database)


async def test_the_result_questions_arrive_once_and_their_answers_join_the_same_response(
    engine: SurveyEngine, database: Database
) -> None:
    clock = Clock()
    citizen = Respondent(engine, CHAT, clock)
    payload = await invitation(database)
    await citizen.complete(payload, result_follow_up="yes")
    assert await engine.due_result_follow_ups(clock.now) == []  # not returned yet

    await result_returned(database, payload)
    [message] = await engine.due_result_follow_ups(clock.now)
    assert await engine.due_result_follow_ups(clock.now) == []  # once

    assert (message.channel, message.address) == ("telegram", CHAT)
    intro, question = message.replies
    assert "3 câu" in intro.text
    assert [b.data for b in question.choices()][:1] == ["a:28:1"]
    assert "Câu 1/3" in question.text
    follow_up = await the_follow_up(database)
    assert follow_up is not None and follow_up.status == follow_ups.SENT
    assert follow_up.address_ciphertext is None
    citizen.screen = message.replies
    await citizen.answer("5")
    await citizen.answer("4")
    replies = await citizen.skip()

    assert "ghi cùng lần đánh giá trước" in replies[-1].text
    answers = await answers_of_response(database)
    assert (answers["ket_qua_nhan"], answers["28"], answers["29"], answers["30"]) == (
        "yes",
        "5",
        "4",
        None,
    )
    follow_up = await the_follow_up(database)
    assert follow_up is not None and follow_up.status == follow_ups.ANSWERED
    async with database.reading() as tx:
        assert (await tx.scalars(select(Response))).one().scale_answers is None  # recounted
        statuses = (await tx.scalars(select(SurveySession.status))).all()
    assert sorted(statuses) == ["completed", "joined"]
    assert CHAT not in await database_text(database)
    # The chat is an ordinary one again: what is typed next is told the survey is done.
    assert "đã hoàn thành khảo sát" in (await citizen.type("4"))[-1].text


async def test_a_respondent_in_another_survey_is_asked_when_it_ends(
    engine: SurveyEngine, database: Database
) -> None:
    clock = Clock()
    citizen = Respondent(engine, CHAT, clock)
    payload = await invitation(database)
    await citizen.complete(payload, result_follow_up="yes")
    clock.advance(days=3)
    await citizen.begin(await invitation(database, dossier="D-2"))

    await result_returned(database, payload)
    assert await engine.due_result_follow_ups(clock.now) == []
    follow_up = await the_follow_up(database)
    assert follow_up is not None and follow_up.status == follow_ups.DUE

    await citizen.command(Command.CANCEL)
    [message] = await engine.due_result_follow_ups(clock.now)
    assert message.address == CHAT


async def test_the_address_is_erased_after_the_days_allowed_and_nothing_is_sent(
    engine: SurveyEngine, database: Database
) -> None:
    clock = Clock()
    citizen = Respondent(engine, CHAT, clock)
    payload = await invitation(database)
    await citizen.complete(payload, result_follow_up="yes")

    assert await engine.forget_result_addresses(clock.now + timedelta(days=59)) == 0
    assert await engine.forget_result_addresses(clock.now + timedelta(days=60)) == 1
    await result_returned(database, payload)

    assert await engine.due_result_follow_ups(clock.now + timedelta(days=61)) == []
    follow_up = await the_follow_up(database)
    assert follow_up is not None and follow_up.status == follow_ups.EXPIRED
    assert follow_up.address_ciphertext is None


async def test_lowering_the_setting_erases_addresses_kept_longer(database: Database) -> None:
    await add_counters(database)
    clock = Clock()
    generous = SurveyEngine(database, load_bundled(), engine_config(result_follow_up_days=90))
    payload = await invitation(database)
    await Respondent(generous, CHAT, clock).complete(payload, result_follow_up="yes")
    strict = SurveyEngine(database, load_bundled(), engine_config(result_follow_up_days=30))

    assert await strict.forget_result_addresses(clock.now + timedelta(days=31)) == 1


async def test_an_undelivered_message_counts_as_unreachable_and_closes_its_session(
    engine: SurveyEngine, database: Database
) -> None:
    clock = Clock()
    citizen = Respondent(engine, CHAT, clock)
    payload = await invitation(database)
    await citizen.complete(payload, result_follow_up="yes")
    await result_returned(database, payload)
    [message] = await engine.due_result_follow_ups(clock.now)

    await engine.result_follow_up_undelivered(message.follow_up_id, clock.now)

    follow_up = await the_follow_up(database)
    assert follow_up is not None and follow_up.status == follow_ups.UNREACHABLE
    # No follow-up session is left to take it: the survey is done.
    assert "đã hoàn thành khảo sát" in (await citizen.type("5"))[-1].text


async def test_delete_erases_the_kept_address_with_the_answers(
    engine: SurveyEngine, database: Database
) -> None:
    citizen = Respondent(engine, CHAT, Clock())
    await citizen.complete(await invitation(database), result_follow_up="yes")
    assert await the_follow_up(database) is not None

    await citizen.press("del:yes")

    assert await the_follow_up(database) is None


@pytest.mark.parametrize("channel", ["web", "kiosk", "console", "simulated"])
async def test_the_choice_is_not_offered_where_the_bot_cannot_write_later(
    engine: SurveyEngine, database: Database, channel: str
) -> None:
    citizen = Respondent(engine, CHAT, Clock(), channel=channel)
    await to_result_screener(citizen, await invitation(database))

    await citizen.answer("no")

    assert citizen.current_item == "pakn_da_tung"


async def test_the_choice_is_not_offered_from_a_counters_poster_which_no_result_can_name(
    engine: SurveyEngine, database: Database
) -> None:
    citizen = Respondent(engine, CHAT, Clock())
    await to_result_screener(citizen, COUNTER)

    await citizen.answer("no")

    assert citizen.current_item == "pakn_da_tung"


async def test_the_choice_is_not_offered_when_the_follow_up_is_off(database: Database) -> None:
    await add_counters(database)
    engine = SurveyEngine(database, load_bundled(), engine_config())
    citizen = Respondent(engine, CHAT, Clock())
    await to_result_screener(citizen, await invitation(database))

    await citizen.answer("no")

    assert citizen.current_item == "pakn_da_tung"
    assert "kết quả" not in engine.notice.full("vi").split("4.")[1].split("5.")[0]


async def test_the_choice_is_answered_by_typing_its_number_and_a_stray_word_answers_nothing(
    engine: SurveyEngine, database: Database
) -> None:
    citizen = Respondent(engine, CHAT, Clock(), channel="zalo_bot")
    await to_result_screener(citizen, await invitation(database))
    await citizen.answer("no")

    await citizen.type("yes")  # the next item's option value: not an answer to the choice
    assert citizen.asks_result_follow_up
    await citizen.type("2")

    assert citizen.current_item == "pakn_da_tung"


async def test_an_invitation_at_the_result_asks_everything_with_the_screener_answered(
    engine: SurveyEngine, database: Database
) -> None:
    citizen = Respondent(engine, CHAT, Clock())
    payload = await invitation(database, Stage.RESULT)
    await citizen.begin(payload)

    asked: list[str] = []
    while citizen.current_item not in (None, "pakn_da_tung"):
        asked.append(str(citizen.current_item))
        await citizen.answer("citizen" if citizen.current_item == "respondent_type" else "4")
    await citizen.finish()

    assert "ket_qua_nhan" not in asked and asked[-3:] == ["28", "29", "30"]
    answers = await answers_of_response(database)
    assert (answers["ket_qua_nhan"], answers["28"]) == ("yes", "4")
    assert await the_follow_up(database) is None
