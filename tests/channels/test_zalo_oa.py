"""The Zalo OA channel end to end: signed webhooks in, the real engine, real HTTP to a fake OA API and OAuth server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import func, select

from channels.zalo_oa import (
    CHANNEL,
    TAP_PREFIX,
    RefreshRefused,
    ZaloOAChannel,
    ZaloOAClient,
    ZaloOAConfig,
    ZaloOAError,
    inbound_of,
    oa_messages,
    packed,
)
from channels.zalo_text import ChatQueue
from handlers.events import Button, Reply
from handlers.survey import SurveyEngine
from questionnaires import load_bundled
from storage.credentials import CredentialStore
from storage.db import Database
from storage.invitations import counter_short_code
from storage.models import Answer, ChannelCredential, Response, SurveySession
from tests.anonymity import database_text
from tests.conftest import TEST_SECRET
from tests.fakes.zalo_servers import FakeOAUser, FakeZaloOA
from tests.survey_driver import POINT, add_counters, engine_config
from web.app import create_app
from web.zalo_webhooks import OA_WEBHOOK_PATH, zalo_oa_webhook_router


@pytest.fixture
def zalo() -> Iterator[FakeZaloOA]:
    with FakeZaloOA() as fake:
        yield fake


@dataclass
class Stack:
    """One "process": the engine, the OA channel and the web app in front of it."""

    channel: ZaloOAChannel
    credentials: CredentialStore
    http: httpx.AsyncClient

    async def deliver(self, event: tuple[bytes, dict[str, str]]) -> httpx.Response:
        """POST a signed event to the webhook and wait until the channel has processed it."""
        body, headers = event
        response = await self.http.post(OA_WEBHOOK_PATH, content=body, headers=headers)
        await self.channel.drain()
        return response


def oa_config(zalo: FakeZaloOA, **overrides: object) -> ZaloOAConfig:
    values: dict[str, object] = {
        "app_id": zalo.app_id,
        "app_secret_key": zalo.app_secret_key,
        "oa_secret_key": zalo.oa_secret_key,
        "api_url": zalo.url,
        "oauth_url": zalo.url,
    }
    values.update(overrides)
    return ZaloOAConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
async def stacks(database: Database, zalo: FakeZaloOA) -> AsyncIterator[list[Stack]]:
    """Builds stacks (processes) over the same database; closes them afterwards."""
    await add_counters(database)
    built: list[Stack] = []
    yield built
    for stack in built:
        await stack.http.aclose()
        await stack.channel.close()


async def new_stack(
    database: Database,
    zalo: FakeZaloOA,
    stacks: list[Stack],
    *,
    engine: SurveyEngine | None = None,
    clock: Callable[[], datetime] | None = None,
    **config: object,
) -> Stack:
    engine = engine or SurveyEngine(database, load_bundled(), engine_config())
    credentials = CredentialStore(database, TEST_SECRET, CHANNEL)
    channel = ZaloOAChannel(
        engine,
        database,
        ZaloOAClient(oa_config(zalo, **config)),
        credentials,
        secret=TEST_SECRET,
        clock=clock,
    )
    app = create_app(
        [
            zalo_oa_webhook_router(
                channel.submit, app_id=zalo.app_id, oa_secret_key=zalo.oa_secret_key
            )
        ]
    )
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    stack = Stack(channel, credentials, http)
    stacks.append(stack)
    return stack


async def answer_until_done(stack: Stack, user: FakeOAUser, *, steps: int = 80) -> None:
    """Answer whatever is shown: tap a template's first forward button, else type "4"."""
    for _ in range(steps):
        shown = user.last_message()
        assert shown is not None
        if not shown.buttons and "[" not in shown.text:
            return  # the thank-you
        if shown.buttons:
            forward = [
                title
                for title, payload in shown.buttons
                if not payload.startswith((TAP_PREFIX + "b:", TAP_PREFIX + "lang:"))
            ]
            await stack.deliver(user.tap(forward[0]))
        else:
            await stack.deliver(user.event("4"))
    raise AssertionError("the survey did not end")


