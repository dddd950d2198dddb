"""The survey conversation, as a specification: each test is one thing a respondent can do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from handlers.events import TEXT_CHAT, Command, InboundKind, Reply
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage import invitations
from storage import sessions as store
from storage.db import Database
from storage.invitations import (
    counter_payload,
    counter_short_code,
    issue_invitation,
    parse_counter_payload,
)
from storage.models import Answer, DirtyDay, Invitation, Response, ServicePoint, SurveySession
from storage.privacy import PHONE_MARK, respondent_key
from tests.conftest import TEST_SECRET
from tests.survey_driver import OTHER_POINT, POINT, Clock, Respondent, add_counters, engine_config

COUNTER = counter_payload(TEST_SECRET, POINT)
NEW_POINT = "HN-00004-03"


@pytest.fixture
async def engine(database: Database) -> SurveyEngine:
    await add_counters(database)
    return SurveyEngine(database, load_bundled(), engine_config())


@pytest.fixture
def clock() -> Clock:
    return Clock()


def citizen_key(citizen: Respondent) -> str:
    return respondent_key(TEST_SECRET, citizen.channel, citizen.chat)


def person(engine: SurveyEngine, clock: Clock, chat: str = "1001", **kwargs: object) -> Respondent:
    return Respondent(engine, chat, clock, **kwargs)  # type: ignore[arg-type]


async def count(database: Database, model: type) -> int:
    async with database.reading() as tx:
        return (await tx.execute(select(func.count()).select_from(model))).scalar_one()


async def answers_of(database: Database) -> dict[str, str | None]:
    async with database.reading() as tx:
        rows = await tx.execute(select(Answer.item_code, Answer.value))
        return dict(rows.tuples().all())


async def mint(database: Database, clock: Clock, **kwargs: object) -> tuple[str, str]:
    async with database.transaction() as tx:
        minted = await issue_invitation(
            tx,
            TEST_SECRET,
            service_point_code=POINT,
            now=clock.now,
            ttl=timedelta(hours=72),
            **kwargs,  # type: ignore[arg-type]
        )
    return minted.payload, minted.short_code


# --- the happy path ---------------------------------------------------------------------


async def test_a_counter_token_leads_through_consent_and_every_question_to_a_stored_response(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    replies = await citizen.start(COUNTER)
    notice, consent = replies
    assert "DỮ LIỆU CÁ NHÂN" in notice.text and not notice.question  # a message of its own
    assert [b.data for b in consent.choices()][:2] == ["consent:yes", "consent:no"]

    await citizen.press("consent:yes")
    assert citizen.question.text.startswith("Phần 1/8 · Tiếp cận dịch vụ · Câu 1/5")
    final = await citizen.complete(COUNTER)  # resumes: same counter, same open session
    assert "Cảm ơn" in final[0].text

    async with database.reading() as tx:
        response = (await tx.execute(select(Response))).scalar_one()
    assert response.service_point_code == POINT
    assert response.respondent_type == "citizen"
    assert response.channel == "telegram"
    assert str(response.reporting_day) == "2026-11-20"
    assert (await answers_of(database))["15"] == "4"
    assert await count(database, DirtyDay) == 1
    # The facts its quality flags are judged on: items 15–27 all "4", one answer every 5 s.
    assert (response.scale_answers, response.uniform_value, response.median_gap_seconds) == (
        13,
        "4",
        5.0,
    )


async def test_while_another_process_holds_the_lock_events_run_as_ordinary_transactions(
    engine: SurveyEngine, database: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SQLite a survey event's transaction runs on the event loop's thread only if it can
    # have the write lock at once; as if another process always held it, every event runs
    # as an ordinary transaction in aiosqlite's thread, with the same outcome.
    monkeypatch.setattr(Database, "_begin_on_loop", lambda _self: None)
    citizen = person(engine, clock)
    await citizen.start(COUNTER)
    await citizen.press("consent:yes")
    final = await citizen.complete(COUNTER)

    assert "Cảm ơn" in final[0].text
    assert await count(database, Response) == 1
    assert (await answers_of(database))["15"] == "4"


async def test_progress_shows_the_section_and_the_item_within_it(
    engine: SurveyEngine, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    assert citizen.question.text.splitlines()[0] == "Phần 1/8 · Tiếp cận dịch vụ · Câu 2/5"
    assert citizen.current_item == "15"
    for _ in range(4):
        await citizen.answer("4")
    assert citizen.question.text.splitlines()[0] == "Phần 2/8 · Thủ tục hành chính · Câu 1/4"
    labels = [b.label for b in citizen.question.choices()]
    assert labels[:5] == [
        "Rất không hài lòng",
        "Không hài lòng",
        "Bình thường",
        "Hài lòng",
        "Rất hài lòng",
    ]
    assert "Không trả lời" in labels and "« Quay lại" in labels


async def test_declining_consent_ends_politely_and_stores_no_answer(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.start(COUNTER)
    replies = await citizen.press("consent:no")
    assert "không lưu" in replies[0].text
    assert await count(database, Answer) == 0
    assert await count(database, Response) == 0


# --- skip logic, skip and back ------------------------------------------------------------


async def test_result_block_is_skipped_until_a_result_was_returned(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    await person(engine, clock).complete(COUNTER, {"ket_qua_nhan": "no", "pakn_da_tung": "no"})
    answered = await answers_of(database)
    assert {"28", "29", "30", "31", "32", "33"}.isdisjoint(answered)


async def test_result_and_complaint_blocks_are_asked_when_their_screeners_say_yes(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    await person(engine, clock).complete(COUNTER, {"ket_qua_nhan": "yes", "pakn_da_tung": "yes"})
    answered = await answers_of(database)
    assert {"28", "29", "30", "31", "32", "33"} <= set(answered)


async def test_a_skipped_item_is_stored_as_no_answer(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    await citizen.skip()
    assert citizen.current_item == "16"
    assert (await answers_of(database))["15"] is None


async def test_back_changes_the_previous_answer(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    await citizen.answer("2")
    await citizen.press("b:16")
    assert citizen.current_item == "15"
    assert "Câu trả lời hiện tại: Không hài lòng" in citizen.question.text
    await citizen.answer("5")
    assert citizen.current_item == "16"
    assert (await answers_of(database))["15"] == "5"


async def test_going_back_to_a_screener_and_closing_it_drops_the_hidden_answers(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    while citizen.current_item != "28":
        item = citizen.current_item
        await citizen.answer(
            "yes" if item == "ket_qua_nhan" else "citizen" if item == "respondent_type" else "4"
        )
    await citizen.answer("5")  # item 28
    await citizen.press("b:29")
    await citizen.press("b:28")
    assert citizen.current_item == "ket_qua_nhan"
    await citizen.answer("no")
    assert citizen.current_item == "pakn_da_tung"
    assert "28" not in await answers_of(database)


# --- resume, restart, expiry ---------------------------------------------------------------


async def test_coming_back_within_the_window_shows_the_step_to_go_on_with_or_start_again(
    engine: SurveyEngine, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    clock.advance(hours=20)
    said, step = await citizen.start(COUNTER)
    assert "đã trả lời 1 câu" in said.text
    assert citizen.current_item == "15"  # the step itself: one tap fewer
    assert [b.data for b in step.buttons[-1]] == ["resume:restart"]
    await citizen.answer("4")
    assert citizen.current_item == "16"
    assert "resume:restart" not in [b.data for b in citizen.question.choices()]


async def test_typed_input_on_return_answers_the_step_shown_and_lamlai_starts_again(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock, channel="zalo_bot", surface=TEXT_CHAT)
    await citizen.start(COUNTER)
    await citizen.type("1")  # consent
    await citizen.type("1")  # citizen
    await citizen.start(COUNTER)
    assert "[LAMLAI] Làm lại từ đầu" in [f"[{b.key}] {b.label}" for b in citizen.question.choices()]
    await citizen.type("5")
    assert (await answers_of(database))["15"] == "5"
    await citizen.type("lamlai")
    assert citizen.current_item == "respondent_type" and await answers_of(database) == {}


async def test_restart_clears_the_answers_and_begins_again(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    await citizen.answer("3")
    await citizen.start(COUNTER)
    await citizen.press("resume:restart")
    assert citizen.current_item == "respondent_type"
    assert await answers_of(database) == {}


async def test_an_abandoned_session_expires_and_keeps_only_its_non_completion(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    clock.advance(hours=49)
    assert await engine.purge_abandoned(clock.now) == 1
    assert await answers_of(database) == {}
    async with database.reading() as tx:
        survey = (await tx.execute(select(SurveySession))).scalar_one()
    assert (survey.status, survey.current_item, survey.address_ciphertext) == (
        "expired",
        None,
        None,
    )
    replies = await citizen.start(COUNTER)
    assert replies[-1].choices()[0].data == "consent:yes"  # a fresh survey, not a resume


async def test_a_return_after_the_window_expires_the_old_survey_before_anything_else(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    clock.advance(hours=49)  # no maintenance round ran meanwhile
    replies = await citizen.start(COUNTER)
    assert replies[-1].choices()[0].data == "consent:yes"
    async with database.reading() as tx:
        first = (await tx.execute(select(SurveySession).order_by(SurveySession.id))).scalar()
    assert first is not None
    assert (first.status, first.respondent_key, first.address_ciphertext) == ("expired", "", None)
    assert await answers_of(database) == {}


async def test_a_session_changed_since_it_was_read_is_not_overwritten(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    async with database.reading() as tx:
        loaded, _answers = await store.load_open_session(tx, citizen_key(citizen))
    assert loaded is not None
    read = loaded.version
    clock.advance(hours=49)
    assert await engine.purge_abandoned(clock.now) == 1  # maintenance expires it meanwhile
    loaded.current_item = "15"
    loaded.version += 1
    with pytest.raises(store.SessionChanged):
        async with database.transaction() as tx:
            await store.save_session(tx, loaded, read)
    async with database.reading() as tx:
        survey = (await tx.execute(select(SurveySession))).scalar_one()
    assert (survey.status, survey.respondent_key) == ("expired", "")


# --- withdrawal, language ----------------------------------------------------------------


async def test_delete_removes_every_answer_of_the_respondent_after_confirmation(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.complete(COUNTER)
    replies = await citizen.command(Command.DELETE)
    assert [b.data for b in replies[0].choices()] == ["del:yes", "del:no"]
    (kept,) = await citizen.press("del:no")
    assert kept.text == "Đã giữ nguyên câu trả lời của Ông/Bà." and kept.question
    assert await count(database, Response) == 1
    await citizen.command(Command.DELETE)
    replies = await citizen.press("del:yes")
    assert "Đã xoá 1" in replies[0].text
    assert await count(database, Response) == 0
    assert await count(database, Answer) == 0
    assert await count(database, SurveySession) == 0


async def test_language_can_be_switched_mid_way(engine: SurveyEngine, clock: Clock) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    (replies,) = await citizen.command(Command.LANGUAGE)
    assert replies.notice == "Switched to English."  # the question itself takes the old one's place
    assert citizen.question.text.startswith("Part 1/8 · Access to the service · Question 2/5")
    assert "Very satisfied" in [b.label for b in citizen.question.choices()]


async def test_an_english_phone_gets_english_from_the_start(
    engine: SurveyEngine, clock: Clock
) -> None:
    replies = await person(engine, clock, locale="en").start(COUNTER)
    assert replies[-1].choices()[0].label == "I agree to take part"


async def test_cancel_asks_before_the_answers_go_and_can_be_declined(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    (ask,) = await citizen.command(Command.CANCEL)
    assert "1 câu trả lời dở dang sẽ bị xoá" in ask.text and "DUNG" not in ask.text
    assert [b.data for b in ask.choices()] == ["cancel:yes", "cancel:no"]
    assert await count(database, Answer) == 1

    await citizen.press("cancel:no")
    assert citizen.current_item == "15" and await count(database, Answer) == 1
    await citizen.command(Command.CANCEL)
    (stopped,) = await citizen.press("cancel:yes")
    assert stopped.text.startswith("Đã dừng khảo sát") and stopped.question  # in its place
    assert await count(database, Answer) == 0


async def test_cancel_with_no_answer_yet_stops_at_once(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    (stopped,) = await citizen.command(Command.CANCEL)
    assert stopped.text.startswith("Đã dừng khảo sát")
    async with database.reading() as tx:
        assert await store.find_open_session(tx, citizen_key(citizen)) is None


async def test_cancel_by_text_needs_its_code_and_keep_goes_on(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock, channel="zalo_bot", surface=TEXT_CHAT)
    await citizen.start(COUNTER)
    await citizen.type("1")  # consent
    await citizen.type("1")  # citizen
    (ask,) = await citizen.command(Command.CANCEL)
    code = ask.choices()[0].key
    assert code.startswith("DUNG") and f"Gõ {code} để xác nhận, hoặc KHONG để thôi." in ask.text
    (going_on,) = await citizen.type("khong")
    assert going_on.notice == "Đã giữ nguyên câu trả lời của Ông/Bà."
    assert citizen.current_item == "15"
    await citizen.command(Command.CANCEL)
    await citizen.type("1")  # a number answers the current question, it does not cancel
    assert (await answers_of(database))["15"] == "1"
    (stopped,) = await citizen.type(code)
    assert stopped.text.startswith("Đã dừng khảo sát")
    assert await count(database, Answer) == 0


async def test_another_counters_code_typed_mid_survey_starts_only_once_confirmed(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock, channel="zalo_bot", surface=TEXT_CHAT)
    await citizen.start(COUNTER)
    await citizen.type("1")  # consent
    await citizen.type("1")  # citizen
    code = counter_short_code(TEST_SECRET, OTHER_POINT)

    (ask,) = await citizen.type(code.lower())
    assert [b.key for b in ask.choices()] == [f"MOI {code}", "KHONG"]
    assert f"Gõ MOI {code} để xác nhận" in ask.text
    await citizen.type(f"moi {code}")
    assert citizen.question.choices()[0].data == "consent:yes"
    async with database.reading() as tx:
        survey = await store.find_open_session(tx, citizen_key(citizen))
    assert survey is not None and survey.service_point_code == OTHER_POINT
    assert await count(database, Answer) == 0


async def test_an_invitation_someone_else_holds_is_refused_before_anything_is_asked(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    payload, _ = await mint(database, clock, dossier_ref="000.00.00.H01-261120-0003")
    await person(engine, clock, "2").start(payload)
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    (refused,) = await citizen.start(payload)
    assert "người khác" in refused.text
    async with database.reading() as tx:
        survey = await store.find_open_session(tx, citizen_key(citizen))
    assert survey is not None and survey.current_item == "15"  # untouched


async def test_after_the_thanks_an_old_button_says_the_survey_is_done(
    engine: SurveyEngine, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.complete(COUNTER)
    (done,) = await citizen.press("s:y_kien_khac")
    assert done.text == "Ông/Bà đã hoàn thành khảo sát này. Cảm ơn Ông/Bà!"
    clock.advance(days=3)  # long after: nothing is open, and the way to start is said
    (nothing,) = await citizen.press("s:y_kien_khac")
    assert "chưa có khảo sát nào đang mở" in nothing.text


# --- idempotency and concurrency ---------------------------------------------------------


async def test_the_same_event_delivered_twice_changes_nothing(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    tap = citizen.inbound(InboundKind.CHOICE, "a:respondent_type:citizen", event_id="dup-1")
    assert await engine.handle(tap)
    assert await engine.handle(tap) == []
    assert await answers_of(database) == {"respondent_type": "citizen"}


async def test_asking_for_the_current_step_again_shows_it_and_moves_nothing(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock, channel="web")
    assert [reply.text for reply in await citizen.send(citizen.inbound(InboundKind.SHOW))] == [
        engine.catalog.text("vi", "nothing_open")
    ]
    started = await citizen.start(COUNTER)
    # At the consent question, the notice it refers to comes with it, as when it was first
    # shown: a page shown again has no messages above it.
    assert await citizen.send(citizen.inbound(InboundKind.SHOW)) == started[-2:]
    assert [button.data for row in started[-2].buttons for button in row] == ["privacy:full"]
    await citizen.press("consent:yes")
    step = await citizen.answer("citizen")
    async with database.reading() as tx:
        before = (await tx.scalars(select(SurveySession))).one()
    shown = await citizen.send(citizen.inbound(InboundKind.SHOW))
    assert shown == step
    async with database.reading() as tx:
        after = (await tx.scalars(select(SurveySession))).one()
    assert (after.current_item, after.version, after.last_activity_at) == (
        before.current_item,
        before.version,
        before.last_activity_at,
    )
    assert await answers_of(database) == {"respondent_type": "citizen"}


async def test_two_taps_processed_at_once_record_one_answer(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    first = citizen.inbound(InboundKind.CHOICE, "a:15:5")
    second = citizen.inbound(InboundKind.CHOICE, "a:15:1")
    results = await asyncio.gather(engine.handle(first), engine.handle(second))
    # Whichever the database serialised first is recorded; the other is seen as a stale tap.
    answers = await answers_of(database)
    assert answers["15"] in {"5", "1"}
    assert "16" not in answers
    notices = [replies[0].notice for replies in results]
    assert notices.count("Câu hỏi đó đã qua. Đây là câu hiện tại.") == 1


# --- unexpected input --------------------------------------------------------------------


async def test_text_where_a_choice_is_expected_gets_a_hint_and_the_question_again(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    replies = await citizen.type("tôi thấy ổn")
    assert "bấm một nút bên dưới" in replies[0].text  # Telegram shows no numbers to type
    assert "gõ số" not in replies[0].text
    assert citizen.current_item == "15"
    assert "15" not in await answers_of(database)


async def test_a_typed_number_answers_on_a_text_only_channel(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock, channel="zalo_bot", surface=TEXT_CHAT)
    await citizen.start(COUNTER)
    await citizen.type("1")  # consent: agree
    await citizen.type("1")  # respondent type: citizen
    await citizen.type("5")
    await citizen.type("0")  # skip
    assert await answers_of(database) == {"respondent_type": "citizen", "15": "5", "16": None}


async def test_a_tap_on_an_old_keyboard_gets_a_notice_and_the_current_question(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    await citizen.answer("4")
    replies = await citizen.press("a:15:1")
    assert replies[0].notice and "đã qua" in replies[0].notice
    assert citizen.current_item == "16"
    assert (await answers_of(database))["15"] == "4"


async def test_a_long_comment_is_cut_and_scrubbed(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    while citizen.current_item != "y_kien_khac":
        item = citizen.current_item
        if item and item.isdigit():
            await citizen.answer("4")
        else:
            await citizen.press(
                citizen.question.choices()[0].data if item != "uu_tien" else "a:uu_tien:no"
            )
    comment = "Gọi tôi 0912 345 678 nhé. " + "x" * 2000
    replies = await citizen.type(comment)
    assert "cắt" in replies[0].text
    stored = (await answers_of(database))["y_kien_khac"]
    assert stored is not None and PHONE_MARK in stored and "0912" not in stored
    assert len(stored) <= 1000


# --- invitations -------------------------------------------------------------------------


async def test_a_forged_counter_token_is_refused_and_creates_nothing(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    forged = COUNTER.replace(POINT, OTHER_POINT)
    replies = await person(engine, clock).start(forged)
    assert replies[0].text.startswith("Mã khảo sát không hợp lệ")
    assert await count(database, SurveySession) == 0


@pytest.mark.parametrize("payload", ["c_", "garbage!", "i_", "x" * 64])
async def test_a_malformed_payload_gets_a_clear_message(
    engine: SurveyEngine, database: Database, clock: Clock, payload: str
) -> None:
    replies = await person(engine, clock).start(payload)
    assert replies[0].text.startswith(
        ("Mã khảo sát không đúng", "Không tìm thấy", "Mã khảo sát không hợp lệ")
    )
    assert await count(database, SurveySession) == 0


async def test_a_per_dossier_invitation_is_claimed_by_the_first_respondent_only(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    payload, _ = await mint(database, clock, dossier_ref="000.00.00.H01-261120-0001")
    first, second = person(engine, clock, "1"), person(engine, clock, "2")
    assert (await first.start(payload))[-1].choices()[0].data == "consent:yes"
    refused = await second.start(payload)
    assert "người khác" in refused[0].text
    await first.complete(payload)
    again = await first.start(payload)
    assert "đã được dùng để đánh giá" in again[0].text
    async with database.reading() as tx:
        invitation = (await tx.execute(select(Invitation))).scalar_one()
    assert invitation.completed_at is not None
    assert await count(database, SurveySession) == 1


async def test_an_expired_invitation_is_refused(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    payload, _ = await mint(database, clock)
    clock.advance(hours=73)
    replies = await person(engine, clock).start(payload)
    assert "hết hạn" in replies[0].text
    assert await count(database, SurveySession) == 0


async def test_a_short_code_typed_as_the_first_message_starts_the_survey(
    engine: SurveyEngine, clock: Clock
) -> None:
    _, short_code = await mint(engine.database, clock)
    replies = await person(engine, clock, channel="zalo_oa").type(f"start {short_code.lower()}")
    assert replies[-1].choices()[0].data == "consent:yes"


async def test_a_counter_short_code_starts_a_survey_at_that_counter(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    await person(engine, clock, channel="zalo_oa").type(
        counter_short_code(TEST_SECRET, OTHER_POINT)
    )
    async with database.reading() as tx:
        survey = (await tx.execute(select(SurveySession))).scalar_one()
    assert survey.service_point_code == OTHER_POINT


async def set_active(database: Database, service_point_code: str, active: bool) -> None:
    async with database.transaction() as tx:
        await tx.execute(
            update(ServicePoint)
            .where(ServicePoint.code == service_point_code)
            .values(active=active)
        )


STARTS: dict[str, Callable[[Respondent, str], Awaitable[list[Reply]]]] = {
    "its QR token": lambda citizen, point: citizen.start(counter_payload(TEST_SECRET, point)),
    "its typed short code": lambda citizen, point: citizen.type(
        counter_short_code(TEST_SECRET, point)
    ),
}


@pytest.mark.parametrize("way", STARTS)
async def test_a_closed_counter_says_it_takes_no_surveys_though_its_code_worked_before(
    engine: SurveyEngine, database: Database, clock: Clock, way: str
) -> None:
    opened = await STARTS[way](person(engine, clock, "1001", channel="zalo_oa"), OTHER_POINT)
    assert opened[-1].choices()[0].data == "consent:yes"
    await set_active(database, OTHER_POINT, False)

    replies = await STARTS[way](person(engine, clock, "1002", channel="zalo_oa"), OTHER_POINT)

    assert replies[0].text.startswith("Quầy này hiện không nhận khảo sát")
    assert await count(database, SurveySession) == 1  # only the first respondent's


async def test_a_counter_opened_while_the_service_runs_is_found_by_its_short_code(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    await person(engine, clock, "1001", channel="zalo_oa").type(
        counter_short_code(TEST_SECRET, OTHER_POINT)
    )
    async with database.transaction() as tx:
        tx.add(ServicePoint(code=NEW_POINT, name="Quầy 03", unit_code="00004"))

    replies = await person(engine, clock, "1002", channel="zalo_oa").type(
        counter_short_code(TEST_SECRET, NEW_POINT)
    )

    assert replies[-1].choices()[0].data == "consent:yes"
    async with database.reading() as tx:
        points = await tx.scalars(select(SurveySession.service_point_code))
        assert sorted(str(point) for point in points) == [OTHER_POINT, NEW_POINT]


async def test_each_counters_short_code_is_derived_once_however_many_codes_are_typed(
    engine: SurveyEngine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    derive = invitations.counter_short_code
    derived: list[str] = []

    def counted(secret: str, service_point_code: str) -> str:
        derived.append(service_point_code)
        return derive(secret, service_point_code)

    monkeypatch.setattr(invitations, "counter_short_code", counted)
    typed = [derive(TEST_SECRET, POINT), "ABCD-EFGH", derive(TEST_SECRET, OTHER_POINT)]
    for chat, code in enumerate(typed):
        await person(engine, clock, str(chat), channel="zalo_oa").type(code)

    assert sorted(derived) == [POINT, OTHER_POINT]  # not once per typed code


async def test_a_second_survey_at_the_same_counter_on_the_same_day_is_refused_kindly(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.complete(COUNTER)
    replies = await citizen.start(COUNTER)
    assert "hôm nay" in replies[0].text
    clock.advance(days=1)
    assert (await citizen.start(COUNTER))[-1].choices()[0].data == "consent:yes"


async def test_scanning_another_counter_mid_survey_asks_before_the_answers_go(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.begin(COUNTER)
    await citizen.answer("citizen")
    other = counter_payload(TEST_SECRET, OTHER_POINT)

    (ask,) = await citizen.start(other)
    assert "xoá các câu trả lời dở dang" in ask.text and "XOA" not in ask.text
    assert [b.data for b in ask.choices()] == [f"new:{other}", "resume:go"]
    assert await count(database, Answer) == 1  # nothing gone yet
    await citizen.press("resume:go")
    assert citizen.current_item == "15"  # kept: on with the open survey

    await citizen.start(other)
    replies = await citizen.press(f"new:{other}")
    assert replies[-1].choices()[0].data == "consent:yes"  # the new survey begins
    assert await count(database, Answer) == 0
    async with database.reading() as tx:
        statuses = dict(
            (await tx.execute(select(SurveySession.service_point_code, SurveySession.status)))
            .tuples()
            .all()
        )
    assert statuses == {POINT: "expired", OTHER_POINT: "consent"}


async def test_scanning_a_counter_already_rated_today_keeps_the_unfinished_survey(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock)
    await citizen.complete(counter_payload(TEST_SECRET, OTHER_POINT))
    await citizen.begin(COUNTER)
    await citizen.answer("4")

    replies = await citizen.start(counter_payload(TEST_SECRET, OTHER_POINT))

    assert "hôm nay" in replies[0].text
    assert citizen.current_item == "respondent_type"  # on with the open survey, where it was
    async with database.reading() as tx:
        open_session = await store.find_open_session(tx, citizen_key(citizen))
    assert open_session is not None and open_session.service_point_code == POINT


async def test_an_answer_late_in_the_evening_counts_on_the_local_day(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    clock.now = clock.now.replace(hour=16, minute=20)  # 23:20 in Hà Nội (UTC+7)
    await person(engine, clock).complete(COUNTER)
    async with database.reading() as tx:
        day = (await tx.execute(select(Response.reporting_day))).scalar_one()
    assert str(day) == "2026-11-20"


async def test_every_counter_token_is_accepted_whatever_its_signature_contains(
    engine: SurveyEngine, clock: Clock
) -> None:
    # base64url signatures may contain "_" (the payload separator) and "-".
    codes = [f"HN-{n:05d}-01" for n in range(60)]
    payloads = [counter_payload(TEST_SECRET, code) for code in codes]
    assert any("_" in payload.split("_", 2)[2] for payload in payloads)
    for code, payload in zip(codes, payloads, strict=True):
        assert parse_counter_payload(TEST_SECRET, payload) == code


async def test_delete_by_text_needs_the_code_it_showed_and_never_takes_a_number_as_yes(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    citizen = person(engine, clock, channel="zalo_bot", surface=TEXT_CHAT)
    await citizen.start(COUNTER)
    await citizen.type("1")  # consent
    await citizen.type("1")  # citizen
    replies = await citizen.command(Command.DELETE)
    code = replies[0].choices()[0].key
    assert code.startswith("XOA") and code in replies[0].text
    await citizen.type("1")  # a number answers the current question, it does not delete
    assert (await answers_of(database))["15"] == "1"
    await citizen.type("KHONG")
    assert await count(database, SurveySession) == 1
    replies = await citizen.type(code.lower())
    assert "Đã xoá" in replies[0].text
    assert await count(database, SurveySession) == 0


async def test_a_deletion_code_expires_and_belongs_to_one_respondent(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    owner, other = (
        person(engine, clock, "1", channel="zalo_bot", surface=TEXT_CHAT),
        person(engine, clock, "2", channel="zalo_bot", surface=TEXT_CHAT),
    )
    await owner.complete(COUNTER)
    await other.complete(COUNTER)
    code = (await owner.command(Command.DELETE))[0].choices()[0].key
    await other.type(code)
    assert await count(database, Response) == 2
    clock.advance(minutes=25)
    await owner.type(code)
    assert await count(database, Response) == 2
    fresh = (await owner.command(Command.DELETE))[0].choices()[0].key
    await owner.type(fresh)
    assert await count(database, Response) == 1


async def test_declining_unbinds_the_respondent_and_frees_the_invitation(
    engine: SurveyEngine, database: Database, clock: Clock
) -> None:
    payload, _ = await mint(database, clock, dossier_ref="000.00.00.H01-261120-0002")
    await person(engine, clock, "1").start(payload)
    await person(engine, clock, "1").press("consent:no")
    async with database.reading() as tx:
        invitation = (await tx.execute(select(Invitation))).scalar_one()
        survey = (await tx.execute(select(SurveySession))).scalar_one()
    assert (invitation.claimed_by, survey.respondent_key, survey.status) == (None, "", "declined")
    replies = await person(engine, clock, "2").start(payload)
    assert replies[-1].choices()[0].data == "consent:yes"