# The engine is tested on both backends elsewhere; the tests below run this channel's SQL on both.
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_complete_survey_from_the_counter_short_code(
    database: Database,
    zalo: FakeZaloOA,
    stacks: list[Stack],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    stack = await new_stack(database, zalo, stacks)
    await stack.credentials.set_refresh_token(zalo.issue_refresh_token())
    lan = zalo.user()

    response = await stack.deliver(lan.event(counter_short_code(TEST_SECRET, POINT)))

    assert response.status_code == 200
    consent = lan.last_message()
    assert consent is not None
    assert consent.titles == ["Tôi đồng ý tham gia", "Tôi không đồng ý", "English"]
    assert all(payload.startswith(TAP_PREFIX) for _, payload in consent.buttons)
    await stack.deliver(lan.tap("Tôi đồng ý tham gia"))
    # A template question answered by typing its number instead of tapping.
    assert lan.last_message() is not None and "Người dân" in lan.last_message().titles  # type: ignore[union-attr]
    await stack.deliver(lan.event("1"))
    scale = lan.last_message()
    assert scale is not None and not scale.buttons, "7 choices do not fit a 5-button template"
    assert "[4] Hài lòng" in scale.text and "[0] Không trả lời" in scale.text
    await answer_until_done(stack, lan)

    async with database.reading() as tx:
        responses = (await tx.execute(select(Response))).scalars().all()
    assert [r.channel for r in responses] == [CHANNEL]
    assert zalo.refresh_calls() == 1, "one rotation: the first send had no access token yet"
    assert zalo.send_errors() == []
    assert stack.channel.delivery.failed == 0
    # Each step's replies answered the respondent's message, packed into one message; the
    # first step's privacy notice is a message of its own, with its button.
    assert all(message.free for message in lan.messages())
    assert stack.channel.delivery.proactive == 0
    assert lan.messages()[0].titles == ["Xem toàn văn thông báo"]
    assert len(lan.messages()) == zalo.messages_from(lan) + 1
    stored = await database_text(database)
    assert lan.id not in stored and lan.id not in caplog.text


# The engine is tested on both backends elsewhere; the tests below run this channel's SQL on both.
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_buttons_left_on_screen_answer_for_what_they_are_and_stop_asks_with_buttons(
    database: Database, zalo: FakeZaloOA, stacks: list[Stack]
) -> None:
    # The OA cannot edit a sent message: the buttons of past steps stay on screen.
    stack = await new_stack(database, zalo, stacks)
    await stack.credentials.set_refresh_token(zalo.issue_refresh_token())
    lan = zalo.user()
    await stack.deliver(lan.event(counter_short_code(TEST_SECRET, POINT)))
    await stack.deliver(lan.tap("Tôi đồng ý tham gia"))
    await stack.deliver(lan.tap("Người dân"))
    await stack.deliver(lan.tap("Tôi đồng ý tham gia"))  # the consent's buttons, still there
    shown = lan.last_message()
    assert shown is not None and shown.text.startswith("(Câu hỏi đó đã qua. Đây là câu hiện tại.)")
    assert "[4] Hài lòng" in shown.text  # the current step again

    await stack.deliver(lan.event("/dung"))
    ask = lan.last_message()
    assert ask is not None and ask.titles == ["Dừng và xoá", "Tiếp tục khảo sát"]
    assert "DUNG" not in ask.text  # buttons, no code to type
    await stack.deliver(lan.tap("Tiếp tục khảo sát"))
    await answer_until_done(stack, lan)
    await stack.deliver(lan.tap("Người dân"))  # after the thanks
    done = lan.last_message()
    assert done is not None and done.text == "Ông/Bà đã hoàn thành khảo sát này. Cảm ơn Ông/Bà!"


# The engine is tested on both backends elsewhere; the tests below run this channel's SQL on both.
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_start_word_then_code_starts_too_and_a_photo_gets_a_hint(
    database: Database, zalo: FakeZaloOA, stacks: list[Stack]
) -> None:
    stack = await new_stack(database, zalo, stacks)
    await stack.credentials.set_refresh_token(zalo.issue_refresh_token())
    lan = zalo.user()

    await stack.deliver(lan.event("start " + counter_short_code(TEST_SECRET, POINT).lower()))
    shown = lan.last_message()
    assert shown is not None and "Tôi đồng ý tham gia" in shown.titles
    await stack.deliver(
        zalo.signed_event(lan, "user_send_image", {"msg_id": "m-photo-1", "attachments": []})
    )
    shown = lan.last_message()
    assert shown is not None and "gõ số" in shown.text


# The engine is tested on both backends elsewhere; the tests below run this channel's SQL on both.
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_new_follower_is_welcomed_and_a_redelivered_follow_changes_nothing(
    database: Database, zalo: FakeZaloOA, stacks: list[Stack], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stack = await new_stack(database, zalo, stacks)
    await stack.credentials.set_refresh_token(zalo.issue_refresh_token())
    lan = zalo.user()
    follow = lan.follow()

    first, again = await stack.deliver(follow), await stack.deliver(follow)

    assert (first.status_code, again.status_code) == (200, 200)
    [welcome] = lan.messages()
    assert welcome.text.startswith("Xin chào!") and "8 ký tự" in welcome.text
    assert lan.id not in await database_text(database) and lan.id not in caplog.text


def test_buttons_go_beside_the_question_while_they_fit_then_numbered_text() -> None:
    config = ZaloOAConfig(app_id="a", app_secret_key="s", oa_secret_key="o", max_buttons=3)
    long_label = "Rất " * 40
    fits = Reply("Câu hỏi?", ((Button(long_label, "a:q:1", "1"), Button("Hai", "a:q:2", "2")),))
    too_many = Reply("Câu hỏi?", tuple((Button(f"L{n}", f"a:q:{n}", str(n)),) for n in range(4)))

    [with_buttons] = oa_messages(fits, config)
    [numbered] = oa_messages(too_many, config)

    assert with_buttons["text"] == "Câu hỏi?"
    assert with_buttons["attachment"]["type"] == "template"
    [buttons] = with_buttons["attachment"]["payload"].values()
    assert [len(b["title"]) <= 100 for b in buttons] == [True, True]
    assert buttons[0]["title"].endswith("…")
    assert buttons[1] == {"title": "Hai", "type": "oa.query.hide", "payload": TAP_PREFIX + "a:q:2"}
    assert numbered == {"text": "Câu hỏi?\n\n[0] L0\n[1] L1\n[2] L2\n[3] L3"}


def test_a_long_question_is_split_and_the_buttons_come_last() -> None:
    config = ZaloOAConfig(app_id="a", app_secret_key="s", oa_secret_key="o", max_text=100)
    reply = Reply("Đoạn văn dài. " * 20, ((Button("Có", "a:q:yes", "1"),),))

    messages = oa_messages(reply, config)

    assert all(0 < len(m["text"]) <= 100 for m in messages)
    assert "attachment" in messages[-1] and len(messages) > 2
    assert not any("attachment" in m for m in messages[:-1])


def test_a_notice_is_shown_above_the_question() -> None:
    config = ZaloOAConfig(app_id="a", app_secret_key="s", oa_secret_key="o")
    stale = Reply("Câu 3?", ((Button("Có", "a:q:yes", "1"),),), notice="Câu hỏi đã đổi")

    [question] = oa_messages(stale, config)

    assert question["text"] == "(Câu hỏi đã đổi)\n\nCâu 3?"


async def test_the_fake_refuses_messengers_button_template_as_zalo_does(
    database: Database, zalo: FakeZaloOA, stacks: list[Stack]
) -> None:
    stack = await new_stack(database, zalo, stacks)
    await stack.credentials.set_refresh_token(zalo.issue_refresh_token())
    tokens = await stack.credentials.current(stack.channel.client.exchange, margin=timedelta(0))
    lan = zalo.user()
    buttons = [{"title": "Có", "type": "oa.query.hide", "payload": "sipas:a:q:yes"}]
    messenger = {
        "attachment": {
            "type": "template",
            "payload": {"template_type": "button", "text": "Câu 3?", "buttons": buttons},
        }
    }
    real = {"text": "Câu 3?", "attachment": {"type": "template", "payload": {"buttons": buttons}}}
    assert tokens.access_token is not None

    with pytest.raises(ZaloOAError) as refused:
        await stack.channel.client.send(tokens.access_token, lan.id, messenger)
    await stack.channel.client.send(tokens.access_token, lan.id, real)

    assert refused.value.code == -201
    assert [(m.text, m.titles) for m in lan.messages()] == [("Câu 3?", ["Có"])]


# --- tokens ---------------------------------------------------------------------------------------


async def test_token_refresh_presents_the_apps_secret_key_never_the_oas(zalo: FakeZaloOA) -> None:
    token = zalo.issue_refresh_token()
    with_oa_key = ZaloOAClient(oa_config(zalo, app_secret_key=zalo.oa_secret_key))
    with_app_key = ZaloOAClient(oa_config(zalo))
    try:
        with pytest.raises(RefreshRefused) as refused:
            await with_oa_key.exchange(token)
        assert refused.value.code == -14002 and not zalo.is_spent(token)
        pair = await with_app_key.exchange(token)
    finally:
        await with_oa_key.close()
        await with_app_key.close()

    assert pair.access_token.startswith("at-") and zalo.is_spent(token)


async def test_the_rotated_pair_survives_a_restart(
    database: Database, zalo: FakeZaloOA, stacks: list[Stack]
) -> None:
    first = await new_stack(database, zalo, stacks)
    operator_token = zalo.issue_refresh_token()
    await first.credentials.set_refresh_token(operator_token)
    lan = zalo.user()
    await first.deliver(lan.event("xin chào"))
    assert zalo.is_spent(operator_token) and zalo.refresh_calls() == 1

    # A restart: new objects, the same database; the access token expires meanwhile.
    await first.channel.close()
    zalo.expire_access_tokens()
    second = await new_stack(database, zalo, stacks)
    before = len(lan.messages())
    await second.deliver(lan.event("xin chào lần nữa"))

    assert len(lan.messages()) == before + 1
    assert zalo.refresh_calls() == 2  # with the stored token; a reuse of the old one would fail
    assert zalo.send_errors() == [-220]
    async with database.reading() as tx:
        row = await tx.get(ChannelCredential, CHANNEL)
    assert row is not None and row.version == 3  # set-token, then two rotations
    assert operator_token not in await database_text(database), "tokens are stored encrypted"


async def test_two_processes_refreshing_at_once_spend_the_token_once(
    database: Database, zalo: FakeZaloOA, stacks: list[Stack]
) -> None:
    one = await new_stack(database, zalo, stacks)
    two = await new_stack(database, zalo, stacks)
    await one.credentials.set_refresh_token(zalo.issue_refresh_token())
    zalo.refresh_delay = 0.3  # both ask while the first refresh is in flight
    lan, minh, thu = zalo.user(), zalo.user(), zalo.user()

    results = await asyncio.gather(
        one.channel.send_replies(lan.id, [Reply("Một")]),
        two.channel.send_replies(minh.id, [Reply("Hai")]),
        one.channel.send_replies(thu.id, [Reply("Ba")]),  # the same process, concurrently
    )

    assert list(results) == [True, True, True]
    assert zalo.refresh_calls() == 1
    assert zalo.send_errors() == []
    seen_by_one, seen_by_two = await one.credentials.load(), await two.credentials.load()
    assert seen_by_one is not None and seen_by_two is not None
    assert seen_by_one.access_token == seen_by_two.access_token
    assert seen_by_one.version == 2
    assert [m.text for m in lan.messages() + minh.messages() + thu.messages()] == [
        "Một",
        "Hai",
        "Ba",
    ]


async def test_an_expired_access_token_is_refreshed_and_the_send_retried_once(
    database: Database, zalo: FakeZaloOA, stacks: list[Stack]
) -> None:
    stack = await new_stack(database, zalo, stacks)
    await stack.credentials.set_refresh_token(zalo.issue_refresh_token())
    lan = zalo.user()
    assert await stack.channel.send_replies(lan.id, [Reply("Một")])
    zalo.expire_access_tokens()

    delivered = await stack.channel.send_replies(lan.id, [Reply("Hai")])

    assert delivered
    assert [m.text for m in lan.messages()] == ["Một", "Hai"]
    assert zalo.send_errors() == [-220]
    assert zalo.refresh_calls() == 2


async def test_a_refused_refresh_token_loses_no_answer_and_says_what_to_do(
    database: Database,
    zalo: FakeZaloOA,
    stacks: list[Stack],
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack = await new_stack(database, zalo, stacks)
    await stack.credentials.set_refresh_token("rt-never-issued")
    lan = zalo.user()

    await stack.deliver(lan.event(counter_short_code(TEST_SECRET, POINT)))

    assert lan.messages() == []
    assert stack.channel.delivery.failed == 1
    assert "-14014" in caplog.text
    async with database.reading() as tx:
        sessions = (await tx.execute(select(func.count()).select_from(SurveySession))).scalar()
    assert sessions == 1, "the engine committed the start; the respondent can type again"


# --- the messaging window -------------------------------------------------------------------------


# -230 no interaction for 7 days, -232 the window expired, -213, -227, -244 kinds of the same.
@pytest.mark.parametrize("error", [-230, -232, -213, -227, -244])
async def test_a_user_out_of_reach_marks_the_session_unreachable_and_keeps_answers(
    database: Database, zalo: FakeZaloOA, stacks: list[Stack], error: int
) -> None:
    stack = await new_stack(database, zalo, stacks)
    await stack.credentials.set_refresh_token(zalo.issue_refresh_token())
    lan = zalo.user()
    await stack.deliver(lan.event(counter_short_code(TEST_SECRET, POINT)))
    await stack.deliver(lan.tap("Tôi đồng ý tham gia"))
    zalo.refuse(lan, error)
    shown_before = len(lan.messages())

    await stack.deliver(lan.event("1"))  # "Người dân": the engine stores it; the reply bounces
    sends = len(zalo.calls)
    reminded = await stack.channel.send_reminder(lan.id, [Reply("Ông/Bà còn câu hỏi dở.")])

    assert len(lan.messages()) == shown_before
    assert zalo.send_errors() == [error]
    assert not reminded and len(zalo.calls) == sends, "no reminder is tried after that"
    async with database.reading() as tx:
        survey = (await tx.execute(select(SurveySession))).scalar_one()
        answers = (await tx.execute(select(Answer.item_code, Answer.value))).tuples().all()
    assert survey.unreachable_at is not None and survey.status == "active"
    assert answers == [("respondent_type", "citizen")]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.parametrize("error", [-211, -218])
async def test_a_used_up_quota_is_not_retried_and_the_log_says_so(
    database: Database,
    zalo: FakeZaloOA,
    stacks: list[Stack],
    caplog: pytest.LogCaptureFixture,
    error: int,
) -> None:
    stack = await new_stack(database, zalo, stacks)
    await stack.credentials.set_refresh_token(zalo.issue_refresh_token())
    lan = zalo.user()
    zalo.refuse(lan, error)

    await stack.deliver(lan.event(counter_short_code(TEST_SECRET, POINT)))

    assert zalo.send_errors() == [error], "one attempt: neither retried nor taken for a token"
    assert zalo.refresh_calls() == 1
    assert stack.channel.delivery.errors == [error]
    assert f"message quota is used up (error {error})" in caplog.text
    assert "not retried" in caplog.text
    async with database.reading() as tx:
        survey = (await tx.execute(select(SurveySession))).scalar_one()
    assert survey.unreachable_at is None


def test_replies_are_packed_into_as_few_messages_as_fit() -> None:
    buttons = {"type": "template", "payload": {"buttons": []}}
    messages: list[dict[str, object]] = [
        {"text": "Cảm ơn."},
        {"text": "Đã lưu."},
        {"text": "Câu 2?", "attachment": buttons},
        {"text": "Câu 3 rất là dài, không vừa cùng câu khác."},
        {"text": "Sau."},
    ]

    assert packed(messages, 40) == [
        {"text": "Cảm ơn.\n\nĐã lưu.\n\nCâu 2?", "attachment": buttons},
        {"text": "Câu 3 rất là dài, không vừa cùng câu khác."},
        {"text": "Sau."},
    ]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_messages_beyond_a_messages_free_replies_go_proactive_with_a_warning(
    database: Database, zalo: FakeZaloOA, stacks: list[Stack], caplog: pytest.LogCaptureFixture
) -> None:
    stack = await new_stack(database, zalo, stacks, max_text=20)
    await stack.credentials.set_refresh_token(zalo.issue_refresh_token())
    lan = zalo.user()
    lan.event("xin chào", msg_id="m-hello")  # what Zalo posted; the replies name it
    too_many = [Reply(f"Đoạn thứ {n}, khá dài") for n in range(10)]

    assert await stack.channel.send_replies(lan.id, too_many, answering="m-hello")

    assert [message.free for message in lan.messages()] == [True] * 8 + [False] * 2
    assert stack.channel.delivery.proactive == 2
    assert "10 messages answer one message, which has 8 free replies" in caplog.text


async def test_reminders_respect_the_48_hour_window(
    database: Database, zalo: FakeZaloOA, stacks: list[Stack]
) -> None:
    started = datetime.now(UTC)
    engine = SurveyEngine(
        database,
        load_bundled(),
        engine_config(reminder_after=timedelta(hours=1), resume_window=timedelta(days=7)),
    )
    now = [started]
    stack = await new_stack(database, zalo, stacks, engine=engine, clock=lambda: now[0])
    await stack.credentials.set_refresh_token(zalo.issue_refresh_token())
    lan, minh = zalo.user(), zalo.user()
    await stack.deliver(lan.event(counter_short_code(TEST_SECRET, POINT)))
    await stack.deliver(lan.tap("Tôi đồng ý tham gia"))

    # Two hours on: within the window, the reminder goes out.
    now[0] = started + timedelta(hours=2)
    [first] = await engine.due_reminders(now[0])
    shown = len(lan.messages())
    assert await stack.channel.send_reminder(first.address, first.replies)
    assert len(lan.messages()) > shown

    await stack.deliver(minh.event(counter_short_code(TEST_SECRET, POINT)))
    await stack.deliver(minh.tap("Tôi đồng ý tham gia"))  # at hour 2 by the channel's clock

    # 49 hours after minh's last message: still owed by the engine (7-day resume
    # window), but Zalo's 48-hour window is closed, so it is not attempted.
    now[0] = started + timedelta(hours=2 + 49)
    sends = len(zalo.calls)
    late = [r for r in await engine.due_reminders(now[0]) if r.channel == CHANNEL]
    for reminder in late:
        assert not await stack.channel.send_reminder(reminder.address, reminder.replies)
    assert [r.address for r in late] == [minh.id]
    assert len(zalo.calls) == sends
    assert stack.channel.delivery.reminders_skipped == 1


async def test_a_reminder_is_a_free_reply_to_the_last_message_even_from_another_process(
    database: Database, zalo: FakeZaloOA, stacks: list[Stack]
) -> None:
    one = await new_stack(database, zalo, stacks)
    other = await new_stack(database, zalo, stacks, max_text=30)  # the maintenance worker
    await one.credentials.set_refresh_token(zalo.issue_refresh_token())
    lan, stranger = zalo.user(), zalo.user()
    await one.deliver(lan.event(counter_short_code(TEST_SECRET, POINT)))
    await one.deliver(lan.tap("Tôi đồng ý tham gia"))  # answered by 1 of its 8 free replies
    question = Reply("Câu 2?", ((Button("Người dân", "a:q:1", "1"),),))
    before = len(lan.messages())

    sent = await other.channel.send_reminder(lan.id, [Reply("Còn dở."), question])
    # Six replies of that message are left: seven messages that cannot be packed are not sent.
    too_long = [Reply(f"Nhắc lần {n}: còn dở nhé") for n in range(7)]
    not_free = await other.channel.send_reminder(lan.id, too_long)
    never_wrote = await other.channel.send_reminder(stranger.id, [Reply("Còn dở.")])

    assert sent and not not_free and not never_wrote
    [reminder] = lan.messages()[before:]
    assert reminder.free and reminder.text == "Còn dở.\n\nCâu 2?"
    assert stranger.messages() == []
    assert other.channel.delivery.reminders_skipped == 2


# --- the CLI and the wiring for `sipas serve` ----------------------------------------------------


def test_set_token_check_and_status_show_the_state_never_the_token(
    zalo: FakeZaloOA, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    monkeypatch.setenv("SIPAS_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIPAS_ZALO_OA_APP_ID", zalo.app_id)
    monkeypatch.setenv("SIPAS_ZALO_OA_SECRET_KEY", zalo.oa_secret_key)
    monkeypatch.setenv("SIPAS_ZALO_APP_SECRET_KEY", zalo.app_secret_key)
    monkeypatch.setenv("SIPAS_ZALO_OA_API_URL", zalo.url)
    monkeypatch.setenv("SIPAS_ZALO_OAUTH_URL", zalo.url)
    runner = CliRunner()
    token = zalo.issue_refresh_token()

    before = runner.invoke(cli, ["zalo", "status"])
    stored = runner.invoke(cli, ["zalo", "set-token", "--check"], input=token + "\n")
    after = runner.invoke(cli, ["zalo", "status"])
    refused = runner.invoke(cli, ["zalo", "set-token", token, "--check"])  # spent by the check

    assert "none stored" in before.output
    assert stored.exit_code == 0, stored.output
    assert "stored (version 1)" in stored.output and "Checked: access token valid" in stored.output
    assert "Zalo OA:  configured" in after.output and "version 2" in after.output
    assert "valid until" in after.output
    assert refused.exit_code == 1 and "-14014" in refused.output
    assert token not in stored.output + after.output + refused.output
    assert zalo.refresh_calls() == 2


VERIFICATION_PAGE = "zalo_verifierQ2cZ8.html"


async def zalo_statuses(router: APIRouter) -> dict[str, int]:
    """What an unsigned POST gets on each Zalo webhook (the OA's answers 200, the bot's 403, where
    they are on; 404 where not), and a GET of the domain-verification page."""
    transport = httpx.ASGITransport(app=create_app([router]))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        statuses = {
            path: (await http.post(path, content=b"{}")).status_code
            for path in ("/webhooks/zalo-oa", "/webhooks/zalo-bot")
        }
        statuses["/" + VERIFICATION_PAGE] = (await http.get("/" + VERIFICATION_PAGE)).status_code
        return statuses


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_serve_wiring_builds_the_routes_from_the_settings(
    database: Database, zalo: FakeZaloOA, tmp_path: Path
) -> None:
    from bot.commands.zalo import ZaloChannels
    from bot.settings import Settings

    (tmp_path / VERIFICATION_PAGE).write_text("<html></html>")
    engine = SurveyEngine(database, load_bundled(), engine_config())
    settings = Settings(
        secret_key=TEST_SECRET,
        zalo_oa_app_id=zalo.app_id,
        zalo_oa_secret_key=zalo.oa_secret_key,
        zalo_app_secret_key=zalo.app_secret_key,
        zalo_bot_token="1:abc",
        zalo_bot_webhook_secret="bot-webhook-secret",
        public_url="https://survey.example.gov.vn",
        zalo_domain_verification_file=tmp_path / VERIFICATION_PAGE,
    )
    without_public_url = settings.model_copy(
        update={"public_url": None, "zalo_domain_verification_file": None}
    )

    channels = ZaloChannels.build(settings, database, engine)
    polling = ZaloChannels.build(without_public_url, database, engine)
    try:
        statuses = await zalo_statuses(channels.router())
        polling_statuses = await zalo_statuses(polling.router())
    finally:
        for built in (channels, polling):
            assert built.oa is not None and built.bot is not None
            await built.oa.close()
            await built.bot.close()

    assert statuses == {
        "/webhooks/zalo-oa": 200,
        "/webhooks/zalo-bot": 403,
        "/" + VERIFICATION_PAGE: 200,
    }
    assert polling_statuses == {
        "/webhooks/zalo-oa": 200,
        "/webhooks/zalo-bot": 404,
        "/" + VERIFICATION_PAGE: 404,
    }


# --- translation and ordering ---------------------------------------------------------------------


def test_events_become_inbound_events() -> None:
    def event(name: str, text: str | None = None) -> dict[str, object]:
        body: dict[str, object] = {
            "event_name": name,
            "sender": {"id": "8411"},
            "timestamp": "1700000000000",
        }
        if text is not None:
            body["message"] = {"msg_id": "m9", "text": text}
        return body

    followed = {
        "oa_id": "579745863508352884",
        "follower": {"id": "8411"},
        "user_id_by_app": "5500008411",
        "event_name": "follow",
        "source": "oa_profile",
        "timestamp": "1700000000000",
    }

    typed = inbound_of(event("user_send_text", "4"), TEST_SECRET)
    tapped = inbound_of(event("user_send_text", TAP_PREFIX + "a:q1:4"), TEST_SECRET)
    command = inbound_of(event("user_send_text", "/HELP"), TEST_SECRET)
    follow = inbound_of(followed, TEST_SECRET)

    assert typed is not None and (typed.kind, typed.payload, typed.chat) == ("text", "4", "8411")
    assert typed.event_id == "m9"
    assert tapped is not None and (tapped.kind, tapped.payload) == ("choice", "a:q1:4")
    assert command is not None and (command.kind, command.payload) == ("command", "help")
    assert follow is not None and (follow.kind, follow.chat) == ("start", "8411")
    assert "8411" not in follow.event_id
    assert inbound_of(event("follow"), TEST_SECRET) is None, "a follow has no sender"
    assert inbound_of(event("user_seen_message"), TEST_SECRET) is None
    assert inbound_of({"event_name": "user_send_text", "message": {}}, TEST_SECRET) is None


async def test_one_chats_events_are_processed_in_arrival_order() -> None:
    queue = ChatQueue()
    done: list[str] = []

    def job(name: str, delay: float) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await asyncio.sleep(delay)
            if name == "boom":
                raise RuntimeError("one failed event does not block the chat")
            done.append(name)

        return run

    queue.submit("a", job("a1", 0.05))
    queue.submit("a", job("boom", 0))
    queue.submit("a", job("a2", 0))
    queue.submit("b", job("b1", 0))
    await queue.drain()

    assert done == ["b1", "a1", "a2"]
